"""The ``harness`` command: Hydra runs and sweeps, plus subcommands for everything else.

``harness [overrides...]`` and ``harness -m [sweep overrides...]`` go to Hydra. A first word
that names a subcommand (``list``, ``validate``, ``report``, ``leaderboard``, ``gate``,
``scorer-check``) runs that instead; Hydra overrides always contain ``=``, so the two never
clash (``harness gate=release`` is an override, ``harness gate policy.yaml runs/`` a subcommand).
Every user error ends in one line on stderr and exit status 2, never a traceback. A job that ran
but failed (a scenario's share of errored instances above ``max_error_rate``, a failed sweep job)
exits 1; Ctrl-C exits 130 and SIGTERM 143, both with ``run.json`` marked ``interrupted``.
"""

from __future__ import annotations

import importlib
import os
import signal
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from harness.errors import HarnessError

if TYPE_CHECKING:
    from omegaconf import DictConfig

SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "list": ("harness.commands:list_main", "list installed scenarios and model adapters with their packages"),
    "validate": ("harness.commands:validate_main", "check a scenario's contract on the simulated adapter"),
    "report": ("harness.report.cli:report_main", "HTML/Markdown/CSV report of run directories"),
    "leaderboard": ("harness.report.cli:leaderboard_main", "rank comparable runs (HTML, Markdown, CSV)"),
    "gate": ("harness.gate:gate_main", "apply a release-gate policy to finished runs"),
    "scorer-check": ("harness.scorers.check:main", "measure a toxicity scorer on labelled data"),
}
JOB_ERROR = "job_error.json"
EXIT_USER_ERROR = 2
EXIT_JOB_FAILED = 1
EXIT_INTERRUPTED = 128 + signal.SIGINT  # 130, the shell's status for a process stopped by Ctrl-C
EXIT_TERMINATED = 128 + signal.SIGTERM  # 143


class Terminated(KeyboardInterrupt):
    """SIGTERM (a CI timeout, ``kill``, a scheduler's pre-emption) raised in the main thread.

    A KeyboardInterrupt, so a terminated run is stopped and recorded exactly like one interrupted
    with Ctrl-C: its generation cancelled, its finished samples kept, ``run.json`` marked
    ``interrupted``.
    """


def _terminate(signum: int, frame: object) -> None:
    raise Terminated(f"terminated by signal {signum}")


HELP = """usage: harness [OVERRIDE ...]            run the default suite on the reference model
       harness -m [SWEEP OVERRIDE ...]     sweep (e.g. -m model=a,b seed=0,1)
       harness SUBCOMMAND [ARGS ...]        see `harness SUBCOMMAND --help`

Overrides (Hydra syntax, key=value):
  model=<name>          {models}
  scenario=<name>       {scenarios}   (runs one scenario instead of the suite)
  suite=<name>          {suites}
  gate=<policy>         {gates}   (apply a release gate after the run)
  scenario=path/to/my_scenario.py   run the scenario class defined in one Python file
  plugins=[dir,...]     folders or files of one-file scenarios to make available by name
  seed=0  limit=N  limit_mode=random|first  progress=false  overwrite=true
  cache.enabled=false  cache.clear=true  cache.path=<file>
  model.<key>=...  scenario.<key>=...  suite.scenarios.<name>.<key>=...
  hydra.run.dir=<dir>   run (or resume) into this directory

Subcommands:
{subcommands}

Run directories go under results/runs/<overrides>/ (sweeps: results/sweeps/<name>/).
Hydra's own help: harness --hydra-help
"""


def _help_text() -> str:
    from harness.config import group_options

    subcommands = "\n".join(f"  {name:<14}{description}" for name, (_, description) in SUBCOMMANDS.items())
    return HELP.format(
        models=", ".join(group_options("model")),
        scenarios=", ".join(group_options("scenario")),
        suites=", ".join(group_options("suite")),
        gates=", ".join(group_options("gate")),
        subcommands=subcommands,
    )


