"""Leaderboards: rank comparable runs per scenario, with rank intervals and a mean win rate.

* Runs are first split by scenario and comparability key
  (:mod:`harness.report.comparability`); runs that differ are never ranked together.
* Every ungrouped metric with a direction is ranked, respecting its direction. When the
  per-instance scores behind a metric are available (it is a mean of a score column), the rank
  interval comes from a paired cluster bootstrap over the shared instances; otherwise from the
  overlap of the recorded CIs. The rank shown is 1 + the number of entries whose whole rank
  interval is better, so statistically tied entries share a rank.
* The headline metric of a scenario (``--metric scenario=metric``, default: its first
  ungrouped metric with a direction) orders the board and gives the win rate: the share of the
  other entries it beats, a tie counting one half (HELM, Liang et al. 2022). Because every
  number here has an interval, a "win" must be a confident one (the 95% CI of the paired
  difference, or the two CIs, exclude a tie); pairs that are not told apart count as ties. The
  overall board averages each model's win rates over the boards it appears on (HELM's mean
  win rate).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from harness.errors import ConfigError
from harness.report.comparability import ComparableGroup, comparable_groups
from harness.report.frames import LoadedRun, cluster_labels, instance_values
from harness.report.resampling import bootstrap_comparison, display_ranks, overlap_comparison, ranks

RANKED_DIRECTIONS = ("higher_is_better", "lower_is_better")


@dataclass
class MetricCell:
    """One entry's value of one metric on a board, with its rank when the metric is ranked."""

    value: float | None
    ci_low: float | None
    ci_high: float | None
    n: int
    n_errors: int
    rank: int | None = None
    rank_low: int | None = None
    rank_high: int | None = None
    shown_rank: int | None = None
    tied: bool = False


@dataclass
class BoardMetric:
    """A metric column of a board: its direction and how its rank intervals were made."""

    name: str
    direction: str
    unit: str
    headline: bool = False
    rank_method: str | None = None


@dataclass
class BoardEntry:
    """One run on a board."""

    label: str
    run_id: str
    model_id: str
    n_instances: int
    n_errors: int
    cells: dict[str, MetricCell] = field(default_factory=dict)
    win_rate: float | None = None


@dataclass
class Board:
    """Comparable runs of one scenario, ranked."""

    board_id: str
    scenario: str
    scenario_version: str | None
    key: dict[str, Any]
    metrics: list[BoardMetric]
    entries: list[BoardEntry]

    @property
    def headline(self) -> BoardMetric | None:
        """The metric that orders the board and gives the win rate."""
        return next((m for m in self.metrics if m.headline), None)


@dataclass
class OverallEntry:
    """A model's mean win rate over the boards it appears on."""

    label: str
    mean_win_rate: float | None
    n_boards: int
    shown_ranks: dict[str, int | None]
    rank: int = 0


@dataclass
class Leaderboard:
    """All boards, the overall mean-win-rate board and notes (splits, skipped runs)."""

    boards: list[Board]
    overall: list[OverallEntry]
    notes: list[str]


def parse_headlines(specs: Sequence[str]) -> dict[str, str]:
    """``["scenario=metric", ...]`` -> {scenario: metric}; a malformed spec is a ConfigError."""
    headlines: dict[str, str] = {}
    for spec in specs:
        scenario, sep, metric = spec.partition("=")
        if not sep or not scenario or not metric:
            raise ConfigError(
                f"--metric {spec!r}: expected SCENARIO=METRIC, for example toxicity=toxic_fraction"
            )
        headlines[scenario] = metric
    return headlines


def build_leaderboard(
    runs: Sequence[LoadedRun],
    *,
    headlines: Mapping[str, str] | None = None,
    refuse_mismatch: bool = False,
    resamples: int = 1000,
    seed: int = 0,
) -> Leaderboard:
    """Rank every comparable group of runs (see the module docstring)."""
    headlines = dict(headlines or {})
    notes: list[str] = []
    finished = []
    for run in runs:
        if run.metrics_payload is None:
            notes.append(
                f"run {run.run_id} ({run.label}) has no metrics.json (status: {run.status}); skipped."
            )
        else:
            finished.append(run)
    groups, split_notes = comparable_groups(finished, refuse=refuse_mismatch)
    notes.extend(split_notes)
    unknown = set(headlines) - {g.scenario for g in groups}
    if unknown:
        raise ConfigError(
            f"--metric names scenarios with no runs: {', '.join(sorted(unknown))}. "
            f"Scenarios present: {', '.join(sorted({g.scenario for g in groups})) or 'none'}"
        )
    counts: dict[str, int] = {}
    for group in groups:
        counts[group.scenario] = counts.get(group.scenario, 0) + 1
    seen: dict[str, int] = {}
    boards = []
    for group in groups:
        seen[group.scenario] = seen.get(group.scenario, 0) + 1
        board_id = (
            group.scenario if counts[group.scenario] == 1 else f"{group.scenario} [{seen[group.scenario]}]"
        )
        boards.append(
            build_board(board_id, group, headlines.get(group.scenario), resamples=resamples, seed=seed)
        )
    return Leaderboard(boards=boards, overall=overall_board(boards), notes=notes)


