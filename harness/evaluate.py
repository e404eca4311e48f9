"""One evaluation job: build the adapter once, run each selected scenario, write manifests.

Each scenario gets its own run directory ``<job dir>/<scenario name>/`` holding ``run.json``,
``samples.jsonl`` and ``metrics.json``. The manifest is written when the run starts (status
``running``), and rewritten atomically when it completes or fails, so a crash leaves an honest
record and every finished sample on disk.
"""

from __future__ import annotations

import shutil
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from harness import provenance, registry
from harness.config import HarnessSettings, selected_scenarios, validate_section
from harness.errors import ConfigError, ScenarioSkipped
from harness.model import ModelAdapter
from harness.quiet import quiet_libraries
from harness.run_lock import LOCK_FILES, RunDirectoryLock
from harness.runner import Runner, RunResult, RunSettings
from harness.scenario import Scenario, ScenarioContext
from harness.store import ResponseCache, RunDirectory, write_json_atomic
from harness.types import SCHEMA_VERSION, MetricValue, stable_hash, to_jsonable


def build_adapter(model_cfg: Mapping[str, Any]) -> ModelAdapter:
    """Instantiate the adapter named by ``model.adapter`` with its validated parameters."""
    adapter_cls = registry.load_adapter(str(model_cfg["adapter"]))
    params = validate_section(
        {k: v for k, v in model_cfg.items() if k != "adapter"}, adapter_cls.Params, "model"
    )
    return adapter_cls(params)


def build_scenario(
    scenario_cfg: Mapping[str, Any],
    adapter: ModelAdapter,
    settings: HarnessSettings,
    run_dir: Path,
    cache: ResponseCache | None = None,
) -> Scenario:
    """Instantiate a scenario with validated parameters and check the adapter can serve it."""
    scenario_cls = registry.load_scenario(str(scenario_cfg["name"]))
    params = validate_section(dict(scenario_cfg), scenario_cls.Params, f"scenario[{scenario_cfg['name']}]")
    capabilities = adapter.capabilities()
    missing = set(scenario_cls.requires) - set(capabilities)
    if missing:
        raise ConfigError(
            f"scenario {scenario_cls.name} needs {sorted(c.value for c in missing)} but model adapter "
            f"{adapter.info().adapter} offers only {sorted(c.value for c in capabilities)}"
        )
    context = ScenarioContext(
        seed=settings.seed,
        capabilities=capabilities,
        model_info=adapter.info(),
        run_dir=run_dir,
        bootstrap_resamples=settings.bootstrap_resamples,
        score_store=cache,
        resumed_protocol=None if settings.overwrite else recorded_protocol(run_dir),
    )
    return scenario_cls(params, context)


def recorded_protocol(run_dir: Path) -> str | None:
    """The protocol the manifest in ``run_dir`` records (None without a manifest or a protocol)."""
    manifest = RunDirectory(run_dir).read_manifest()
    scenario = manifest.get("scenario") if isinstance(manifest, dict) else None
    protocol = scenario.get("protocol") if isinstance(scenario, dict) else None
    return protocol if isinstance(protocol, str) else None


@dataclass
class ScenarioRun:
    """Everything needed to write one run directory's manifest."""

    scenario: Scenario
    adapter: ModelAdapter
    run_dir: Path
    config: dict[str, Any]
    settings: HarnessSettings


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def base_manifest(job: ScenarioRun) -> dict[str, Any]:
    """The manifest fields known before the run starts."""
    scenario = job.scenario
    return {
        "schema_version": SCHEMA_VERSION,
        "harness_version": provenance.harness_version(),
        "git_sha": provenance.git_sha(),
        "packages": provenance.package_versions(),
        "config": job.config,
        "scenario": {
            "name": scenario.name,
            "version": scenario.version,
            "params": to_jsonable(scenario.params),
            "protocol": scenario.protocol(),
        },
        "model": to_jsonable(job.adapter.info()),
        "scorers": to_jsonable(scenario.scorers()),
        "seed": job.settings.seed,
        "limit": job.settings.limit,
        "resume_key": resume_key(job),
        "status": "running",
    }


def resume_key(job: ScenarioRun) -> str:
    """What must match for a run directory to be resumed rather than refused."""
    return stable_hash(
        {
            "scenario": [job.scenario.name, job.scenario.version, to_jsonable(job.scenario.params)],
            "model": job.adapter.info().identity(),
            "seed": job.settings.seed,
            "limit": [job.settings.limit, job.settings.limit_mode],
        }
    )


