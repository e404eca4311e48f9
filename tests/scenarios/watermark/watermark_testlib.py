"""Helpers for the watermark scenario tests: run it on an adapter and look metrics up."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.model import ModelAdapter
from harness.runner import Runner, RunSettings
from harness.scenario import ScenarioContext
from harness.types import MetricValue
from scenarios.watermark.scenario import WatermarkParams, WatermarkScenario


def run(
    adapter: ModelAdapter, run_dir: Path, resamples: int = 500, **params: Any
) -> tuple[WatermarkScenario, dict[str, MetricValue], int, int]:
    """Run the scenario end to end; returns it, its metrics by name, n instances and n errored."""
    context = ScenarioContext(bootstrap_resamples=resamples, model_info=adapter.info())
    scenario = WatermarkScenario(WatermarkParams(**params), context)
    runner = Runner(scenario, adapter, run_dir, RunSettings(progress=False))
    runner.execute()
    metrics, n, n_errors = runner.aggregate()
    return scenario, {m.name: m for m in metrics}, n, n_errors