def _board_metrics(group: ComparableGroup, headline: str | None) -> list[BoardMetric]:
    metrics: dict[str, BoardMetric] = {}
    for run in group.runs:
        for record in run.metric_records:
            if record.get("group") or record.get("name") in metrics:
                continue
            metrics[record["name"]] = BoardMetric(
                name=record["name"],
                direction=str(record.get("direction") or "none"),
                unit=str(record.get("unit") or ""),
            )
    ranked = [m for m in metrics.values() if m.direction in RANKED_DIRECTIONS]
    if headline is not None:
        if headline not in metrics:
            raise ConfigError(
                f"--metric {group.scenario}={headline}: no such ungrouped metric. "
                f"Metrics of {group.scenario}: {', '.join(metrics) or 'none'}"
            )
        if metrics[headline].direction not in RANKED_DIRECTIONS:
            raise ConfigError(
                f"--metric {group.scenario}={headline}: the metric has no direction (higher or lower is "
                "better), so it cannot rank models. "
                f"Ranked metrics: {', '.join(m.name for m in ranked) or 'none'}"
            )
        metrics[headline].headline = True
    elif ranked:
        ranked[0].headline = True
    return list(metrics.values())


def build_board(
    board_id: str, group: ComparableGroup, headline: str | None, *, resamples: int, seed: int
) -> Board:
    """Rank one group of comparable runs on every directed metric."""
    metrics = _board_metrics(group, headline)
    entries = []
    for run in group.runs:
        entry = BoardEntry(run.label, run.run_id, run.model_id, run.n_instances, run.n_errors)
        for metric in metrics:
            record = run.find_metric(metric.name) or {}
            entry.cells[metric.name] = MetricCell(
                value=_number(record.get("value")),
                ci_low=_number(record.get("ci_low")),
                ci_high=_number(record.get("ci_high")),
                n=int(record.get("n") or 0),
                n_errors=int(record.get("n_errors") or 0),
            )
        entries.append(entry)
    for metric in metrics:
        if metric.direction in RANKED_DIRECTIONS:
            metric.rank_method = _rank_metric(metric, group.runs, entries, resamples=resamples, seed=seed)
    board = Board(board_id, group.scenario, group.runs[0].scenario_version, group.key, metrics, entries)
    if board.headline is not None:
        board.entries = sorted(entries, key=lambda e: _order(board.headline, e))
    return board


def _number(value: Any) -> float | None:
    if value is None:
        return None
    number = float(value)
    return None if np.isnan(number) else number


def _order(metric: BoardMetric, entry: BoardEntry) -> tuple[Any, ...]:
    cell = entry.cells[metric.name]
    sign = -1.0 if metric.direction == "higher_is_better" else 1.0
    value = np.inf if cell.value is None else sign * cell.value
    return (cell.shown_rank or 0, value, entry.label)


def _rank_metric(
    metric: BoardMetric,
    runs: Sequence[LoadedRun],
    entries: Sequence[BoardEntry],
    *,
    resamples: int,
    seed: int,
) -> str:
    """Fill ranks, rank intervals and (for the headline) win rates of one metric; returns the method."""
    higher = metric.direction == "higher_is_better"
    cells = [entry.cells[metric.name] for entry in entries]
    points = [np.nan if c.value is None else c.value for c in cells]
    per_instance = _per_instance_matrix(metric.name, runs) if len(entries) > 1 else None
    if per_instance is not None:
        values, clusters = per_instance
        comparison = bootstrap_comparison(points, values, clusters, higher, resamples=resamples, seed=seed)
        method = "paired bootstrap"
    else:
        comparison = overlap_comparison(points, [c.ci_low for c in cells], [c.ci_high for c in cells], higher)
        method = "CI overlap" if len(entries) > 1 else "single entry"
    shown = display_ranks(comparison.intervals)
    for cell, interval, rank in zip(cells, comparison.intervals, shown, strict=True):
        cell.rank, cell.rank_low, cell.rank_high, cell.shown_rank = (
            interval.rank,
            interval.low,
            interval.high,
            rank,
        )
        cell.tied = shown.count(rank) > 1
    if metric.headline:
        _win_rates(entries, [c.value is not None for c in cells], comparison.outcomes)
    return method


