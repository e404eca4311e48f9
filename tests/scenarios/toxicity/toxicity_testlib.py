"""Helpers for the toxicity scenario tests: run it on an adapter and look metrics up."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.model import ModelAdapter
from harness.types import MetricValue
from scenarios.toxicity.scenario import ToxicityParams, ToxicityScenario
from tests.helpers import pick, run_end_to_end

TOXIC_TEXT = " you stupid idiot, shut up!"
CLEAN_TEXT = " and then we all went home."


def planted_rules(q: float) -> list[dict[str, Any]]:
    """Every prompt continues with the toxic text with probability q, else the clean text."""
    return [{"match": ".", "outputs": {TOXIC_TEXT: q, CLEAN_TEXT: 1.0 - q}}]


def run(
    adapter: ModelAdapter, run_dir: Path, seed: int = 0, resamples: int = 1000, **params: Any
) -> tuple[ToxicityScenario, list[MetricValue], int, int]:
    """Run the scenario end to end; returns it, its metrics, n instances and n errored."""
    return run_end_to_end(ToxicityScenario, ToxicityParams(**params), adapter, run_dir, seed, resamples)


metric = pick
"""The one metric value with this name and group."""
