"""Run the ``bench_generate`` workload through rai-harness, in-process or as a whole ``harness`` process.

Shared by the overhead, lm-eval, scale and HTTP benchmarks so that all of them time exactly the
code path a user runs. Every run is cold: a fresh run directory and a fresh response cache.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.common import WORKLOAD_PATH, ProcessResult, benchmark_env, harness_command, run_process


@dataclass
class WorkloadRun:
    """Where one run wrote its files; ``process`` is set for whole-process runs."""

    work: Path
    run_dir: Path
    process: ProcessResult | None = None

    def outputs(self) -> dict[str, list[str]]:
        """The generated texts, by instance id."""
        texts: dict[str, list[str]] = {}
        with (self.run_dir / "samples.jsonl").open(encoding="utf-8") as handle:
            for line in handle:
                record = json.loads(line)
                texts[record["id"]] = record["outputs"][0].get("texts", [])
        return texts

    def manifest(self) -> dict[str, Any]:
        """The run's run.json."""
        return json.loads((self.run_dir / "run.json").read_text(encoding="utf-8"))

    def cleanup(self) -> None:
        """Delete the run's temporary folder."""
        shutil.rmtree(self.work, ignore_errors=True)


def enable_workload_plugin() -> None:
    """Make the ``bench_generate`` scenario discoverable in this process (as PYTHONPATH does for children)."""
    if str(WORKLOAD_PATH) not in sys.path:
        sys.path.insert(0, str(WORKLOAD_PATH))


def in_process_run(
    adapter: Any, prompts_file: Path, new_tokens: int, window_size: int = 1024, **scenario: Any
) -> WorkloadRun:
    """One complete scenario run (manifest, samples, metrics) with an already loaded adapter.

    ``scenario`` holds further ``bench_generate`` parameters (``samples``, ``temperature``, ...).
    """
    from harness.config import CacheConfig, HarnessSettings
    from harness.evaluate import ScenarioRun, build_scenario, run_scenario
    from harness.store import ResponseCache

    enable_workload_plugin()
    work = Path(tempfile.mkdtemp(prefix="bench-run-"))
    settings = HarnessSettings(
        progress=False,
        report=False,
        window_size=window_size,
        cache=CacheConfig(path=str(work / "cache.sqlite")),
    )
    scenario_cfg = {
        "name": "bench_generate",
        "prompts": str(prompts_file),
        "max_new_tokens": new_tokens,
        **scenario,
    }
    run_dir = work / "bench_generate"
    scenario = build_scenario(scenario_cfg, adapter, settings, run_dir)
    cache = ResponseCache(Path(settings.cache.path))
    try:
        run_scenario(ScenarioRun(scenario, adapter, run_dir, {"scenario": scenario_cfg}, settings), cache)
    finally:
        cache.close()
    return WorkloadRun(work, run_dir)


def cli_run(
    model_overrides: Sequence[str],
    prompts_file: Path,
    new_tokens: int,
    extra: Sequence[str] = (),
    env: dict[str, str] | None = None,
) -> WorkloadRun:
    """One ``harness`` process on the workload, timed from spawn to exit (``extra`` overrides win)."""
    work = Path(tempfile.mkdtemp(prefix="bench-cli-"))
    overrides = [
        "scenario=bench_generate",
        *model_overrides,
        f"scenario.prompts={prompts_file}",
        f"scenario.max_new_tokens={new_tokens}",
        "progress=false",
        "report=false",
        f"hydra.run.dir={work / 'run'}",
        f"cache.path={work / 'cache.sqlite'}",
    ]
    replaced = {item.split("=", 1)[0] for item in extra}
    overrides = [o for o in overrides if o.split("=", 1)[0] not in replaced] + list(extra)
    process = run_process(harness_command(overrides), env=benchmark_env(env))
    return WorkloadRun(work, work / "run" / "bench_generate", process)
