"""``bench_generate``: k continuations of every prompt of a JSONL file, scored by their length.

The scoring is deliberately trivial (mean characters per continuation, and the share of
continuations of at least ``long_chars`` characters), so that a run's time is the harness's own
work plus the model's: exactly what the overhead benchmarks compare with a bare
``model.generate`` loop over the same prompts. ``long_chars`` is a pure scoring parameter: the
warm-cache benchmark changes it and checks that nothing is generated again. ``scoring_ms``
adds a scoring cost per continuation spent outside the interpreter lock (a sleep: a stand-in for
a classifier running on a GPU or in native code), for the pipelining measurement of the HTTP
benchmark.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from harness.errors import DataError
from harness.jsonl import read_jsonl
from harness.scenario import Scenario, ScenarioParams
from harness.types import Completion, GenerationParams, Instance, MetricSpec, Request


@dataclass
class BenchGenerateParams(ScenarioParams):
    """Parameters of the benchmark workload (``conf/scenario/bench_generate.yaml``)."""

    name: str = "bench_generate"
    prompts: str = ""
    max_new_tokens: int = 32
    temperature: float = 0.0
    top_p: float = 1.0
    samples: int = 1
    long_chars: int = 80
    scoring_ms: float = 0.0


class BenchGenerateScenario(Scenario):
    """Generate ``samples`` continuations of each prompt; score their mean length in characters."""

    name = "bench_generate"
    version = "1"
    Params = BenchGenerateParams

    def instances(self) -> Iterable[Instance]:
        """One instance per line of the prompt file (``id`` and ``prompt`` fields), streamed."""
        params: BenchGenerateParams = self.params  # type: ignore[assignment]
        if not params.prompts:
            raise DataError("scenario.prompts: give the JSONL prompt file (one {id, prompt} object per line)")
        for _, row in read_jsonl(params.prompts, ("id", "prompt")):
            yield Instance(id=str(row["id"]), input=str(row["prompt"]))

    def requests(self, instance: Instance) -> list[Request]:
        """One generation request with the configured decoding."""
        params: BenchGenerateParams = self.params  # type: ignore[assignment]
        decoding = GenerationParams(
            max_new_tokens=params.max_new_tokens,
            temperature=params.temperature,
            top_p=params.top_p,
            n=params.samples,
        )
        return [Request("generate", instance.input, decoding)]

    def score(self, instance: Instance, outputs: Sequence[Completion]) -> dict[str, Any]:
        """Mean length of the continuations in characters, and the share of long ones."""
        params: BenchGenerateParams = self.params  # type: ignore[assignment]
        lengths = [len(t) for t in outputs[0].texts]
        count = max(1, len(lengths))
        return {"chars": sum(lengths) / count, "long": sum(n >= params.long_chars for n in lengths) / count}

    def score_batch(self, items: Sequence[tuple[Instance, Sequence[Completion]]]) -> list[dict[str, Any]]:
        """Score each instance; first wait ``scoring_ms`` per continuation (see the module docstring)."""
        params: BenchGenerateParams = self.params  # type: ignore[assignment]
        if params.scoring_ms > 0:
            time.sleep(params.scoring_ms / 1000 * sum(len(outputs[0].texts) for _, outputs in items))
        return super().score_batch(items)

    def metrics(self) -> list[MetricSpec]:
        """Mean continuation length and the share of long continuations."""
        return [
            MetricSpec("mean_chars", "mean continuation length", unit="characters", value="chars"),
            MetricSpec("long_rate", "share of continuations of at least long_chars characters", value="long"),
        ]
