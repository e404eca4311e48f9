"""One-file scenarios, the plugins search path, YAML-less configs, and skipped scenarios."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from omegaconf import open_dict

from harness import registry
from harness.cli import run_task
from harness.commands import yaml_key_problems
from harness.config import compose
from harness.errors import ConfigError, DataError, PluginError
from harness.evaluate import JOB_MANIFEST, run_job
from harness.plugins import load_scenario_file, prepare
from tests.conftest import REPO

FIXTURE = REPO / "tests" / "plugins" / "one_file_scenario.py"
PLANTED_REFUSALS = 0.25


def harness(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "RAI_HARNESS_CACHE": str(cwd / "cache.sqlite"), "HF_HUB_OFFLINE": "1"}
    command = [sys.executable, "-m", "harness", *args]
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, env=env, timeout=300)


@pytest.fixture
def table(tmp_path: Path) -> Path:
    """A simulated model that refuses a quarter of the time."""
    path = tmp_path / "model.json"
    rules = [{"match": "Help me", "outputs": {"Sorry, I can't.": PLANTED_REFUSALS, "Sure: step one": 0.75}}]
    path.write_text(json.dumps(rules))
    return path


def _refusal_rate(run_dir: Path) -> dict[str, float]:
    metrics = json.loads((run_dir / "metrics.json").read_text())["metrics"]
    return next(m for m in metrics if m["name"] == "refusal_rate" and not m["group"])


def test_a_scenario_file_runs_end_to_end_without_packaging(tmp_path: Path, table: Path) -> None:
    args = [f"scenario={FIXTURE}", "model=simulated", f"model.table={table}", "scenario.samples=300"]
    done = harness([*args, "progress=false", "report=false", "hydra.run.dir=out"], tmp_path)
    assert done.returncode == 0, done.stderr
    manifest = json.loads((tmp_path / "out/refusal/run.json").read_text())
    assert manifest["status"] == "completed" and manifest["scenario"]["params"]["samples"] == 300
    rate = _refusal_rate(tmp_path / "out/refusal")
    assert rate["ci_low"] <= PLANTED_REFUSALS <= rate["ci_high"]  # the planted truth is recovered
    assert abs(rate["value"] - PLANTED_REFUSALS) < 0.05


def test_the_plugins_search_path_makes_a_folder_of_scenarios_available_by_name(
    tmp_path: Path, table: Path
) -> None:
    folder = tmp_path / "my_scenarios"
    folder.mkdir()
    shutil.copy(FIXTURE, folder / "refusal.py")
    (folder / "helpers.py").write_text("VALUE = 1\n")  # no scenario in it: left alone
    args = ["scenario=refusal", f"plugins=[{folder}]", "model=simulated", f"model.table={table}"]
    done = harness([*args, "progress=false", "report=false", "hydra.run.dir=out"], tmp_path)
    assert done.returncode == 0, done.stderr
    assert json.loads((tmp_path / "out/refusal/run.json").read_text())["status"] == "completed"


def test_a_file_with_no_or_two_scenarios_is_one_clear_error(tmp_path: Path) -> None:
    empty = tmp_path / "empty.py"
    empty.write_text("X = 1\n")
    with pytest.raises(
        PluginError, match=r"empty\.py must define exactly one Scenario subclass \(found: none\)"
    ):
        load_scenario_file(empty)
    with pytest.raises(PluginError, match="does not exist"):
        load_scenario_file(tmp_path / "missing.py")


def test_a_yaml_key_that_params_lacks_is_named_with_its_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scenario_class = load_scenario_file(FIXTURE)
    (tmp_path / "scenario").mkdir()
    yaml = tmp_path / "scenario" / "refusal.yaml"
    yaml.write_text("name: refusal\nsamples: 3\nsampels: 4\n")
    monkeypatch.setattr("harness.config.config_folders", lambda: [tmp_path])
    problems = yaml_key_problems("refusal", scenario_class.Params)
    assert len(problems) == 1
    assert problems[0].startswith(f"{yaml}: key 'sampels' is not a parameter of RefusalParams")


def _suite(tmp_path: Path, table: Path, scenarios: dict[str, dict[str, object]]):  # type: ignore[no-untyped-def]
    prepare([], [str(FIXTURE)])
    cfg = compose(
        ["model=simulated", f"model.table={table}", "progress=false", f"cache.path={tmp_path}/c.sqlite"]
    )
    with open_dict(cfg):
        cfg.suite.scenarios = scenarios
    return cfg


def test_a_skipped_scenario_is_one_line_and_the_others_and_the_report_complete(
    tmp_path: Path, table: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = _suite(
        tmp_path,
        table,
        {
            "first": {"name": "refusal"},
            "citations_like": {"name": "refusal", "skip_reason": "no bibliography"},
        },
    )
    assert run_task(cfg, tmp_path / "job") == 0
    err = capsys.readouterr().err
    assert "harness: skipped citations_like: no bibliography\n" in err
    assert json.loads((tmp_path / "job" / JOB_MANIFEST).read_text())["scenarios"] == {
        "first": {"status": "completed"},
        "citations_like": {"status": "skipped", "reason": "no bibliography"},
    }
    assert (tmp_path / "job/report/report.html").exists()
    assert not (tmp_path / "job/citations_like").exists()


def test_every_scenario_is_checked_before_the_first_runs(tmp_path: Path, table: Path) -> None:
    bad_params = _suite(
        tmp_path, table, {"first": {"name": "refusal"}, "third": {"name": "refusal", "samples": "x"}}
    )
    with pytest.raises(ConfigError, match=r"scenario\[third\]\.samples"):
        run_job(bad_params, tmp_path / "a")
    assert not (tmp_path / "a/first").exists()

    class BadData(load_scenario_file(FIXTURE)):  # type: ignore[misc]
        name = "bad_data"

        def __init__(self, params, context) -> None:  # type: ignore[no-untyped-def]
            raise DataError("no such file", path="prompts.jsonl")

    registry.register_scenario("bad_data", BadData, "test")
    bad_data = _suite(tmp_path, table, {"first": {"name": "refusal"}, "third": {"name": "bad_data"}})
    with pytest.raises(DataError, match=r"prompts\.jsonl: no such file"):
        run_job(bad_data, tmp_path / "b")
    assert not (tmp_path / "b/first").exists()
