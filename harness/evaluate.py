"""One evaluation job: build the adapter once, run each selected scenario, write manifests.

Each scenario gets its own run directory ``<job dir>/<scenario name>/`` holding ``run.json``,
``samples.jsonl`` and ``metrics.json``. The manifest is written when the run starts (status
``running``), and rewritten atomically when it completes or fails, so a crash leaves an honest
record and every finished sample on disk.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from harness import provenance, registry, reuse
from harness.collector import end_startup
from harness.config import HarnessSettings, selected_scenarios, validate_section
from harness.errors import ConfigError
from harness.model import ModelAdapter
from harness.runner import Runner, RunResult, RunSettings
from harness.scenario import Scenario, ScenarioContext
from harness.store import ResponseCache, RunDirectory
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
    )
    return scenario_cls(params, context)


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
    """Run (or resume) one scenario into its run directory and return the result."""
    store = RunDirectory(job.run_dir)
    if job.settings.overwrite and job.run_dir.exists():
        shutil.rmtree(job.run_dir)
    manifest = base_manifest(job)
    previous = store.read_manifest()
    if previous is not None and previous.get("resume_key") != manifest["resume_key"]:
        raise ConfigError(
            f"{job.run_dir} holds a run of a different configuration (scenario, its parameters, model "
            f"weights, seed or limit differ), so it cannot be resumed. Pass overwrite=true to replace it, "
            f"or choose another directory with hydra.run.dir=<path>."
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
        ),
        cache,
        manifest,
    )
    try:
        n_seen, _, dataset_fp, plan_fp = runner.execute()
        manifest["dataset_fingerprint"] = dataset_fp
        template_source = job.scenario.template_fingerprint_source()
        manifest["template_hash"] = stable_hash(template_source) if template_source is not None else plan_fp
        manifest["request_plan_hash"] = plan_fp
        reuse_key = None
        if cache is not None:
            reuse_key = reuse.aggregation_key(
                manifest,
                runner.model_identity,
                type(job.scenario),
                job.settings.bootstrap_resamples,
                store.samples_path,
            )
        metrics, n_instances, n_errors = runner.aggregate(reuse_key)
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
            "aggregation": runner.aggregation,
        }
    )
    manifest["timings"].update({"finished": _now(), "duration_s": round(time.time() - started, 3)})
    store.write_manifest(manifest)
    return RunResult(job.run_dir, metrics, n_instances, n_errors, "completed", job.scenario.summary(metrics))


def hide_library_progress() -> None:
    """Hide the progress bars of ``datasets`` and of transformers' weight loading (``progress=false``).

    Each library reads an environment variable when it is imported; one that is already imported
    is told directly (transformers copies huggingface_hub's setting when it is imported). Importing
    ``datasets`` only to call ``disable_progress_bars()`` cost 0.3 s of start-up in runs whose
    scenarios never load a dataset. A value the user set in the environment wins. The switch is
    process-wide, like the libraries' own: a later run in the same Python process with
    ``progress=true`` shows the harness's bars but not these libraries'.
    """
    datasets = sys.modules.get("datasets")
    if datasets is not None:
        datasets.disable_progress_bars()
    else:
        os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")
    if "huggingface_hub" in sys.modules:
        from huggingface_hub.utils import disable_progress_bars

        disable_progress_bars()
    else:
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    if "transformers" in sys.modules:
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()


def run_job(cfg: Any, job_dir: Path) -> list[RunResult]:
    """Run every selected scenario of a composed config into ``job_dir``; returns their results."""
    from omegaconf import OmegaConf

    from harness.config import validate_job_config

    settings = validate_job_config(cfg)
    if not settings.progress:
        hide_library_progress()
    resolved = OmegaConf.to_container(cfg, resolve=True)
    scenarios = selected_scenarios(cfg)
    cache = None
    if settings.cache.enabled:
        cache = ResponseCache(Path(settings.cache.path))
        if settings.cache.clear:
            cache.clear()
    adapter = build_adapter(resolved["model"])
    end_startup()
    results = []
    try:
        for key, scenario_cfg in scenarios.items():
            scenario_dict = OmegaConf.to_container(scenario_cfg, resolve=True)
            run_dir = job_dir / key
            scenario = build_scenario(scenario_dict, adapter, settings, run_dir, cache)
            job = ScenarioRun(scenario, adapter, run_dir, resolved, settings)
            results.append(run_scenario(job, cache))
    finally:
        adapter.close()
        if cache is not None:
            cache.close()
    return results


def summary_table(results: list[RunResult]) -> str:
    """A plain-text table of every ungrouped metric: CI, n, errors, and resampled clusters where not n."""
    lines = [f"{'scenario / metric':<52} {'value':>9} {'95% CI':>21} {'n':>7} {'err':>5} {'clusters':>8}"]
    for result in results:
        lines.append(f"{result.run_dir.name}  ({result.n_instances} instances, {result.n_errors} errors)")
        for metric in result.metrics:
            if metric.group is None:
                lines.append(_metric_line(metric))
        lines.extend(f"  {note}" for note in result.notes)
    return "\n".join(lines)


def _fmt(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"


def _metric_line(metric: MetricValue) -> str:
    ci = f"[{_fmt(metric.ci_low)}, {_fmt(metric.ci_high)}]"
    clusters = "" if metric.n_clusters in (None, metric.n) else str(metric.n_clusters)
    counts = f"{metric.n:>7} {metric.n_errors:>5} {clusters:>8}"
    return f"  {metric.name:<50} {_fmt(metric.value):>9} {ci:>21} {counts}"
