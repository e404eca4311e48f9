"""`harness report` and `harness leaderboard`: argument parsing and exit codes.

Exit codes: 0 written; 2 the command could not run (bad arguments, no run directories found,
malformed run files, or runs that differ in a comparability key under ``--refuse-mismatch``).
Errors are printed as one line naming the file or key, never as a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from harness.errors import HarnessError
from harness.report.frames import load_runs
from harness.report.leaderboard import parse_headlines
from harness.report.report import ReportOptions, write_leaderboard, write_report

EXIT_OK = 0
EXIT_USAGE = 2


def default_out_dir(paths: list[str], name: str) -> Path:
    """``<dir>/<name>`` when a single directory is given (a sweep or run), else ``results/<name>``."""
    if len(paths) == 1 and Path(paths[0]).is_dir():
        return Path(paths[0]) / name
    return Path("results") / name


def _parser(prog: str, description: str, title: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("paths", nargs="+", help="run directories, sweep directories or globs")
    parser.add_argument("--out", type=Path, help="output folder (default: <dir>/report or results/report)")
    parser.add_argument("--title", default=title, help="page title")
    parser.add_argument(
        "--metric",
        action="append",
        default=[],
        metavar="SCENARIO=METRIC",
        help="headline metric that ranks a scenario (default: its first metric with a direction); repeatable",
    )
    parser.add_argument(
        "--refuse-mismatch",
        action="store_true",
        help="fail (exit 2) instead of splitting runs whose comparability keys differ into separate boards",
    )
    parser.add_argument("--resamples", type=int, default=1000, help="bootstrap resamples for rank intervals")
    parser.add_argument("--seed", type=int, default=0, help="seed of the rank-interval bootstrap")
    return parser


def _run(
    parser: argparse.ArgumentParser, argv: list[str], body: Callable[[argparse.Namespace], list[Path]]
) -> int:
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits on --help (0) and on bad arguments (2)
        return int(exc.code or 0)
    try:
        written = body(args)
    except HarnessError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    for path in written:
        print(path)
    return EXIT_OK


def _options(args: argparse.Namespace, max_samples: int = 0) -> ReportOptions:
    return ReportOptions(
        title=args.title,
        max_samples=max_samples,
        headlines=parse_headlines(args.metric),
        refuse_mismatch=args.refuse_mismatch,
        resamples=args.resamples,
        seed=args.seed,
    )


def report_main(argv: list[str]) -> int:
    """`harness report <runs | sweep dir | glob> ...`: HTML report, Markdown summary, CSV/parquet tables."""
    parser = _parser(
        "harness report",
        "Write a self-contained HTML report, a Markdown summary and CSV/parquet tables for run directories.",
        ReportOptions.title,
    )
    parser.add_argument(
        "--max-samples",
        type=int,
        default=ReportOptions.max_samples,
        help="instances per run in the sample browser (0 = all)",
    )

    def body(args: argparse.Namespace) -> list[Path]:
        runs = load_runs(args.paths)
        out = args.out or default_out_dir(args.paths, "report")
        return write_report(runs, out, _options(args, args.max_samples))

    return _run(parser, argv, body)


def leaderboard_main(argv: list[str]) -> int:
    """`harness leaderboard <runs | sweep dir | glob> ...`: HTML (sortable), Markdown and CSV leaderboards."""
    parser = _parser(
        "harness leaderboard",
        "Rank comparable runs per scenario and overall, with bootstrap rank intervals and mean win rate.",
        "Leaderboard",
    )

    def body(args: argparse.Namespace) -> list[Path]:
        runs = load_runs(args.paths)
        out = args.out or default_out_dir(args.paths, "leaderboard")
        return write_leaderboard(runs, out, _options(args))

    return _run(parser, argv, body)
