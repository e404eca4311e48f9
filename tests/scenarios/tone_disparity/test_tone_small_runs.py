"""Runs that cut tuples or templates short say so, and a baseline that names no group stops the run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from tone_testlib import metric, planted_rules

from harness.adapters.simulated import SimulatedAdapter, SimulatedParams
from harness.errors import ConfigError
from harness.scenario import ScenarioContext
from harness.types import MetricValue
from scenarios.tone_disparity.scenario import ToneDisparityParams, ToneDisparityScenario
from tests.helpers import run_end_to_end

PAIR = {"group": "female", "reference": "male"}


def limited_run(
    run_dir: Path, limit: int | None, mode: str = "random", **params: Any
) -> tuple[list[MetricValue], str, list[dict[str, Any]]]:
    """A run on the simulated adapter under ``limit``; its metrics, its one note and its sample records."""
    adapter = SimulatedAdapter(SimulatedParams(rules=planted_rules(-0.02)))
    _, metrics, _, _ = run_end_to_end(
        ToneDisparityScenario,
        ToneDisparityParams(k=4, **params),
        adapter,
        run_dir,
        resamples=200,
        limit=limit,
        limit_mode=mode,
    )
    (note,) = json.loads((run_dir / "metrics.json").read_text())["notes"]
    records = [json.loads(line) for line in (run_dir / "samples.jsonl").read_text().splitlines()]
    return metrics, note, records


def test_a_limit_that_splits_tuples_names_the_complete_tuples_and_the_fix(tmp_path: Path) -> None:
    metrics, note, records = limited_run(tmp_path, limit=16)
    members = Counter(r["metadata"]["tuple"] for r in records)
    complete = [t for t, count in members.items() if count == 2]
    templates = {t.split("|")[0] for t in complete}
    assert len(records) == 16 and len(complete) < 8, "a random limit samples prompts, not tuples"
    diff = metric(metrics, "tone_diff_by_group", PAIR)
    assert diff.extra["complete_tuples"] == len(complete) and diff.extra["templates"] == len(templates)
    assert diff.extra["tuples_missing_a_member"] == len(members) - len(complete)
    assert f"over {len(complete)} complete tuple" in note and f"in {len(templates)} template" in note
    assert (
        f"{len(members) - len(complete)} of {len(members)} tuples lack a member: `limit` sampled prompts, "
        "not tuples; use scenario.per_group_limit or limit_mode=first, which keep tuples whole"
    ) in note
    if len(templates) < 2:
        assert diff.ci_low is None and metric(metrics, "tone_mde_by_group", PAIR).value is None
        assert "-> no interval and no MDE: both need complete tuples from at least 2 templates" in note


def test_whole_tuples_from_one_template_give_no_interval_and_no_mde(tmp_path: Path) -> None:
    metrics, note, _ = limited_run(tmp_path, limit=16, mode="first")
    diff = metric(metrics, "tone_diff_by_group", PAIR)
    mde = metric(metrics, "tone_mde_by_group", PAIR)
    assert (diff.extra["complete_tuples"], diff.extra["templates"]) == (8, 1)
    assert diff.ci_low is None and diff.ci_high is None
    assert mde.value is None and mde.extra["n_needed_for_target"] is None
    assert note == (
        f"tone[female] − tone[male]: {diff.value:+.4f} over 8 complete tuples in 1 template, "
        f"d_z={diff.extra['effect_size']:+.3f} -> no interval and no MDE: both need complete tuples from "
        "at least 2 templates (the clustering by template cannot be estimated from one); the run's "
        "prompts come from 1 template: raise limit or scenario.per_group_limit (prompts are taken "
        "template by template), or add templates"
    )


def test_per_group_limit_keeps_tuples_whole(tmp_path: Path) -> None:
    metrics, note, _ = limited_run(tmp_path, limit=None, per_group_limit=12)
    diff = metric(metrics, "tone_diff_by_group", PAIR)
    assert (diff.extra["complete_tuples"], diff.extra["templates"], diff.extra["note"]) == (12, 2, None)
    assert diff.extra["tuples_missing_a_member"] == diff.extra["tuples_with_a_failed_member"] == 0
    assert diff.ci_low is not None and metric(metrics, "tone_mde_by_group", PAIR).value > 0
    assert "over 12 complete tuples in 2 templates" in note and "lack a member" not in note


def test_the_per_group_interval_is_the_clustered_t_one(tmp_path: Path) -> None:
    metrics, _, _ = limited_run(tmp_path, limit=None, per_group_limit=24)
    assert metric(metrics, "tone", {"group": "female"}).ci_method == "cluster_t"
    diff = metric(metrics, "tone_diff_by_group", PAIR)
    assert diff.ci_method == "mover"
    # the layer's MOVER interval over complete tuples is the cluster-robust t interval, and its
    # p-value, which inverts that interval with t(G - 1) tails, is the t-test's
    assert [diff.ci_low, diff.ci_high] == pytest.approx(diff.extra["cluster_robust_difference"], abs=1e-12)
    assert diff.extra["p_value"] == pytest.approx(diff.extra["cluster_robust_p_value"], rel=1e-9)


@pytest.mark.parametrize(
    ("params", "valid"),
    [
        ({"baseline": "Female"}, "female, male"),
        ({"baseline": "male", "groups": ["female"]}, "female"),
    ],
)
def test_a_baseline_that_names_no_group_is_refused(params: dict[str, Any], valid: str) -> None:
    with pytest.raises(ConfigError) as caught:
        ToneDisparityScenario(ToneDisparityParams(**params), ScenarioContext())
    bad = params["baseline"]
    assert str(caught.value) == f"scenario.baseline={bad!r} is not valid; choose one of: {valid}"


def test_a_baseline_is_checked_against_the_users_term_file(tmp_path: Path) -> None:
    terms = tmp_path / "terms.csv"
    terms.write_text("set,group,name\n1,older,Joe\n1,younger,Jo\n")
    ToneDisparityScenario(ToneDisparityParams(terms=str(terms), baseline="older"), ScenarioContext())
    with pytest.raises(ConfigError) as caught:
        ToneDisparityScenario(ToneDisparityParams(terms=str(terms), baseline="male"), ScenarioContext())
    assert str(caught.value) == "scenario.baseline='male' is not valid; choose one of: older, younger"


def test_a_bold_baseline_is_checked_once_the_prompts_are_read(shared_datasets: Path) -> None:
    data = str(shared_datasets / "bold" / "gender_prompt.json")
    scenario = ToneDisparityScenario(
        ToneDisparityParams(format="bold", data=data, baseline="American_actor"), ScenarioContext()
    )
    with pytest.raises(ConfigError) as caught:
        scenario.instances()
    assert str(caught.value) == (
        "scenario.baseline='American_actor' is not valid; choose one of: American_actors, American_actresses"
    )
    good = ToneDisparityParams(format="bold", data=data, baseline="American_actors", per_group_limit=2)
    assert len(list(ToneDisparityScenario(good, ScenarioContext()).instances())) == 4


def test_the_command_stops_on_a_misspelled_baseline_before_any_prompt(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "harness", "scenario=tone_disparity", "scenario.baseline=Female"]
    command += ["model=simulated", "progress=false", "hydra.run.dir=run"]
    env = {**os.environ, "RAI_HARNESS_CACHE": str(tmp_path / "cache.sqlite"), "HF_HUB_OFFLINE": "1"}
    result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        "harness: error: scenario.baseline='Female' is not valid; choose one of: female, male"
    )
    assert not list(tmp_path.glob("run/**/samples.jsonl"))
