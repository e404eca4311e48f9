"""Fixtures for report, leaderboard and gate tests: real run directories built by the engine.

``make_run`` runs a tiny scenario with the simulated adapter (planted answer rates per group)
through :func:`harness.evaluate.run_scenario`, which writes run.json, samples.jsonl and
metrics.json exactly as a real run does. ``write_run`` writes a run directory by hand, for
exact CI boundary cases.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from harness.adapters.simulated import SimulatedAdapter, SimulatedParams
from harness.config import HarnessSettings
from harness.evaluate import ScenarioRun, run_scenario
from harness.scenario import Scenario, ScenarioContext, ScenarioParams
from harness.store import RunDirectory
from harness.types import (
    SCHEMA_VERSION,
    GenerationParams,
    Instance,
    MetricSpec,
    MetricValue,
    Request,
    ScorerIdentity,
    stable_hash,
)

XSS_OUTPUT = '<script>window.__xss = 1</script><img src=x onerror="window.__xss = 2">yes'
XSS_METADATA = '<img src=y onerror="window.__xss = 3">'


@dataclass
class ToyParams(ScenarioParams):
    """Parameters of the toy scenario."""

    name: str = "toy"
    n: int = 60
    scorer_version: str = "1"


class ToyScenario(Scenario):
    """Yes/no questions in two groups; ``correct`` is 1 when the answer starts with 'yes'."""

    name = "toy"
    version = "1"
    Params = ToyParams

    def instances(self) -> Iterable[Instance]:
        for i in range(self.params.n):
            group = "a" if i % 2 == 0 else "b"
            note = XSS_METADATA if i == 1 else "plain"
            yield Instance(
                id=f"q{i:03d}",
                input=f"Question {i} (group {group}): answer yes or no.",
                references=["yes"],
                metadata={"group": group, "note": note},
            )

    def requests(self, instance: Instance) -> list[Request]:
        return [Request("generate", instance.input, GenerationParams(max_new_tokens=8, temperature=1.0))]

    def score(self, instance: Instance, outputs: Any) -> dict[str, Any]:
        text = outputs[0].texts[0]
        return {"correct": float(text.strip().endswith("yes")), "length": float(len(text))}

    def metrics(self) -> list[MetricSpec]:
        return [
            MetricSpec(
                "accuracy", "share of yes answers", "higher_is_better", value="correct", group_by=("group",)
            ),
            MetricSpec("length", "answer length", "lower_is_better", unit="characters", value="length"),
        ]

    def aggregate(self, frame: pd.DataFrame) -> list[MetricValue]:
        values = super().aggregate(frame)
        by_name = {spec.name: spec.value for spec in self.metrics()}
        for value in values:
            value.extra.setdefault("value", by_name[value.name])
        return values

    def scorers(self) -> list[ScorerIdentity]:
        return [ScorerIdentity("exact_match", self.params.scorer_version)]


def toy_rules(p_a: float, p_b: float, xss: bool) -> list[dict[str, Any]]:
    """Simulated-model rules: 'yes' with probability p_a in group a and p_b in group b."""
    rules = [{"match": r"^Question 3 ", "outputs": {XSS_OUTPUT: 1.0}}] if xss else []
    rules += [
        {"match": r"group a", "outputs": {"yes": p_a, "no": 1.0 - p_a}},
        {"match": r"group b", "outputs": {"yes": p_b, "no": 1.0 - p_b}},
    ]
    return rules


RunFactory = Callable[..., Path]


@pytest.fixture
def make_run(tmp_path: Path) -> RunFactory:
    """Build a real run directory: ``make_run("a", p_a=0.9, p_b=0.5, model="m1", seed=0, ...)``."""

    def factory(
        name: str,
        *,
        p_a: float = 0.8,
        p_b: float = 0.6,
        model: str = "model-a",
        seed: int = 0,
        n: int = 60,
        xss: bool = False,
        error_rate: float = 0.0,
        scorer_version: str = "1",
        root: Path | None = None,
    ) -> Path:
        run_dir = (root or tmp_path) / name
        settings = HarnessSettings(seed=seed, progress=False, bootstrap_resamples=500)
        adapter = SimulatedAdapter(
            SimulatedParams(name=model, rules=toy_rules(p_a, p_b, xss), error_rate=error_rate)
        )
        context = ScenarioContext(
            seed=seed, model_info=adapter.info(), run_dir=run_dir, bootstrap_resamples=500
        )
        scenario = ToyScenario(ToyParams(n=n, scorer_version=scorer_version), context)
        run_scenario(ScenarioRun(scenario, adapter, run_dir, {"seed": seed, "model": model}, settings), None)
        return run_dir

    return factory


@pytest.fixture
def write_run(tmp_path: Path) -> Callable[..., Path]:
    """Write a run directory by hand: ``write_run("r", metrics=[...], samples=[...], model="m")``."""

    def factory(
        name: str,
        *,
        metrics: list[dict[str, Any]],
        samples: list[dict[str, Any]] | None = None,
        model: str = "cand",
        scenario: str = "toy",
        dataset_fingerprint: str = "d" * 64,
        scorers: list[dict[str, Any]] | None = None,
    ) -> Path:
        run_dir = tmp_path / name
        store = RunDirectory(run_dir)
        records = samples or []
        store.append_samples(records)
        n_errors = sum(1 for r in records if r.get("error"))
        store.write_metrics(
            {
                "scenario": scenario,
                "protocol": None,
                "n_instances": len(records),
                "n_errors": n_errors,
                "metrics": [
                    {"ci_method": "cluster_bootstrap", "unit": "proportion", "group": None, "extra": {}, **m}
                    for m in metrics
                ],
            }
        )
        store.write_manifest(
            {
                "schema_version": SCHEMA_VERSION,
                "scenario": {"name": scenario, "version": "1", "params": {}, "protocol": None},
                "model": {
                    "adapter": "simulated",
                    "model_id": model,
                    "weights_hash": stable_hash(model),
                    "extra": {},
                },
                "dataset_fingerprint": dataset_fingerprint,
                "template_hash": "t" * 64,
                "scorers": scorers if scorers is not None else [{"name": "exact_match", "version": "1"}],
                "seed": 0,
                "decoding": [{"kind": "generate", "temperature": 0.0, "n": 1}],
                "status": "completed",
            }
        )
        return run_dir

    return factory