def run_scenario(job: ScenarioRun, cache: ResponseCache | None) -> RunResult:
    """Run (or resume) one scenario into its run directory and return the result.

    The run directory is locked for the whole run (:mod:`harness.run_lock`): a second process
    started on it is refused with one line naming the first one's PID.
    """
    with RunDirectoryLock(job.run_dir):
        return _run_locked(job, cache)


def _empty_run_directory(run_dir: Path) -> None:
    """Delete everything in a run directory but its lock (``overwrite=true``)."""
    for entry in run_dir.iterdir():
        if entry.name in LOCK_FILES:
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()


def _run_locked(job: ScenarioRun, cache: ResponseCache | None) -> RunResult:
    store = RunDirectory(job.run_dir)
    if job.settings.overwrite:
        _empty_run_directory(job.run_dir)
    manifest = base_manifest(job)
    previous = store.read_manifest()
    if previous is None and store.samples_path.exists() and store.samples_path.stat().st_size:
        raise ConfigError(
            f"{job.run_dir} holds samples.jsonl but no run.json, so the configuration that produced "
            "them is unknown and it cannot be resumed. Pass overwrite=true to replace it, or choose "
            "another directory with hydra.run.dir=<path>."
        )
    if previous is not None and previous.get("resume_key") != manifest["resume_key"]:
        raise ConfigError(
            f"{job.run_dir} holds a run of a different configuration (scenario, its parameters, model "
            f"weights, seed or limit differ), so it cannot be resumed. Pass overwrite=true to replace it, "
            f"or choose another directory with hydra.run.dir=<path>."
        )
    recorded = (previous or {}).get("scenario", {}).get("protocol")
    if previous is not None and recorded != manifest["scenario"]["protocol"]:
        raise ConfigError(
            f"{job.run_dir} was started with the {recorded} protocol, but with this model the scenario "
            f"would now run the {manifest['scenario']['protocol']} protocol; one run never mixes protocols. "
            "Give the model its earlier capabilities (for example model.loglikelihood=true), or pass "
            "overwrite=true to start over."
        )
    started = time.time()
    manifest["timings"] = {"started": _now(), "previous_sessions": (previous or {}).get("timings")}
    store.write_manifest(manifest)
    runner = Runner(
        job.scenario,
        job.adapter,
        job.run_dir,
        RunSettings(
            seed=job.settings.seed,
            limit=job.settings.limit,
            limit_mode=job.settings.limit_mode,
            window_size=job.settings.window_size,
            progress=job.settings.progress,
            retry_errors=job.settings.retry_errors,
        ),
        cache,
    )
    try:
        n_seen, _, dataset_fp, plan_fp = runner.execute()
        manifest["dataset_fingerprint"] = dataset_fp
        template_source = job.scenario.template_fingerprint_source()
        manifest["template_hash"] = stable_hash(template_source) if template_source is not None else plan_fp
        manifest["request_plan_hash"] = plan_fp
        metrics, n_instances, n_errors = runner.aggregate()
    except BaseException as exc:
        manifest["status"] = "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"
        manifest["failure"] = f"{type(exc).__name__}: {exc}"
        manifest["timings"].update({"finished": _now(), "duration_s": round(time.time() - started, 3)})
        store.write_manifest(manifest)
        raise
    manifest.update(
        {
            "status": "completed",
            "model": to_jsonable(job.adapter.info()),
            "counts": {"instances": n_instances, "errors": n_errors, "selected": n_seen, **runner.stats},
            "protocol": job.scenario.protocol(),
            "decoding": runner.decoding,
            "execution": job.adapter.execution(),
        }
    )
    manifest["timings"].update({"finished": _now(), "duration_s": round(time.time() - started, 3)})
    store.write_manifest(manifest)
    return RunResult(job.run_dir, metrics, n_instances, n_errors, "completed", job.scenario.notes(metrics))


@dataclass
class JobResult:
    """What one job produced: the runs that completed, and the scenarios skipped with their reasons."""

    runs: list[RunResult]
    skipped: dict[str, str]


JOB_MANIFEST = "job.json"
"""The job's own record, beside its run directories: every scenario's status (and a skip's reason)."""


