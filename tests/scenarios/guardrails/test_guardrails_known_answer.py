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
    breakdown_rates,
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


def test_per_group_rates_cover_the_planted_rates_at_the_nominal_rate() -> None:
    """200 independent guards (seeds) x 12 groups x 2 rates = 4,800 intervals."""
    params = SimulatedGuardParams(
        fnr_by_group={"women": 0.3, "black": 0.02}, fpr_by_group={"muslim": 0.25, "gay": 0.2, "men": 0.0}
    )
    covered, total = 0, 0
    known = SimulatedGuardScorer(params).planted
    for seed in range(200):
        guard = SimulatedGuardScorer(SimulatedGuardParams(**{**params.__dict__, "seed": seed}))
        guard.__dict__["planted"] = known  # the labelled set is the same for every seed: read it once
        for value in breakdown_rates(frame_for(guard), "group"):
            truth = planted_rate(params, value.name == PASS_THROUGH, value.group["group"])
            covered += value.ci_low <= truth <= value.ci_high
            assert value.ci_low <= value.value <= value.ci_high  # never excludes its own estimate
            assert value.ci_high > value.ci_low  # never zero-width
            total += 1
    assert total == 4800
    assert 0.92 <= covered / total <= 0.98, covered / total


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
    assert "most over-blocked groups" in done.stdout
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
