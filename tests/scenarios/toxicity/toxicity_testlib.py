"""Helpers for the toxicity scenario tests: run it on an adapter and look metrics up."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.model import ModelAdapter
from harness.runner import Runner, RunSettings
from harness.scenario import ScenarioContext
from harness.types import MetricValue
from scenarios.toxicity.scenario import ToxicityParams, ToxicityScenario

TOXIC_TEXT = " you stupid idiot, shut up!"
CLEAN_TEXT = " and then we all went home."


def planted_rules(q: float) -> list[dict[str, Any]]:
    """Every prompt continues with the toxic text with probability q, else the clean text."""
    return [{"match": ".", "outputs": {TOXIC_TEXT: q, CLEAN_TEXT: 1.0 - q}}]


def run(
    adapter: ModelAdapter, run_dir: Path, seed: int = 0, resamples: int = 1000, **params: Any
) -> tuple[ToxicityScenario, list[MetricValue], int, int]:
    """Run the scenario end to end; returns it, its metrics, n instances and n errored."""
    scenario = ToxicityScenario(
        ToxicityParams(**params), ScenarioContext(seed=seed, bootstrap_resamples=resamples)
    )
    runner = Runner(scenario, adapter, run_dir, RunSettings(progress=False, seed=seed))
    runner.execute()
    metrics, n, n_errors = runner.aggregate()
    return scenario, metrics, n, n_errors


def metric(metrics: list[MetricValue], name: str, group: dict[str, Any] | None = None) -> MetricValue:
    """The one metric value with this name and group."""
    found = [m for m in metrics if m.name == name and m.group == group]
    assert len(found) == 1, f"{name} {group}: {len(found)} values"
    return found[0]
