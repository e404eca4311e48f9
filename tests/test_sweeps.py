"""Sweeps that scale out: joblib and submitit_local launchers, failure isolation, leaderboard."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.test_cli import run

pytestmark = pytest.mark.usefixtures("demo_plugin_installed")


@pytest.mark.parametrize("launcher", ["joblib", "submitit_local"])
def test_three_by_two_sweep_then_leaderboard(tmp_path: Path, launcher: str) -> None:
    result = run(
        [
            "-m",
            f"hydra/launcher={launcher}",
            "scenario=demo_arithmetic",
            "model=demo_calculator",
            "model.wrong_every=0,3,7",
            "seed=0,1",
            "progress=false",
            "report=false",
            "hydra.sweep.dir=results/sweeps/s",
        ],
        tmp_path,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    manifests = sorted((tmp_path / "results/sweeps/s").glob("*/demo_arithmetic/run.json"))
    assert len(manifests) == 6
    assert {json.loads(m.read_text())["status"] for m in manifests} == {"completed"}
    board = run(["leaderboard", "results/sweeps/s"], tmp_path)
    assert board.returncode == 0, board.stderr
    markdown = (tmp_path / "results/sweeps/s/leaderboard/leaderboard.md").read_text()
    assert markdown.count("calculator@") >= 6


def test_a_failed_job_does_not_sink_the_sweep_and_resumes(tmp_path: Path) -> None:
    table = tmp_path / "table.json"
    args = [
        "-m",
        "scenario=demo_arithmetic",
        "model=simulated",
        f"model.table={table},null",
        "progress=false",
        "report=false",
        "hydra.sweep.dir=results/sweeps/f",
    ]
    first = run(args, tmp_path)
    assert first.returncode == 1
    assert "failed" in first.stdout and "does not exist" in first.stdout
    assert "1 job(s) did not complete" in first.stderr
    completed = list((tmp_path / "results/sweeps/f").glob("*/demo_arithmetic/run.json"))
    assert len(completed) == 1
    table.write_text(json.dumps({"rules": [{"match": "What", "outputs": {"42": 1.0}}]}))
    second = run(args, tmp_path)
    assert second.returncode == 0, second.stderr
    assert len(list((tmp_path / "results/sweeps/f").glob("*/demo_arithmetic/run.json"))) == 2
    resumed = json.loads(completed[0].read_text())
    assert resumed["counts"]["requests_sent"] == 0, "the finished job is resumed, not redone"
    assert resumed["timings"]["previous_sessions"] is not None
