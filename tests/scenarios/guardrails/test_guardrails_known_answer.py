"""Known answers: a simulated guard's planted error rates are recovered, at nominal coverage."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from harness import stats
from harness.adapters.simulated import SimulatedAdapter, SimulatedParams
from harness.runner import Runner, RunSettings
from harness.scenario import ScenarioContext
from harness.types import MetricValue
from scenarios.guardrails import data
from scenarios.guardrails.scenario import (
    OVER_BLOCK,
    PASS_THROUGH,
    GuardrailsParams,
    GuardrailsScenario,
    decision,
)
from scenarios.guardrails.simulated import (
    SimulatedGuardParams,
    SimulatedGuardScorer,
    expected_auc,
    planted_rate,
)

REPO = Path(__file__).resolve().parents[3]
EMBEDDED = list(data.load("labelled", None, "train", None))


def run(tmp_path: Path, resamples: int = 300, **params: Any) -> tuple[list[MetricValue], int, int]:
    scenario = GuardrailsScenario(
        GuardrailsParams(**params), ScenarioContext(seed=0, bootstrap_resamples=resamples)
    )
    runner = Runner(scenario, SimulatedAdapter(SimulatedParams()), tmp_path, RunSettings(progress=False))
    runner.execute()
    metrics, n, n_errors = runner.aggregate()
    return metrics, n, n_errors


def metric(metrics: list[MetricValue], name: str, group: dict[str, Any] | None = None) -> MetricValue:
    found = [m for m in metrics if m.name == name and m.group == group]
    assert len(found) == 1, f"{name} {group}: {len(found)} values"
    return found[0]


def test_the_embedded_set_is_balanced_across_groups() -> None:
    frame = pd.DataFrame([{**i.metadata, "id": i.id} for i in EMBEDDED])
    assert len(frame) == 508 and frame["id"].is_unique
    identity = frame[frame["group"].notna()]
    counts = identity.groupby(["group", "truth", "kind"]).size().unstack(["truth", "kind"])
    assert len(counts) == 12
    assert (counts[("benign", "prompt")] == 14).all() and (counts[("benign", "response")] == 10).all()
    assert (counts[("harmful", "prompt")] == 8).all() and (counts[("harmful", "response")] == 8).all()


def frame_for(guard: SimulatedGuardScorer, threshold: float = 0.5) -> pd.DataFrame:
    """The per-instance table the runner would build for the embedded set scored by ``guard``."""
    scores = guard.score([str(i.input) for i in EMBEDDED])
    rows = [
        {"id": i.id, "error": None, **i.metadata, **decision(s, i.metadata["truth"], threshold)}
        for i, s in zip(EMBEDDED, scores, strict=True)
    ]
    return pd.DataFrame(rows)


PLANTED = SimulatedGuardParams(
    fnr_by_group={"women": 0.3, "black": 0.02}, fpr_by_group={"muslim": 0.25, "gay": 0.2, "men": 0.0}
)
RATE_COLUMNS = {OVER_BLOCK: "over_blocked", PASS_THROUGH: "passed_through"}


def group_estimates(frame: pd.DataFrame) -> dict[tuple[str, str], stats.Estimate]:
    """Each group's rate as the disparity layer computes it: the mean with template clusters."""
    found = {}
    for name, column in RATE_COLUMNS.items():
        values = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        for group, rows in frame.groupby("group").indices.items():
            keep = rows[~np.isnan(values[rows])]
            templates = frame["template"].to_numpy()[keep]
            found[name, group] = stats.mean_estimate(values[keep], templates, support="unit_interval")
    return found


def test_the_scenario_reports_group_rates_through_the_disparity_layer() -> None:
    frame = frame_for(SimulatedGuardScorer(PLANTED))
    scenario = GuardrailsScenario(
        GuardrailsParams(scorer="profanity"), ScenarioContext(bootstrap_resamples=200)
    )
    metrics = scenario.aggregate(frame)
    for (name, group), estimate in group_estimates(frame).items():
        value = metric(metrics, name, {"group": group})
        assert (value.value, value.ci_low, value.ci_high) == pytest.approx(
            (estimate.value, estimate.low, estimate.high)
        )
    gap = metric(metrics, f"{OVER_BLOCK}_gap_by_group")
    assert gap.ci_low <= gap.value <= gap.ci_high
    assert set(gap.extra["worst_groups"]) <= {"muslim", "gay", "transgender", *gap.extra["highest"]}
    assert any(m.name == f"{OVER_BLOCK}_diff_by_group" for m in metrics)
    assert metric(metrics, OVER_BLOCK, {"category": "identity"}).ci_method == "wilson"


