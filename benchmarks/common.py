"""Shared plumbing of the benchmarks: paired timing rounds, processes, machine description, output.

Timings on a shared machine drift, so every benchmark runs its arms in *rounds*: each round times
every arm once (in a rotated order), a round's ratios divide arms timed minutes apart at most,
and the reported ratio is the median over rounds.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "benchmarks" / "out"
WORKLOAD_PATH = REPO / "benchmarks" / "workload"
HARNESS = Path(sys.executable).parent / "harness"


@dataclass
class ProcessResult:
    """A finished child process: wall seconds, CPU seconds (user + system), peak resident memory, output.

    On a shared machine CPU seconds vary less than wall seconds: other jobs delay a process without
    adding to its CPU time.
    """

    seconds: float
    cpu_seconds: float
    peak_rss_mb: float
    stdout: str
    stderr: str


@dataclass
class Rounds:
    """Wall-clock seconds of each arm in each round, and CPU seconds of the arms that ran as processes."""

    times: dict[str, list[float]] = field(default_factory=dict)
    cpu: dict[str, list[float]] = field(default_factory=dict)

    def add(self, arm: str, seconds: float, cpu_seconds: float | None = None) -> None:
        """Record one timing of ``arm`` (with its process's user + system CPU seconds, if it was one)."""
        self.times.setdefault(arm, []).append(seconds)
        if cpu_seconds is not None:
            self.cpu.setdefault(arm, []).append(cpu_seconds)

    def median(self, arm: str, cpu: bool = False) -> float:
        """Median seconds of ``arm`` (CPU seconds with ``cpu``)."""
        return statistics.median((self.cpu if cpu else self.times)[arm])

    def ratio(self, arm: str, baseline: str, cpu: bool = False) -> float:
        """Median over rounds of ``arm / baseline`` (paired by round; CPU seconds with ``cpu``)."""
        seconds = self.cpu if cpu else self.times
        pairs = zip(seconds[arm], seconds[baseline], strict=False)
        return statistics.median(a / b for a, b in pairs)


def run_rounds(
    arms: Mapping[str, Callable[[], ProcessResult | float | None]], rounds: int, log: bool = True
) -> Rounds:
    """Time every arm once per round, rotating the order.

    An arm may return its own timing: seconds, or the :class:`ProcessResult` of the process it ran
    (whose wall and CPU seconds are then recorded).
    """
    result = Rounds()
    names = list(arms)
    for round_index in range(rounds):
        shift = round_index % len(names)
        for name in names[shift:] + names[:shift]:
            started = time.perf_counter()
            own = arms[name]()
            if isinstance(own, ProcessResult):
                seconds, cpu = own.seconds, own.cpu_seconds
            else:
                seconds, cpu = (own if own is not None else time.perf_counter() - started), None
            result.add(name, seconds, cpu)
            if log:
                cpu_note = f"  ({cpu:.2f} s CPU)" if cpu is not None else ""
                print(
                    f"  round {round_index + 1}/{rounds}  {name:<28} {seconds:8.2f} s{cpu_note}",
                    file=sys.stderr,
                    flush=True,
                )
    return result


def arm_rows(rounds: Rounds, baseline: str) -> list[tuple[str, str]]:
    """One table row per arm: median seconds, ratio to ``baseline`` and, for a process, median CPU seconds."""
    rows = []
    for arm in rounds.times:
        ratio = f"{rounds.ratio(arm, baseline):5.2f}x {baseline}"
        cpu = f"   {rounds.median(arm, cpu=True):6.2f} s CPU" if arm in rounds.cpu else ""
        rows.append((arm, f"{rounds.median(arm):8.2f} s   {ratio}{cpu}"))
    return rows


def thread_env(threads: int | None) -> dict[str, str]:
    """Environment that gives child processes the same torch thread count as this one."""
    return {} if threads is None else {"OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}


def benchmark_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """Environment for child processes: offline Hub, the workload plugin on PYTHONPATH."""
    env = dict(os.environ)
    env.update({"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"})
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(WORKLOAD_PATH), env.get("PYTHONPATH", "")) if p)
    env.update(extra or {})
    return env


def run_process(
    command: Sequence[str], env: Mapping[str, str] | None = None, cwd: Path = REPO
) -> ProcessResult:
    """Run ``command`` to completion; raise with its stderr when it fails.

    The child is reaped with ``os.wait4``, which gives its own CPU time and peak RSS (``ru_maxrss``,
    KiB on Linux); its output goes through temporary files so that no pipe can fill up and block it.
    """
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        started = time.perf_counter()
        process = subprocess.Popen(
            list(command), cwd=cwd, env=dict(env or benchmark_env()), stdout=out, stderr=err
        )
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({process.returncode}):\n{stderr[-4000:]}")
    return ProcessResult(seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, stdout, stderr)


def bare_script_command(
    model_dir: Path, prompts_file: Path, args: argparse.Namespace, device: str = "cpu"
) -> list[str]:
    """The workload's whole-process floor (``python -m benchmarks.bare_loop``) with the workload's options."""
    workload = [args.batch_size, args.new_tokens, args.samples, args.top_p]
    files = [str(model_dir), str(prompts_file)]
    return [sys.executable, "-m", "benchmarks.bare_loop", *files, *map(str, workload), device]


def harness_command(overrides: Sequence[str]) -> list[str]:
    """The ``harness`` console script of this environment with Hydra overrides."""
    return [str(HARNESS), *overrides]


def machine() -> dict[str, Any]:
    """The machine and library versions the figures were measured on."""
    import torch
    import transformers

    cpu = "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "load_average": os.getloadavg(),
    }


def report(name: str, figures: dict[str, Any], out_dir: Path = OUT) -> Path:
    """Write a benchmark's figures (plus the machine) to ``out/<name>.json`` and return the path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{name}.json"
    payload = {
        "benchmark": name,
        "machine": machine(),
        "figures": figures,
        "finished": time.strftime("%F %T"),
    }
    path.write_text(json.dumps(payload, indent=2, default=str) + "\n")
    return path


def print_table(title: str, rows: Sequence[tuple[str, str]]) -> None:
    """Print ``rows`` (label, value) under ``title``."""
    print(f"\n{title}")
    width = max(len(label) for label, _ in rows)
    for label, value in rows:
        print(f"  {label:<{width}}  {value}")


def add_generation_workload_arguments(parser: argparse.ArgumentParser) -> None:
    """The generation workload's options, shared by the benchmarks that time it against a bare loop."""
    from benchmarks.models import MODELS

    parser.add_argument("--model", choices=MODELS, default="gpt2-small")
    parser.add_argument("--prompts", type=int, default=256)
    parser.add_argument("--new-tokens", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--threads", type=int, default=None, help="torch threads in every arm (default: torch's)"
    )
    parser.add_argument(
        "--samples", type=int, default=1, help="sampled continuations per prompt (1 = greedy)"
    )
    parser.add_argument("--top-p", type=float, default=0.9, help="nucleus threshold when sampling")


def add_output_arguments(parser: argparse.ArgumentParser, models_help: str) -> None:
    """``--out`` (where figures are written) and ``--models`` (where local models are built)."""
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--models", type=Path, default=OUT / "models", help=models_help)