def fail(message: str) -> int:
    """Print one error line and return the user-error exit status."""
    from harness.secrets import strip_url_logins

    print(f"harness: error: {strip_url_logins(message)}", file=sys.stderr)
    return EXIT_USER_ERROR


def run_subcommand(name: str, argv: list[str]) -> int:
    """Import and call the function behind a subcommand (lazily, to keep start-up lean)."""
    module_name, _, function_name = SUBCOMMANDS[name][0].partition(":")
    function: Callable[[list[str]], int] = getattr(importlib.import_module(module_name), function_name)
    return int(function(argv) or 0)


def _register_resolvers() -> None:
    from omegaconf import OmegaConf

    if not OmegaConf.has_resolver("harness_dirname"):
        from harness.config import run_dir_name

        OmegaConf.register_new_resolver("harness_dirname", run_dir_name)


def _hydra_main(argv: list[str]) -> int:
    """Validate every job of the command line, then hand it to ``@hydra.main``.

    The validation (:func:`harness.config.preflight`) composes each job with Hydra's compose API
    before ``@hydra.main`` creates any run directory, so a bad key fails with one line and leaves
    nothing behind.
    """
    import hydra

    from harness.config import (
        CONFIG_NAME,
        HYDRA_VERSION_BASE,
        check_gate_override,
        check_output_folder,
        config_dir,
        hydra_overrides,
        preflight,
        searchpath_override,
    )

    multirun = any(a in ("-m", "--multirun") for a in argv)
    outcome: dict[str, int] = {"failed": 0, "exit": 0}
    argv = _with_plugins(argv)
    overrides = hydra_overrides(argv)
    check_gate_override(overrides)
    preflight(overrides, multirun)
    check_output_folder(overrides, multirun)
    argv = [*argv, *searchpath_override(overrides)]
    if multirun and not any(a.startswith("hydra.sweep.dir=") for a in argv):
        argv = [*argv, f"hydra.sweep.dir=results/sweeps/{datetime.now():%Y-%m-%d_%H-%M-%S}"]
    sys.argv = [sys.argv[0], *argv]
    main_of = hydra.main(
        version_base=HYDRA_VERSION_BASE, config_path=str(config_dir()), config_name=CONFIG_NAME
    )
    main_of(_task(outcome))()
    if multirun:
        sweep_dir = next(a.split("=", 1)[1] for a in argv if a.startswith("hydra.sweep.dir="))
        return report_sweep(Path(sweep_dir))
    return outcome["exit"]


def _with_plugins(argv: list[str]) -> list[str]:
    """Load one-file scenarios (``scenario=file.py``, the ``plugins`` search path); returns ``argv``
    with file names replaced by scenario names (:mod:`harness.plugins`)."""
    from harness import plugins
    from harness.config import hydra_overrides, plugin_search_path

    return plugins.prepare(argv, plugin_search_path(hydra_overrides(argv)))


def _task(outcome: dict[str, int]) -> Callable[[DictConfig], int]:
    """The Hydra task function: runs one job, counting failures and keeping the first exit status."""

    def task(cfg: DictConfig) -> int:
        from hydra.core.hydra_config import HydraConfig

        code = run_task(cfg, Path(HydraConfig.get().runtime.output_dir))
        if code:
            outcome["failed"] += 1
            outcome["exit"] = outcome["exit"] or code
        return code

    return task


