"""Each benchmark script runs end to end on tiny sizes and writes figures that make sense.

These are smoke tests, not benchmarks: they check that every script still works against the
current engine (its arms run, outputs agree, ratios are computed), never how fast anything is.
All scripts are launched at once by a module fixture (they are independent processes), so the
module's wall time is that of the slowest script rather than their sum.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import pytest

REPO = Path(__file__).resolve().parent.parent
NEW_TOKENS = 3
TINY = [
    "--model",
    "tiny",
    "--prompts",
    "6",
    "--new-tokens",
    str(NEW_TOKENS),
    "--batch-size",
    "4",
    "--rounds",
    "1",
]
BENCHMARKS: dict[str, list[str]] = {
    "warm_cache": [
        "--mode",
        "workload",
        "--model",
        "simulated",
        "--prompts",
        "6",
        "--rounds",
        "1",
        "--no-report",
    ],
    "scale": ["--sizes", "20", "40"],
    "http_throughput": [
        *("--concurrency", "1", "4", "--latency", "0.01", "--seconds", "0.2", "--rounds", "1"),
        *("--scoring-ms", "2", "--window", "20"),
    ],
    "scorers": ["--scorers", "profanity", "--texts", "16", "--single", "4", "--rounds", "1"],
    "overhead": [*TINY, "--threads", "1"],
    # lm-eval's own CLI (about 12 s of imports and task indexing) is left out to keep this module fast;
    # its evaluation call runs, in lm-eval's environment, through the worker.
    "vs_lmeval": [*TINY, "--threads", "1", "--no-lmeval-cli"],
}
NEEDS_TINY_MODEL = {"overhead", "vs_lmeval"}


@dataclass
class Launched:
    """One benchmark process and where it writes."""

    name: str
    process: subprocess.Popen[str]
    out: Path
    stderr: IO[str]

    def finish(self) -> tuple[int, str]:
        """Wait for the process; its exit status and stderr."""
        self.process.wait(timeout=600)
        self.stderr.seek(0)
        return self.process.returncode, self.stderr.read()

    def figures(self) -> dict[str, Any]:
        """The figures of the single result file the script wrote (after a successful exit)."""
        code, stderr = self.finish()
        assert code == 0, stderr[-3000:]
        written = sorted(self.out.glob(f"{self.name}*.json"))
        assert len(written) == 1, f"expected one result file, found {written}"
        return json.loads(written[0].read_text())["figures"]


@pytest.fixture(scope="module")
def launched(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Launched]]:
    """Every benchmark script, started at once (the tiny model is built once, before its users start)."""
    from benchmarks.models import ensure_model

    runs: dict[str, Launched] = {}
    for name, args in BENCHMARKS.items():
        if name in NEEDS_TINY_MODEL and not any(n in NEEDS_TINY_MODEL for n in runs):
            ensure_model("tiny", REPO / "benchmarks" / "out" / "models", NEW_TOKENS)
        out = tmp_path_factory.mktemp(name)
        stderr = (out.parent / f"{name}.stderr").open("w+")
        command = [sys.executable, "-m", f"benchmarks.{name}", *args, "--out", str(out)]
        process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=stderr, text=True)
        runs[name] = Launched(name, process, out, stderr)
    yield runs
    for run in runs.values():
        if run.process.poll() is None:
            run.process.kill()
            run.process.wait()
        run.stderr.close()


def test_overhead_arms_agree_with_the_bare_loop(launched: dict[str, Launched]) -> None:
    figures = launched["overhead"].figures()
    assert figures["outputs_equal_to_sorted_loop"] == {
        "harness: in-process": "6/6",
        "harness: whole process": "6/6",
    }
    assert figures["ratio_vs_sorted"]["bare: length-sorted"] == 1.0
    assert all(r > 0 and math.isfinite(r) for r in figures["ratio_vs_sorted"].values())
    # the three process arms record CPU seconds; the in-process arms do not
    processes = {"harness: whole process", "bare: whole process", "floor: import + load"}
    assert set(figures["cpu_seconds"]) == processes
    assert all(s[0] > 0 for s in figures["cpu_seconds"].values())
    assert figures["whole_process_over_bare_script_cpu"] > 0


def test_vs_lmeval_runs_or_names_the_missing_environment(launched: dict[str, Launched]) -> None:
    if not (REPO / "benchmarks" / ".venv-lmeval" / "bin" / "python").exists():
        code, stderr = launched["vs_lmeval"].finish()
        assert code == 3 and "benchmarks/setup_lmeval.sh" in stderr
        return
    figures = launched["vs_lmeval"].figures()
    assert figures["outputs_equal_to_sorted_loop"] == {"rai-harness": "6/6", "lm-eval": "6/6"}
    assert (
        figures["lmeval_over_harness_evaluation"] > 0 and "lm-eval: whole process" not in figures["seconds"]
    )


def test_warm_cache_run_generates_nothing(launched: dict[str, Launched]) -> None:
    figures = launched["warm_cache"].figures()
    assert figures["warm_requests_sent"] == {"bench_generate": 0}
    assert figures["warm_requests_cached"] == {"bench_generate": 6}


def test_scale_reports_every_size(launched: dict[str, Launched]) -> None:
    figures = launched["scale"].figures()
    assert [row["instances"] for row in figures["sizes"]] == [20, 40]
    assert all(row["peak_rss_mb"] > 0 for row in figures["sizes"])


def test_http_throughput_reaches_the_server(launched: dict[str, Launched]) -> None:
    figures = launched["http_throughput"].figures()
    assert [row["concurrency"] for row in figures["adapter"]] == [1, 4]
    assert all(row["failed"] == 0 for row in figures["adapter"])
    assert figures["whole_engine"]["requests"] == 80  # 0.2 s at the ideal rate 4 / 0.01 s
    pipelining = figures["pipelining"]
    assert pipelining["one window"]["requests"] == pipelining["pipelined"]["requests"] == 80
    # 80 continuations at 2 ms: every arm that scores takes at least 0.16 s
    assert min(pipelining["one window"]["seconds"], pipelining["pipelined"]["seconds"]) >= 0.16


def test_scorers_batched_equals_one_at_a_time(launched: dict[str, Launched]) -> None:
    figures = launched["scorers"].figures()
    assert figures["scorers"]["profanity"]["max_abs_difference_batched_vs_single"] < 1e-6
