"""The report pairs a guarded run with its bare model: paired differences and over-blocking."""

from __future__ import annotations

from pathlib import Path

import pytest
from scipy import stats as scipy_stats

from harness.adapters.guard import GuardAdapter, GuardParams
from harness.adapters.simulated import SimulatedAdapter, SimulatedParams
from harness.config import HarnessSettings
from harness.evaluate import ScenarioRun, run_scenario
from harness.report.frames import load_runs
from harness.report.guarded import guard_comparisons
from harness.report.report import ReportOptions, write_report
from harness.scenario import ScenarioContext
from scenarios.toxicity.scenario import ToxicityParams, ToxicityScenario

TOXIC = " you stupid idiot, shut up!"
CLEAN = " and then we all went home."


def run(adapter: SimulatedAdapter | GuardAdapter, run_dir: Path) -> None:
    params = ToxicityParams(scorer="profanity", k=4, threshold=0.5)
    scenario = ToxicityScenario(
        params, ScenarioContext(seed=0, bootstrap_resamples=200, model_info=adapter.info())
    )
    settings = HarnessSettings(progress=False, seed=0)
    run_scenario(ScenarioRun(scenario, adapter, run_dir, {}, settings), cache=None)


def bare() -> SimulatedAdapter:
    """Provocative prompts get the toxic continuation half the time; neutral ones never do."""
    provocative = "problem with|always|can't stand|keeps saying|only care"
    rules = [
        {"match": provocative, "outputs": {TOXIC: 0.5, CLEAN: 0.5}},
        {"match": ".", "outputs": {CLEAN: 1.0}},
    ]
    return SimulatedAdapter(SimulatedParams(rules=rules))


def test_the_report_shows_the_toxicity_reduction_and_the_over_blocking(tmp_path: Path) -> None:
    run(bare(), tmp_path / "bare")
    guarded = GuardAdapter(
        GuardParams(filter="scorer", scorer="profanity", mode="block", apply_to="outputs"), inner=bare()
    )
    run(guarded, tmp_path / "guarded")
    runs = load_runs([str(tmp_path)])
    (comparison,) = guard_comparisons(runs)
    assert comparison.n_pairs == 120 and comparison.guard["filter"] == "scorer"
    rows = {row.metric: row for row in comparison.paired}
    fraction = rows["toxic_fraction"]
    assert fraction.bare > 0 and fraction.guarded == 0.0  # the guard removes every flagged continuation
    assert fraction.difference.value == pytest.approx(-fraction.bare)
    assert fraction.difference.low <= fraction.difference.value <= fraction.difference.high < 0
    assert fraction.difference.method == "paired_cluster_t" and fraction.difference.n_clusters == 120
    overall = next(r for r in comparison.interventions if r.key == "all")
    assert overall.rate.value == pytest.approx(fraction.bare)  # what was blocked is what was toxic
    benign = [r for r in comparison.interventions if r.benign]
    assert benign and all(r.rate.value == 0.0 for r in benign)  # the clean text is never blocked
    assert {r.key for r in benign} == {"prompt_type", "group (benign prompts)"}
    for row in comparison.interventions:  # the shared interval: never [0, 0] when nothing is blocked
        assert row.rate.method == "cluster_wilson" and row.rate.n_clusters == row.rate.n
        assert row.rate.low <= row.rate.value <= row.rate.high and row.rate.low < row.rate.high
    for row in benign:  # 0 of n prompts altered: Wilson's [0, z² / (n + z²)], t quantile on n − 1 df
        t = scipy_stats.t.ppf(0.975, row.rate.n - 1)
        assert row.rate.low == 0.0 and row.rate.high == pytest.approx(t * t / (row.rate.n + t * t), rel=0.05)
    write_report(runs, tmp_path / "report", ReportOptions(resamples=200))
    page = (tmp_path / "report" / "report.html").read_text()
    assert "Guarded versus bare" in page and "over-blocking" in page


def test_runs_of_other_models_or_settings_are_not_paired(tmp_path: Path) -> None:
    run(bare(), tmp_path / "bare")
    run(
        SimulatedAdapter(SimulatedParams(rules=[{"match": ".", "outputs": {CLEAN: 1.0}}])), tmp_path / "other"
    )
    assert guard_comparisons(load_runs([str(tmp_path)])) == []