def run_task(cfg: object, job_dir: Path) -> int:
    """Run one Hydra job; returns its exit status (errors are printed, not raised)."""
    from harness.evaluate import error_rate_failures, run_job, summary_table
    from harness.run_lock import RunDirectoryInUse

    try:
        job = run_job(cfg, job_dir)
    except RunDirectoryInUse as exc:  # the job directory is another process's: leave it alone
        return fail(str(exc))
    except HarnessError as exc:
        from harness.secrets import strip_url_logins
        from harness.store import write_json_atomic

        write_json_atomic(job_dir / JOB_ERROR, {"error": strip_url_logins(str(exc))})
        return fail(str(exc))
    (job_dir / JOB_ERROR).unlink(missing_ok=True)
    print(summary_table(job))
    print(f"\nrun directory: {job_dir}")
    if getattr(cfg, "report", False) and job.runs:
        print(f"report:        {write_job_report(cfg, job_dir)}")
    code = 0
    gate_cfg = getattr(cfg, "gate", None)
    if gate_cfg:
        from omegaconf import OmegaConf

        from harness.gate import evaluate_gate

        policy = OmegaConf.to_container(gate_cfg, resolve=True)
        code = evaluate_gate(policy, [r.run_dir for r in job.runs], job_dir)
    too_many_errors = error_rate_failures(job, float(getattr(cfg, "max_error_rate", 0.1)))
    if too_many_errors:
        print(f"harness: error: {too_many_errors}", file=sys.stderr)
        code = code or EXIT_JOB_FAILED  # a gate's own non-zero verdict is the more specific status
    return code


def write_job_report(cfg: object, job_dir: Path) -> Path:
    """Write the job's report into ``job_dir/report``; returns report.html's path."""
    from harness.report.frames import load_runs
    from harness.report.report import ReportOptions, write_report

    written = write_report(load_runs([str(job_dir)]), job_dir / "report", ReportOptions())
    return next(p for p in written if p.suffix == ".html")


def report_sweep(sweep_dir: Path) -> int:
    """After a sweep: list each job's status and say how to rerun the failed ones."""
    from harness.store import RunDirectory, read_json

    jobs = sorted(p.parent for p in sweep_dir.glob("*/.hydra")) if sweep_dir.exists() else []
    failed = 0
    for job in jobs:
        if (job / JOB_ERROR).exists():
            failed += 1
            print(f"{'failed':<11} {job.name}: {read_json(job / JOB_ERROR)['error']}")
            continue
        for manifest_path in sorted(job.glob("*/run.json")):
            status = (RunDirectory(manifest_path.parent).read_manifest() or {}).get("status", "unknown")
            failed += status != "completed"
            print(f"{status:<11} {manifest_path.parent}")
    print(f"\nsweep directory: {sweep_dir}\nleaderboard:     harness leaderboard {sweep_dir}")
    if failed:
        print(
            f"{failed} job(s) did not complete; rerun the same command with hydra.sweep.dir={sweep_dir} "
            "to resume them (finished runs are not redone).",
            file=sys.stderr,
        )
        return EXIT_JOB_FAILED
    return 0


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``harness`` console script (``argv`` given: for in-process callers)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    _register_resolvers()
    previous_sigterm = signal.signal(signal.SIGTERM, _terminate)
    try:
        if argv and argv[0] in ("-h", "--help", "help"):
            sys.stdout.write(_help_text())
            code = 0
        elif argv and argv[0] == "--hydra-help":
            code = _hydra_main(["--help"])
        elif argv and argv[0] in SUBCOMMANDS:
            code = run_subcommand(argv[0], argv[1:])
        elif argv and not argv[0].startswith("-") and "=" not in argv[0]:
            code = fail(
                f"unknown subcommand {argv[0]!r}; choose one of {', '.join(SUBCOMMANDS)} "
                "or pass key=value overrides"
            )
        else:
            code = _hydra_main(argv)
    except HarnessError as exc:
        code = fail(str(exc))
    except KeyboardInterrupt as exc:
        print(
            "harness: interrupted; finished samples are saved, rerun the same command to resume",
            file=sys.stderr,
        )
        code = EXIT_TERMINATED if isinstance(exc, Terminated) else EXIT_INTERRUPTED
    finally:
        signal.signal(signal.SIGTERM, previous_sigterm)
    sys.exit(code)
