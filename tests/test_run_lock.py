"""One writer per run directory: a second process is refused, a killed holder never blocks a resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from harness.adapters.simulated import SimulatedAdapter, SimulatedParams
from harness.config import HarnessSettings
from harness.errors import ConfigError
from harness.evaluate import ScenarioRun, run_scenario
from harness.run_lock import PID_FILE
from harness.scenario import ScenarioContext
from tests.helpers import CoinParams, CoinScenario, coin_rules

REPO = Path(__file__).resolve().parent.parent

# Runs the coin scenario in a subprocess whose adapter, on its first call, says so on stdout and
# then waits for a line on stdin: the test knows the run holds its directory, without timing.
HOLDER = """
import sys
from pathlib import Path
from harness.adapters.simulated import SimulatedAdapter, SimulatedParams
from harness.config import HarnessSettings
from harness.evaluate import ScenarioRun, run_scenario
from harness.scenario import ScenarioContext
from tests.helpers import CoinParams, CoinScenario, coin_rules

class Waiting(SimulatedAdapter):
    def generate(self, requests, seed, progress=None):
        print("generating", flush=True)
        sys.stdin.readline()
        return super().generate(requests, seed, progress)

adapter = Waiting(SimulatedParams(rules=coin_rules(0.5)))
settings = HarnessSettings(progress=False, bootstrap_resamples=100, window_size=10)
context = ScenarioContext(seed=0, capabilities=adapter.capabilities(), bootstrap_resamples=100)
scenario = CoinScenario(CoinParams(n=40), context)
run_scenario(ScenarioRun(scenario, adapter, Path(sys.argv[1]), {}, settings), None)
"""


def _run_here(run_dir: Path, overwrite: bool = False) -> int:
    adapter = SimulatedAdapter(SimulatedParams(rules=coin_rules(0.5)))
    settings = HarnessSettings(progress=False, bootstrap_resamples=100, window_size=10, overwrite=overwrite)
    context = ScenarioContext(seed=0, capabilities=adapter.capabilities(), bootstrap_resamples=100)
    scenario = CoinScenario(CoinParams(n=40), context)
    return run_scenario(ScenarioRun(scenario, adapter, run_dir, {}, settings), None).n_instances


@pytest.fixture
def holder(tmp_path: Path):
    """A subprocess in the middle of a run of ``tmp_path / "run"`` (it waits on its stdin)."""
    script = tmp_path / "holder.py"
    script.write_text(HOLDER)
    process = subprocess.Popen(
        [sys.executable, str(script), str(tmp_path / "run")],
        env={**os.environ, "PYTHONPATH": str(REPO)},
        cwd=REPO,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None and process.stdout.readline() == "generating\n"
    yield process
    if process.poll() is None:
        process.kill()
    process.wait()


def test_a_second_process_is_refused_with_the_holders_pid(tmp_path: Path, holder: subprocess.Popen) -> None:
    with pytest.raises(ConfigError, match=rf"in use by another harness process \(PID {holder.pid}\)"):
        _run_here(tmp_path / "run")
    with pytest.raises(ConfigError, match=f"PID {holder.pid}"):  # overwrite=true is refused too
        _run_here(tmp_path / "run", overwrite=True)
    holder.communicate("go\n" * 10)  # the holder finishes its run undisturbed
    assert holder.returncode == 0
    records = [json.loads(line) for line in (tmp_path / "run" / "samples.jsonl").read_text().splitlines()]
    assert len(records) == len({r["id"] for r in records}) == 40
    assert not (tmp_path / "run" / PID_FILE).exists()


def test_a_killed_holder_does_not_block_the_resume(tmp_path: Path, holder: subprocess.Popen) -> None:
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    assert (tmp_path / "run" / PID_FILE).read_text().strip() == str(holder.pid)  # stale, left behind
    assert _run_here(tmp_path / "run") == 40
    assert json.loads((tmp_path / "run" / "run.json").read_text())["status"] == "completed"


def test_overwrite_keeps_the_lock_while_emptying_the_directory(tmp_path: Path) -> None:
    _run_here(tmp_path / "run")
    (tmp_path / "run" / "old_plot.png").write_bytes(b"x")
    assert _run_here(tmp_path / "run", overwrite=True) == 40
    assert not (tmp_path / "run" / "old_plot.png").exists()


def test_the_cli_refuses_a_job_directory_in_use_and_leaves_it_alone(tmp_path: Path) -> None:
    job_dir = tmp_path / "job"
    hold = "import sys; from harness.run_lock import RunDirectoryLock; lock = RunDirectoryLock(sys.argv[1]); "
    hold += "lock.acquire(); print('held', flush=True); sys.stdin.readline()"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    holder = subprocess.Popen(
        [sys.executable, "-c", hold, str(job_dir)],
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        args = ["scenario=toxicity", "model=simulated", "limit=2", "progress=false", "report=false"]
        result = subprocess.run(
            [sys.executable, "-m", "harness", *args, f"hydra.run.dir={job_dir}"],
            cwd=tmp_path,
            env={**env, "RAI_HARNESS_CACHE": str(tmp_path / "cache.sqlite")},
            capture_output=True,
            text=True,
            timeout=300,
        )
    finally:
        holder.kill()
        holder.wait()
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"harness: error: {job_dir} is in use by another harness process (PID {holder.pid}); wait for it "
        "to finish or stop it, or choose another directory with hydra.run.dir=<path>"
    ]
    assert not (job_dir / "job.json").exists() and not (job_dir / "job_error.json").exists()
