"""A new model provider in one small module: a 'model' that evaluates additions it is asked."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from harness.model import AdapterParams, ModelAdapter, ProgressCallback
from harness.types import Capability, Completion, ModelInfo, Request, prompt_text


@dataclass
class CalculatorParams(AdapterParams):
    """``wrong_every``: answer every n-th question wrongly (0 = never), to plant an error rate."""

    name: str = "calculator"
    wrong_every: int = 0


class CalculatorAdapter(ModelAdapter):
    """Answers "What is a + b?" prompts; anything else gets "I don't know"."""

    Params = CalculatorParams

    def capabilities(self) -> frozenset[Capability]:
        """Generation only."""
        return frozenset({Capability.GENERATE})

    def info(self) -> ModelInfo:
        """Provenance of the calculator."""
        return ModelInfo(
            adapter="demo_calculator", model_id=self.params.name, revision=str(self.params.wrong_every)
        )

    def generate(
        self, requests: Sequence[Request], seed: int, progress: ProgressCallback | None = None
    ) -> list[Completion]:
        """One answer per requested sample."""
        results = []
        for request in requests:
            match = re.search(r"(\d+) \+ (\d+)", prompt_text(request.prompt))
            if match is None:
                answer = "I don't know"
            else:
                a, b = int(match.group(1)), int(match.group(2))
                wrong = self.params.wrong_every and (a + b) % self.params.wrong_every == 0
                answer = str(a + b + (1 if wrong else 0))
            results.append(Completion(texts=[answer] * request.params.n))
        if progress:
            progress(len(requests))
        return results