def run_job(cfg: Any, job_dir: Path) -> JobResult:
    """Run every selected scenario of a composed config into ``job_dir``.

    Every scenario is built (its parameters and data checked) before the first one runs, so a
    mistake in the last scenario of a suite fails before any model time is spent. A scenario
    that raises :class:`ScenarioSkipped` while being built is skipped with one line; the others
    run. ``job.json`` records each scenario's status. The job directory is locked for the whole
    job, like each run directory (:mod:`harness.run_lock`).
    """
    with RunDirectoryLock(job_dir):
        return _run_job_locked(cfg, job_dir)


def _run_job_locked(cfg: Any, job_dir: Path) -> JobResult:
    from omegaconf import OmegaConf

    from harness.config import validate_job_config

    settings = validate_job_config(cfg)
    quiet_libraries()
    resolved = OmegaConf.to_container(cfg, resolve=True)
    scenarios = selected_scenarios(cfg)
    cache = None
    if settings.cache.enabled:
        cache = ResponseCache(Path(settings.cache.path))
        if settings.cache.clear:
            cache.clear()
    adapter = build_adapter(resolved["model"])
    planned: list[ScenarioRun] = []
    skipped: dict[str, str] = {}
    status: dict[str, dict[str, str]] = {}
    try:
        for key, scenario_cfg in scenarios.items():
            scenario_dict = OmegaConf.to_container(scenario_cfg, resolve=True)
            run_dir = job_dir / key
            try:
                scenario = build_scenario(scenario_dict, adapter, settings, run_dir, cache)
            except ScenarioSkipped as exc:
                skipped[key] = str(exc)
                status[key] = {"status": "skipped", "reason": str(exc)}
                print(f"harness: skipped {key}: {exc}", file=sys.stderr)
                continue
            planned.append(ScenarioRun(scenario, adapter, run_dir, resolved, settings))
            status[key] = {"status": "pending"}
        runs = []
        for job in planned:
            key = job.run_dir.name
            status[key] = {"status": "running"}
            write_json_atomic(job_dir / JOB_MANIFEST, {"scenarios": status})
            try:
                runs.append(run_scenario(job, cache))
            except BaseException as exc:
                status[key] = {"status": "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"}
                raise
            status[key] = {"status": "completed"}
    finally:
        write_json_atomic(job_dir / JOB_MANIFEST, {"scenarios": status})
        adapter.close()
        if cache is not None:
            cache.close()
    return JobResult(runs, skipped)


def error_rate_failures(job: JobResult, max_error_rate: float) -> str | None:
    """One line naming every run whose share of errored instances is above ``max_error_rate``.

    Errored instances are never scored, so a run that is mostly errors (an unreachable model, a
    revoked key) would otherwise report metrics over the few survivors and exit 0. None when
    every run is within the limit.
    """
    over = [
        f"{r.run_dir.name}: {r.n_errors} of {r.n_instances} instances errored "
        f"({r.n_errors / r.n_instances:.0%})"
        for r in job.runs
        if r.n_instances and r.n_errors / r.n_instances > max_error_rate
    ]
    if not over:
        return None
    return (
        f"{'; '.join(over)}, above max_error_rate={max_error_rate:g}. The errors are in samples.jsonl "
        "(field 'error'); rerun the same command to retry the errored instances once the cause is fixed"
    )


def summary_table(job: JobResult) -> str:
    """A plain-text table of every ungrouped metric, each run's notes, and the skipped scenarios.

    Each metric shows its CI, n, errors, and the resampled clusters where they differ from n. The
    notes carry what the ungrouped rows cannot: verdicts on grouped metrics (the tone gap between
    two groups, the four-fifths ratios) and caveats.
    """
    lines = [f"{'scenario / metric':<52} {'value':>9} {'95% CI':>21} {'n':>7} {'err':>5} {'clusters':>8}"]
    for result in job.runs:
        lines.append(f"{result.run_dir.name}  ({result.n_instances} instances, {result.n_errors} errors)")
        for metric in result.metrics:
            if metric.group is None:
                lines.append(_metric_line(metric))
        lines.extend(f"  note: {note}" for note in result.notes)
    lines.extend(f"{name}  skipped: {reason}" for name, reason in job.skipped.items())
    return "\n".join(lines)


def _fmt(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"


def _metric_line(metric: MetricValue) -> str:
    ci = f"[{_fmt(metric.ci_low)}, {_fmt(metric.ci_high)}]"
    clusters = "" if metric.n_clusters in (None, metric.n) else str(metric.n_clusters)
    counts = f"{metric.n:>7} {metric.n_errors:>5} {clusters:>8}"
    return f"  {metric.name:<50} {_fmt(metric.value):>9} {ci:>21} {counts}"
