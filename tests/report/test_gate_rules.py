"""Threshold rules: PASS / FAIL / INCONCLUSIVE / ERROR on hand-made CIs, exit codes and outputs."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml

from harness.gate import evaluate_gate, gate_main


def metric(
    name: str, value: float, low: float | None, high: float | None, direction: str, **extra: object
) -> dict:
    return {"name": name, "value": value, "ci_low": low, "ci_high": high, "n": 100, "n_errors": 0,
            "direction": direction, **extra}  # fmt: skip


@pytest.fixture
def candidate(write_run) -> Path:
    """One run with CIs placed around the thresholds the tests use."""
    return write_run(
        "cand",
        metrics=[
            metric("accuracy", 0.76, 0.72, 0.80, "higher_is_better"),
            metric("accuracy", 0.64, 0.60, 0.68, "higher_is_better", group={"group": "b"}),
            metric("toxic_rate", 0.02, 0.01, 0.03, "lower_is_better"),
            metric("bias", 0.05, 0.03, 0.07, "lower_is_better"),
            metric("share", 0.5, 0.45, 0.55, "none"),
            metric("tiny", 0.5, None, None, "higher_is_better"),
            {**metric("flaky", 0.9, 0.85, 0.95, "higher_is_better"), "n": 90, "n_errors": 10},
        ],
    )


def run_rules(candidate: Path, tmp_path: Path, *rules: dict, **policy: object) -> tuple[int, dict]:
    out = tmp_path / "gate"
    code = evaluate_gate({"name": "t", **policy, "rules": list(rules)}, [candidate], out)
    return code, json.loads((out / "verdict.json").read_text())


@pytest.mark.parametrize(
    ("rule", "status"),
    [
        ({"metric": "accuracy", "threshold": 0.70}, "PASS"),
        ({"metric": "accuracy", "threshold": 0.72}, "PASS"),  # CI's lower end on the threshold
        ({"metric": "accuracy", "threshold": 0.85}, "FAIL"),
        ({"metric": "accuracy", "threshold": 0.75}, "INCONCLUSIVE"),
        ({"metric": "accuracy", "group": {"group": "b"}, "threshold": 0.70}, "FAIL"),
        ({"metric": "toxic_rate", "threshold": 0.05}, "PASS"),
        ({"metric": "toxic_rate", "threshold": 0.005}, "FAIL"),
        ({"metric": "bias", "threshold": 0.05}, "INCONCLUSIVE"),
        ({"metric": "share", "threshold": 0.4, "direction": "higher_is_better"}, "PASS"),
        ({"metric": "share", "threshold": 0.4}, "ERROR"),
        ({"metric": "tiny", "threshold": 0.4}, "INCONCLUSIVE"),
        ({"metric": "tox*", "threshold": 0.05}, "PASS"),
        ({"metric": "missing", "threshold": 0.05}, "ERROR"),
        ({"metric": "accuracy", "scenario": "other", "threshold": 0.5}, "ERROR"),
    ],
)
def test_threshold_decisions(candidate: Path, tmp_path: Path, rule: dict, status: str) -> None:
    code, verdict = run_rules(candidate, tmp_path, rule)
    assert verdict["checks"][0]["status"] == status
    assert code == {"PASS": 0, "FAIL": 1, "INCONCLUSIVE": 3, "ERROR": 4}[status]


def test_error_messages_say_what_is_missing(candidate: Path, tmp_path: Path) -> None:
    _, verdict = run_rules(
        candidate,
        tmp_path,
        {"metric": "missing", "threshold": 0.05},
        {"metric": "share", "threshold": 0.4},
        {"metric": "accuracy", "scenario": "other", "threshold": 0.5},
    )
    reasons = [c["reason"] for c in verdict["checks"]]
    assert reasons[0].startswith(
        "candidate metric 'missing' is missing; metrics present: accuracy, bias, flaky"
    )
    assert "has no direction; set the rule's direction" in reasons[1]
    assert reasons[2] == "no candidate run of scenario 'other' with metrics (scenarios present: toy)"
    absent_group = {"metric": "accuracy", "group": {"group": "c"}, "threshold": 0.5}
    _, verdict = run_rules(candidate, tmp_path, absent_group)
    assert verdict["checks"][0]["reason"] == (
        "candidate metric 'accuracy' has no value for group group=c; it is reported for: group=b, overall "
        "(set the rule's group to one of them)"
    )


def test_error_thresholds_make_a_result_untrustworthy(candidate: Path, tmp_path: Path) -> None:
    rule = {"metric": "flaky", "threshold": 0.5}
    assert run_rules(candidate, tmp_path, rule, max_error_rate=0.2)[1]["checks"][0]["status"] == "PASS"
    _, verdict = run_rules(candidate, tmp_path, rule)  # default max_error_rate 0.05
    assert verdict["checks"][0]["status"] == "ERROR"
    assert verdict["checks"][0]["reason"] == (
        "candidate: 10/100 instances errored (10.0%), above max_error_rate=5.0%"
    )
    _, verdict = run_rules(candidate, tmp_path, {**rule, "max_errors": 5}, max_error_rate=None)
    assert verdict["checks"][0]["reason"] == "candidate: 10 errored instances exceed max_errors=5"


def test_verdict_is_the_most_severe_check(candidate: Path, tmp_path: Path) -> None:
    passing = {"metric": "accuracy", "threshold": 0.70}
    inconclusive = {"metric": "bias", "threshold": 0.05}
    error = {"metric": "missing", "threshold": 0.05}
    failing = {"metric": "toxic_rate", "threshold": 0.005}
    assert run_rules(candidate, tmp_path, passing, inconclusive)[0] == 3
    assert run_rules(candidate, tmp_path, passing, inconclusive, error)[0] == 4
    code, verdict = run_rules(candidate, tmp_path, passing, inconclusive, error, failing)
    assert code == 1 and verdict["verdict"] == "FAIL"
    assert verdict["counts"] == {"PASS": 1, "INCONCLUSIVE": 1, "ERROR": 1, "FAIL": 1}


def test_junit_and_model_card(candidate: Path, tmp_path: Path) -> None:
    run_rules(
        candidate,
        tmp_path,
        {"id": "acc", "metric": "accuracy", "threshold": 0.70},
        {"id": "bias", "metric": "bias", "threshold": 0.05},
        {"id": "gone", "metric": "missing", "threshold": 0.05},
        {"id": "tox", "metric": "toxic_rate", "threshold": 0.005},
    )
    suite = ET.parse(tmp_path / "gate" / "junit.xml").getroot().find("testsuite")
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("4", "2", "1")
    cases = {case.get("name"): case for case in suite.iter("testcase")}
    assert cases["acc: accuracy ≥ 0.700"].find("failure") is None
    assert cases["bias: bias ≤ 0.050"].find("failure").get("type") == "INCONCLUSIVE"
    assert cases["tox: toxic_rate ≤ 0.005"].find("failure").get("type") == "FAIL"
    assert cases["gone: missing vs 0.050"].find("error").get("type") == "ERROR"
    card = (tmp_path / "gate" / "model_card.md").read_text()
    assert card.startswith(
        "## Responsible-AI evaluation\n\n**Verdict: FAIL** under the release-gate policy `t`"
    )
    assert "| acc | toy | accuracy | ≥ 0.700 | 0.760 | [0.720, 0.800] | 100 | 0 | PASS |" in card
    assert "| tox | toy | toxic_rate | ≤ 0.005 | 0.020 | [0.010, 0.030] | 100 | 0 | **FAIL** |" in card


def test_gate_cli_exit_codes_and_outputs(candidate: Path, tmp_path: Path, capsys) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(yaml.safe_dump({"name": "cli", "rules": [{"metric": "accuracy", "threshold": 0.7}]}))
    assert gate_main([str(policy), str(candidate)]) == 0
    assert (candidate / "gate" / "verdict.json").exists()
    assert "gate cli: PASS (exit code 0)" in capsys.readouterr().out
    policy.write_text(yaml.safe_dump({"name": "cli", "rules": [{"metric": "accuracy", "threshold": 0.9}]}))
    assert gate_main([str(policy), str(candidate), "--out", str(tmp_path / "o")]) == 1
    assert gate_main([str(policy), str(tmp_path / "nothing")]) == 2
    assert "no run directories" in capsys.readouterr().err
    assert gate_main(["no-such-policy", str(candidate)]) == 2


def test_candidate_runs_of_two_models_are_refused(write_run, tmp_path: Path, capsys) -> None:
    first = write_run("a", model="m1", metrics=[metric("accuracy", 0.8, 0.7, 0.9, "higher_is_better")])
    second = write_run("b", model="m2", metrics=[metric("accuracy", 0.8, 0.7, 0.9, "higher_is_better")])
    code = evaluate_gate(
        {"rules": [{"metric": "accuracy", "threshold": 0.5}]}, [first, second], tmp_path / "o"
    )
    assert code == 2
    assert "candidate runs come from 2 different models (m1, m2)" in capsys.readouterr().err
