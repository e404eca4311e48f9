"""Markdown renderings: the report summary and the leaderboard (ready to paste into a README).

Cells are escaped so that a model id or metadata value can neither break the table (``|``,
newlines) nor inject HTML into a Markdown renderer (``<``, ``>``, ``&``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from harness.report.frames import LoadedRun, normalise_group, scorer_names
from harness.report.leaderboard import Leaderboard
from harness.report.render import format_ci, format_number

ARROWS = {"higher_is_better": "↑", "lower_is_better": "↓"}


def sample_size(n: object, n_clusters: object) -> str:
    """``n``, then the resampled clusters in brackets where they are not the rows: "45 (16 clusters)"."""
    if n_clusters is None or n_clusters == n:
        return str(n)
    return f"{n} ({n_clusters} clusters)"


def cell(value: Any) -> str:
    """One escaped Markdown table cell."""
    text = "–" if value is None else str(value)
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return text.replace("|", "\\|").replace("\r", " ").replace("\n", " ")


def titled(name: str, direction: str) -> str:
    """A metric name with an arrow for its direction ('accuracy ↑')."""
    return f"{name} {ARROWS[direction]}" if direction in ARROWS else name


def table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    """A GitHub-flavoured Markdown table."""
    lines = ["| " + " | ".join(cell(h) for h in header) + " |", "|" + "---|" * len(header)]
    lines.extend("| " + " | ".join(cell(v) for v in row) + " |" for row in rows)
    return lines


def leaderboard_markdown(leaderboard: Leaderboard, heading_level: int = 2) -> list[str]:
    """The overall board (mean win rate) and one table per scenario board."""
    h = "#" * heading_level
    lines: list[str] = []
    if leaderboard.overall:
        lines += [f"{h} Overall (mean win rate)", ""]
        boards = [board.board_id for board in leaderboard.boards]
        lines += table(
            ["Rank", "Model", "Mean win rate", "Boards", *[f"{b} rank" for b in boards]],
            [
                [
                    e.rank,
                    e.label,
                    format_number(e.mean_win_rate),
                    e.n_boards,
                    *[e.shown_ranks.get(b) for b in boards],
                ]
                for e in leaderboard.overall
            ],
        )
        lines.append("")
    for board in leaderboard.boards:
        headline = board.headline
        lines += [f"{h} {board.board_id} (version {board.scenario_version})", ""]
        if headline is None:
            lines += ["No metric with a direction: this board is not ranked.", ""]
        ranked = [m for m in board.metrics if m.rank_method]
        header = ["Rank", "Model", "Win rate"]
        header += [f"{titled(m.name, m.direction)} (95% CI)" for m in board.metrics]
        rows = []
        for entry in board.entries:
            first = entry.cells[headline.name] if headline else None
            rank = "–" if first is None else f"{first.shown_rank}{' (tied)' if first.tied else ''}"
            row: list[Any] = [rank, entry.label, format_number(entry.win_rate)]
            for metric in board.metrics:
                c = entry.cells[metric.name]
                row.append(f"{format_number(c.value)} {format_ci(c.ci_low, c.ci_high)}")
            rows.append(row)
        lines += table(header, rows)
        if ranked:
            methods = ", ".join(sorted({f"{m.name}: {m.rank_method}" for m in ranked}))
            lines += ["", f"Ranked by {headline.name if headline else '–'}; rank intervals: {methods}."]
        lines.append("")
    if leaderboard.notes:
        lines += [f"{h} Comparability notes", ""]
        lines += [f"- {cell(note)}" for note in leaderboard.notes]
        lines.append("")
    return lines


def leaderboard_document(leaderboard: Leaderboard, title: str) -> str:
    """A stand-alone Markdown leaderboard page."""
    return "\n".join([f"# {cell(title)}", "", *leaderboard_markdown(leaderboard)])


def report_markdown(runs: Sequence[LoadedRun], title: str, leaderboard: Leaderboard | None) -> str:
    """The report summary: metrics with CIs per scenario, the leaderboard, and the runs."""
    lines = [f"# {cell(title)}", ""]
    lines.append(
        f"{len(runs)} runs, {len({r.label for r in runs})} models, "
        f"{len({r.scenario for r in runs})} scenarios. "
        "Intervals are 95% confidence intervals (docs/statistics.md); n counts scored instances, "
        "with the clusters the interval resamples in brackets where they differ; errors count failed ones."
    )
    lines.append("")
    for scenario in sorted({run.scenario for run in runs}):
        lines += [f"## {cell(scenario)}", ""]
        rows = []
        for run in (r for r in runs if r.scenario == scenario):
            for record in run.metric_records:
                if record.get("group"):
                    continue
                rows.append(
                    [
                        run.label,
                        titled(str(record.get("name")), str(record.get("direction"))),
                        format_number(record.get("value")),
                        format_ci(record.get("ci_low"), record.get("ci_high")),
                        sample_size(record.get("n"), record.get("n_clusters")),
                        record.get("n_errors"),
                    ]
                )
        lines += (
            table(["Model", "Metric", "Value", "95% CI", "n", "Errors"], rows) if rows else ["No metrics."]
        )
        grouped = sorted(
            {
                (str(r.get("name")), ", ".join(k for k, _ in normalise_group(r["group"])))
                for run in runs
                if run.scenario == scenario
                for r in run.metric_records
                if r.get("group")
            }
        )
        if grouped:
            lines += [
                "",
                "Group breakdowns (see report.html): " + ", ".join(f"{m} by {k}" for m, k in grouped),
            ]
        lines.append("")
    if leaderboard is not None:
        lines += ["## Leaderboard", ""]
        lines += leaderboard_markdown(leaderboard, heading_level=3)
    lines += ["## Runs", ""]
    lines += table(
        ["Run", "Model", "Revision / hash", "Scenario", "Seed", "Status", "Dataset", "Scorers"],
        [
            [
                run.run_id,
                run.label,
                str(run.model.get("revision") or run.model.get("weights_hash") or "–")[:12],
                f"{run.scenario} v{run.scenario_version}",
                run.seed,
                run.status,
                str(run.manifest.get("dataset_fingerprint") or "–")[:12],
                scorer_names(run.manifest.get("scorers")) or "–",
            ]
            for run in runs
        ],
    )
    lines.append("")
    return "\n".join(lines)