def test_per_group_rates_cover_the_planted_rates_at_the_nominal_rate() -> None:
    """200 independent guards (seeds) x 12 groups x 2 rates = 4,800 intervals.

    The rows, groups and templates are the same for every seed, so they are laid out once and each
    seed only redraws which texts the guard blocks (the per-group estimates are those of
    :func:`group_estimates`, checked against the scenario's own records above).
    """
    known = SimulatedGuardScorer(PLANTED).planted
    identity = [i for i in EMBEDDED if "group" in i.metadata]
    texts = [str(i.input) for i in identity]
    harmful = np.array([i.metadata["truth"] == "harmful" for i in identity])
    templates = np.array([i.metadata["template"] for i in identity], dtype=object)
    names = np.array([i.metadata["group"] for i in identity])
    cells = [
        (name, group, np.flatnonzero((names == group) & (harmful == (name == PASS_THROUGH))))
        for name in RATE_COLUMNS
        for group in np.unique(names)
    ]
    covered, total = 0, 0
    for seed in range(200):
        guard = SimulatedGuardScorer(SimulatedGuardParams(**{**PLANTED.__dict__, "seed": seed}))
        guard.__dict__["planted"] = known  # the labelled set is the same for every seed: read it once
        blocked = np.array(guard.score(texts)) >= 0.5
        for name, group, rows in cells:
            values = (~blocked[rows] if name == PASS_THROUGH else blocked[rows]).astype(float)
            estimate = stats.mean_estimate(values, templates[rows], support="unit_interval")
            covered += estimate.low <= planted_rate(PLANTED, name == PASS_THROUGH, group) <= estimate.high
            assert estimate.low <= estimate.value <= estimate.high  # never excludes its own estimate
            assert estimate.high > estimate.low  # never zero-width
            total += 1
    assert total == 4800
    assert 0.92 <= covered / total <= 0.98, covered / total  # measured: 0.974


def test_harness_recovers_the_planted_rates_on_the_default_set(tmp_path: Path) -> None:
    """``harness scenario=guardrails`` with the offline simulated guard, end to end through the CLI."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    command = [
        sys.executable, "-m", "harness", "scenario=guardrails", "scenario.scorer=simulated_guard",
        "model=simulated", "progress=false", "cache.enabled=false", "bootstrap_resamples=500",
        f"hydra.run.dir={tmp_path}",
    ]  # fmt: skip
    done = subprocess.run(command, env=env, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    payload = json.loads((tmp_path / "guardrails" / "metrics.json").read_text())
    metrics = [MetricValue(**m) for m in payload["metrics"]]
    planted = SimulatedGuardParams()
    benign = [i for i in EMBEDDED if i.metadata["truth"] == "benign"]
    harmful = [i for i in EMBEDDED if i.metadata["truth"] == "harmful"]
    expected_fpr = np.mean([planted_rate(planted, False, i.metadata.get("group")) for i in benign])
    expected_fnr = np.mean([planted_rate(planted, True, i.metadata.get("group")) for i in harmful])
    over, through = metric(metrics, OVER_BLOCK), metric(metrics, PASS_THROUGH)
    assert over.ci_low <= expected_fpr <= over.ci_high and over.n == len(benign)
    assert through.ci_low <= expected_fnr <= through.ci_high and through.n == len(harmful)
    groups = sorted({i.metadata["group"] for i in EMBEDDED if "group" in i.metadata})
    for group in groups:
        value = metric(metrics, OVER_BLOCK, {"group": group})
        assert value.ci_low <= planted_rate(planted, False, group) <= value.ci_high, group
    auc = metric(metrics, "auc")
    assert 0.5 < auc.ci_low <= auc.value <= auc.ci_high
    by_rate = sorted(groups, key=lambda g: -metric(metrics, OVER_BLOCK, {"group": g}).value)
    (note,) = payload["notes"]
    named = [part.split(" ")[0] for part in note.split(": ", 1)[1].split("; ")]
    assert note.startswith("benign texts blocked most often, by group: ") and named == by_rate[:3]
    report = (tmp_path / "report" / "report.html").read_text()
    assert "benign_over_block_rate" in report and "transgender" in report


def test_auc_of_a_single_rate_guard_matches_the_closed_form(tmp_path: Path) -> None:
    scorer_options = {"fnr": 0.2, "fpr": 0.1, "fpr_by_group": {}, "fnr_by_group": {}}
    metrics, n, errors = run(tmp_path, scorer="simulated_guard", scorer_options=scorer_options)
    auc = metric(metrics, "auc")
    assert (n, errors) == (508, 0)
    assert auc.ci_low <= expected_auc(0.2, 0.1) <= auc.ci_high
    assert metric(metrics, "auprc").value is not None


def test_texts_the_guard_cannot_score_are_errors_never_safe(tmp_path: Path) -> None:
    subset = tmp_path / "subset.jsonl"
    rows = [json.loads(line) for line in data.EMBEDDED.read_text().splitlines()]
    subset.write_text("\n".join(json.dumps(r) for r in rows[::2]) + "\n")
    options = {"data": str(subset)}  # the guard knows half of the texts
    metrics, n, errors = run(tmp_path / "run", scorer="simulated_guard", scorer_options=options)
    assert (n, errors) == (508, 254)
    over = metric(metrics, OVER_BLOCK)
    assert over.n + metric(metrics, PASS_THROUGH).n == 254
    assert over.n_errors == 254
    records = [json.loads(line) for line in (tmp_path / "run" / "samples.jsonl").read_text().splitlines()]
    failed = [r for r in records if r["error"]]
    assert all(r["scores"] == {} and "could not score" in r["error"] for r in failed)


def test_binary_verdicts_report_no_auc() -> None:
    rows = [
        {"id": i.id, "error": None, **i.metadata, **decision(float(n % 3 == 0), i.metadata["truth"], 0.5)}
        for n, i in enumerate(EMBEDDED)
    ]
    scenario = GuardrailsScenario(
        GuardrailsParams(scorer="profanity"), ScenarioContext(bootstrap_resamples=50)
    )
    metrics = scenario.aggregate(pd.DataFrame(rows))
    auc = metric(metrics, "auc")
    assert auc.value is None and "binary verdicts" in auc.extra["note"]
    assert metric(metrics, OVER_BLOCK).value is not None
