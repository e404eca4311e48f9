"""Exit status and run status: Ctrl-C, SIGTERM, and runs that are mostly errors."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

# A one-file scenario whose dataset, after its first six rows, says so on stdout and waits for a
# line on stdin: the test signals a run that is known to be in the middle of its work.
WAITING_SCENARIO = """
import sys
from dataclasses import dataclass
from harness.scenario import Scenario, ScenarioParams
from harness.types import GenerationParams, Instance, MetricSpec, Request


@dataclass
class WaitingParams(ScenarioParams):
    n: int = 10
    wait_after: int = 6  # 0: never wait


class WaitingScenario(Scenario):
    name = "waiting"
    version = "1"
    Params = WaitingParams

    def instances(self):
        for i in range(self.params.n):
            if i == self.params.wait_after:
                print("waiting", flush=True)
                sys.stdin.readline()
            yield Instance(id=f"w{i}", input=f"Say something {i}.")

    def requests(self, instance):
        return [Request("generate", instance.input, GenerationParams(max_new_tokens=4))]

    def score(self, instance, outputs):
        return {"long": float(len(outputs[0].texts[0]) > 3)}

    def metrics(self):
        return [MetricSpec("long_rate", "share of long answers", value="long")]
"""


def _start(tmp_path: Path, *overrides: str) -> subprocess.Popen[str]:
    scenario = tmp_path / "waiting.py"
    scenario.write_text(WAITING_SCENARIO)
    env = {**os.environ, "RAI_HARNESS_CACHE": str(tmp_path / "cache.sqlite"), "PYTHONPATH": str(REPO)}
    args = [f"scenario={scenario}", "model=simulated", "model.default_output=hello there", "progress=false"]
    args += ["report=false", "window_size=2", f"hydra.run.dir={tmp_path / 'job'}", *overrides]
    return subprocess.Popen(
        [sys.executable, "-m", "harness", *args],
        cwd=tmp_path,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signalled_run_exits_128_plus_the_signal_and_is_recorded_as_interrupted(
    tmp_path: Path, signum: int, code: int
) -> None:
    process = _start(tmp_path)
    assert process.stdout is not None and process.stdout.readline() == "waiting\n"
    process.send_signal(signum)
    _, stderr = process.communicate(timeout=300)
    assert process.returncode == code
    assert stderr.strip().splitlines() == [
        "harness: interrupted; finished samples are saved, rerun the same command to resume"
    ]
    run_dir = tmp_path / "job" / "waiting"
    assert json.loads((run_dir / "run.json").read_text())["status"] == "interrupted"
    assert json.loads((tmp_path / "job" / "job.json").read_text())["scenarios"]["waiting"] == {
        "status": "interrupted"
    }
    assert len((run_dir / "samples.jsonl").read_text().splitlines()) == 6  # every window before the signal
    resumed = _start(tmp_path)
    _, stderr = resumed.communicate("go\n", timeout=300)
    assert resumed.returncode == 0, stderr
    assert json.loads((run_dir / "run.json").read_text())["status"] == "completed"


@pytest.mark.parametrize(("error_rate", "max_error_rate", "code"), [(1.0, 0.1, 1), (1.0, 1.0, 0)])
def test_a_run_that_is_mostly_errors_fails_the_job(
    tmp_path: Path, error_rate: float, max_error_rate: float, code: int
) -> None:
    overrides = [f"model.error_rate={error_rate}", f"max_error_rate={max_error_rate}"]
    process = _start(tmp_path, *overrides, "scenario.wait_after=0")
    _, stderr = process.communicate(timeout=300)
    assert process.returncode == code, stderr
    if code:
        assert stderr.strip().splitlines() == [
            "harness: error: waiting: 10 of 10 instances errored (100%), above max_error_rate=0.1. The "
            "errors are in samples.jsonl (field 'error'); rerun the same command to retry the errored "
            "instances once the cause is fixed"
        ]
    else:
        assert "max_error_rate" not in stderr
