"""A tiny scenario: two-number additions, scored by exact match."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from harness.scenario import Scenario, ScenarioParams
from harness.types import Completion, GenerationParams, Instance, MetricSpec, Request


@dataclass
class ArithmeticParams(ScenarioParams):
    """How many additions to ask and how large the numbers get."""

    name: str = "demo_arithmetic"
    n_questions: int = 30
    max_operand: int = 50


class ArithmeticScenario(Scenario):
    """Asks "What is a + b?" and scores whether the answer starts with the right number."""

    name = "demo_arithmetic"
    version = "1.0"
    Params = ArithmeticParams

    def instances(self) -> Iterable[Instance]:
        """Deterministic additions; the operand size is the slicing key."""
        params: ArithmeticParams = self.params
        for index in range(params.n_questions):
            a = (index * 7) % params.max_operand
            b = (index * 13) % params.max_operand
            size = "small" if a + b < params.max_operand else "large"
            yield Instance(
                id=f"q{index}", input=f"What is {a} + {b}?", references=[str(a + b)], metadata={"size": size}
            )

    def requests(self, instance: Instance) -> list[Request]:
        """One greedy generation."""
        return [Request("generate", instance.input, GenerationParams(max_new_tokens=8))]

    def score(self, instance: Instance, outputs: Sequence[Completion]) -> dict[str, Any]:
        """1.0 when the answer starts with the reference number."""
        answer = outputs[0].texts[0].strip()
        return {"correct": float(answer.split(" ")[0] == instance.references[0])}

    def metrics(self) -> list[MetricSpec]:
        """Accuracy overall and per operand size."""
        return [
            MetricSpec(
                "accuracy", "share of exact answers", "higher_is_better", value="correct", group_by=("size",)
            )
        ]
