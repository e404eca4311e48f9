"""Baseline comparisons: paired by instance id, non-inferiority margins, Holm across rules."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from harness.aggregate import sample_frame
from harness.gate import evaluate_gate
from harness.stats import holm_adjust


def compare(candidate: Path, baseline: Path, out: Path, *rules: dict, **policy: object) -> tuple[int, dict]:
    """Evaluate ``rules`` on candidate vs baseline; returns the exit code and verdict.json."""
    full = {"name": "b", **policy, "rules": list(rules)}
    code = evaluate_gate(full, [candidate], out, [baseline])
    return code, json.loads((out / "verdict.json").read_text())


ACCURACY = {"scenario": "toy", "metric": "accuracy", "non_inferiority_margin": 0.05}


def test_better_candidate_is_non_inferior(make_run, tmp_path: Path) -> None:
    baseline = make_run("base", model="base", p_a=0.6, p_b=0.6, n=120)
    candidate = make_run("cand", model="cand", p_a=0.9, p_b=0.9, n=120)
    code, verdict = compare(candidate, baseline, tmp_path / "g", ACCURACY)
    check = verdict["checks"][0]
    assert (code, check["kind"], check["status"]) == (0, "baseline", "PASS")
    expected = sample_frame(candidate)["correct"].mean() - sample_frame(baseline)["correct"].mean()
    assert check["value"] == pytest.approx(expected) and check["value"] > 0.2
    assert check["ci_low"] <= check["value"] <= check["ci_high"] and check["n"] == 120
    assert check["p_adjusted"] < 1e-6  # the t p-value of a difference > 0.2 over 120 pairs
    assert verdict["baseline_model"]["model_id"] == "base"
    card = (tmp_path / "g" / "model_card.md").read_text()
    assert "Compared with the baseline `base` on the same instances (paired clustered t):" in card


def test_much_worse_candidate_fails(make_run, tmp_path: Path) -> None:
    baseline = make_run("base", model="base", p_a=0.9, p_b=0.9, n=120)
    candidate = make_run("cand", model="cand", p_a=0.5, p_b=0.5, n=120)
    code, verdict = compare(candidate, baseline, tmp_path / "g", ACCURACY)
    assert code == 1 and verdict["checks"][0]["status"] == "FAIL"
    assert "worse than the baseline by more than the margin" in verdict["checks"][0]["reason"]


def test_identical_behaviour_with_zero_margin_is_inconclusive(make_run, tmp_path: Path) -> None:
    baseline = make_run("base", model="base", n=60)
    candidate = make_run("cand", model="cand", n=60)
    code, verdict = compare(candidate, baseline, tmp_path / "g", {**ACCURACY, "non_inferiority_margin": 0.0})
    check = verdict["checks"][0]
    assert (code, check["status"], check["value"]) == (3, "INCONCLUSIVE", 0.0)


def test_lower_is_better_metric_is_compared_the_right_way(make_run, tmp_path: Path) -> None:
    # 'yes' (3 characters) is longer than 'no': the model that says yes more has the worse length.
    baseline = make_run("base", model="base", p_a=0.2, p_b=0.2, n=120)
    candidate = make_run("cand", model="cand", p_a=0.9, p_b=0.9, n=120)
    rule = {"scenario": "toy", "metric": "length", "non_inferiority_margin": 0.1}
    code, verdict = compare(candidate, baseline, tmp_path / "g", rule)
    assert code == 1 and verdict["checks"][0]["value"] > 0.5


def test_holm_correction_across_rules(make_run, tmp_path: Path) -> None:
    baseline = make_run("base", model="base", p_a=0.7, p_b=0.7, n=100)
    candidate = make_run("cand", model="cand", p_a=0.72, p_b=0.66, n=100)
    rules = [
        {**ACCURACY, "id": "all"},
        {**ACCURACY, "id": "a", "group": {"group": "a"}},
        {**ACCURACY, "id": "b", "group": {"group": "b"}},
    ]
    _, verdict = compare(candidate, baseline, tmp_path / "g", *rules)
    raw = [c["p_value"] for c in verdict["checks"]]
    adjusted = [c["p_adjusted"] for c in verdict["checks"]]
    assert adjusted == pytest.approx(holm_adjust(raw).tolist())
    assert all(a >= r for a, r in zip(adjusted, raw, strict=True)) and max(adjusted) > min(raw)


def test_pairs_are_matched_by_instance_id_and_skip_errors(make_run, tmp_path: Path) -> None:
    baseline = make_run("base", model="base", n=80, error_rate=0.1)
    candidate = make_run("cand", model="cand", p_a=0.9, n=80, error_rate=0.1)
    _, verdict = compare(candidate, baseline, tmp_path / "g", ACCURACY, max_error_rate=None)
    check = verdict["checks"][0]
    base, cand = sample_frame(baseline), sample_frame(candidate)
    both = cand[cand.error.isna()].merge(base[base.error.isna()], on="id", suffixes=("_c", "_b"))
    assert 0 < len(both) < 80 and check["n"] == len(both)
    assert check["value"] == pytest.approx(float(np.mean(both.correct_c - both.correct_b)))


def test_shuffled_baseline_rows_give_the_same_comparison(make_run, tmp_path: Path) -> None:
    baseline = make_run("base", model="base", n=60)
    candidate = make_run("cand", model="cand", p_a=0.95, n=60)
    _, before = compare(candidate, baseline, tmp_path / "g1", ACCURACY)
    samples = baseline / "samples.jsonl"
    lines = samples.read_text().splitlines(keepends=True)
    samples.write_text("".join(reversed(lines)))
    _, after = compare(candidate, baseline, tmp_path / "g2", ACCURACY)
    assert before["checks"][0]["value"] == after["checks"][0]["value"]


def test_incomparable_baseline_is_an_error_naming_the_key(make_run, tmp_path: Path) -> None:
    candidate = make_run("cand", model="cand", n=60)
    other_scorer = make_run("base1", model="base", n=60, scorer_version="2")
    code, verdict = compare(candidate, other_scorer, tmp_path / "g", ACCURACY)
    assert code == 4
    assert (
        "not comparable: runs differ in scorer identity (cand: exact_match 1 | base: exact_match 2)"
        in (verdict["checks"][0]["reason"])
    )
    other_data = make_run("base2", model="base", n=50)
    _, verdict = compare(candidate, other_data, tmp_path / "g2", ACCURACY)
    assert "differ in dataset fingerprint" in verdict["checks"][0]["reason"]


def test_metric_without_per_instance_scores_cannot_be_paired(write_run, tmp_path: Path) -> None:
    record = {"name": "gap", "value": 0.1, "ci_low": 0.0, "ci_high": 0.2, "n": 10, "n_errors": 0,
              "direction": "lower_is_better"}  # fmt: skip
    candidate = write_run("c", model="c", metrics=[record])
    baseline = write_run("b", model="b", metrics=[record])
    code, verdict = compare(
        candidate, baseline, tmp_path / "g", {"metric": "gap", "non_inferiority_margin": 0.1}
    )
    assert code == 4 and "not the mean of a per-instance score" in verdict["checks"][0]["reason"]


def test_margin_only_rule_needs_a_baseline(make_run, tmp_path: Path) -> None:
    candidate = make_run("cand", model="cand", n=20)
    code = evaluate_gate({"rules": [ACCURACY]}, [candidate], tmp_path / "g")
    verdict = json.loads((tmp_path / "g" / "verdict.json").read_text())
    assert code == 4 and "needs a baseline (--baseline)" in verdict["checks"][0]["reason"]


def test_policy_baseline_runs_are_used(make_run, tmp_path: Path) -> None:
    baseline = make_run("base", model="base", p_a=0.6, p_b=0.6, n=120)
    candidate = make_run("cand", model="cand", p_a=0.9, p_b=0.9, n=120)
    policy = {"baseline": {"runs": [str(baseline)]}, "rules": [ACCURACY]}
    assert evaluate_gate(policy, [candidate], tmp_path / "g") == 0
    checks = pd.DataFrame(json.loads((tmp_path / "g" / "verdict.json").read_text())["checks"])
    assert checks.kind.tolist() == ["baseline"] and checks.baseline_run.tolist() == ["base"]