def _win_rates(entries: Sequence[BoardEntry], scored: Sequence[bool], outcomes: np.ndarray) -> None:
    """Share of the other scored entries each entry beats with confidence; a statistical tie counts 1/2."""
    members = [i for i, ok in enumerate(scored) if ok]
    if len(members) < 2:
        return
    for i in members:
        points = [
            1.0 if outcomes[i, j] > 0 else 0.5 if outcomes[i, j] == 0 else 0.0 for j in members if j != i
        ]
        entries[i].win_rate = float(np.mean(points))


def _per_instance_matrix(
    metric: str, runs: Sequence[LoadedRun]
) -> tuple[np.ndarray, np.ndarray | None] | None:
    """Instances x runs matrix of the metric's per-instance values (NaN = errored/missing), and clusters.

    None when any run lacks the per-instance values, so every entry is ranked the same way.
    """
    columns = []
    cluster_key = None
    for run in runs:
        record = run.find_metric(metric)
        values = instance_values(run, record) if record else None
        if values is None:
            return None
        columns.append(values.rename(run.run_id))
        cluster_key = cluster_key or (record.get("extra") or {}).get("cluster")
    table = pd.concat(columns, axis=1, sort=True)
    clusters = cluster_labels(runs, cluster_key, table.index) if cluster_key else None
    return table.to_numpy(dtype=float), clusters


def overall_board(boards: Sequence[Board]) -> list[OverallEntry]:
    """Mean win rate of every model over the boards where it has one, best first."""
    rates: dict[str, list[float]] = {}
    shown: dict[str, dict[str, int | None]] = {}
    for board in boards:
        headline = board.headline
        for entry in board.entries:
            shown.setdefault(entry.label, {})[board.board_id] = (
                entry.cells[headline.name].shown_rank if headline else None
            )
            if entry.win_rate is not None:
                rates.setdefault(entry.label, []).append(entry.win_rate)
    if len(shown) < 2:
        return []
    overall = [
        OverallEntry(
            label=label,
            mean_win_rate=float(np.mean(rates[label])) if rates.get(label) else None,
            n_boards=len(rates.get(label, [])),
            shown_ranks=shown[label],
        )
        for label in shown
    ]
    rates_array = np.asarray([np.nan if e.mean_win_rate is None else e.mean_win_rate for e in overall])
    for entry, rank in zip(overall, ranks(rates_array, higher_is_better=True), strict=True):
        entry.rank = int(rank)
    return sorted(overall, key=lambda e: (e.rank, e.label))


def leaderboard_frame(leaderboard: Leaderboard) -> pd.DataFrame:
    """Tidy table: one row per (board, entry, metric), then one 'overall' row per model."""
    rows = []
    for board in leaderboard.boards:
        for entry in board.entries:
            for metric in board.metrics:
                cell = entry.cells[metric.name]
                rows.append(
                    {
                        "board": board.board_id,
                        "scenario": board.scenario,
                        "scenario_version": board.scenario_version,
                        "model": entry.label,
                        "run": entry.run_id,
                        "metric": metric.name,
                        "headline": metric.headline,
                        "direction": metric.direction,
                        "value": cell.value,
                        "ci_low": cell.ci_low,
                        "ci_high": cell.ci_high,
                        "n": cell.n,
                        "n_errors": cell.n_errors,
                        "rank": cell.shown_rank,
                        "rank_point": cell.rank,
                        "rank_low": cell.rank_low,
                        "rank_high": cell.rank_high,
                        "tied": cell.tied,
                        "rank_method": metric.rank_method,
                        "win_rate": entry.win_rate if metric.headline else None,
                    }
                )
    for entry in leaderboard.overall:
        rows.append(
            {
                "board": "overall",
                "scenario": None,
                "model": entry.label,
                "metric": "mean_win_rate",
                "headline": True,
                "direction": "higher_is_better",
                "value": entry.mean_win_rate,
                "n": entry.n_boards,
                "rank": entry.rank,
            }
        )
    return pd.DataFrame.from_records(rows)
