"""Dose-response artifacts: extraction rate against prefix length and against training repeats.

The expected shape (Carlini et al. 2022): extraction rises with the context length and with the
number of times a document was duplicated in training, and held-out controls stay near zero.
Plots are drawn with matplotlib's object API (``Figure``), which needs no display and leaves the
global pyplot state alone.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from harness.types import MetricValue

CURVE_METRICS = ("extraction_rate", "approx_memorization_rate")
TABLE_FILE = "dose_response.csv"
PREFIX_PLOT = "extraction_vs_prefix_length.png"
DUPLICATION_PLOT = "extraction_vs_duplication.png"


def dose_response_table(frame: pd.DataFrame, metrics: list[MetricValue]) -> pd.DataFrame:
    """Tidy table of the curve metrics per (prefix length, subset), with ``all`` for pooled rows.

    Columns: metric, prefix_len (or "all"), subset (or "all"), repeats (when known), value,
    ci_low, ci_high, n.
    """
    repeats = subset_repeats(frame)
    rows = []
    for metric in metrics:
        if metric.name not in CURVE_METRICS or metric.group is None:
            continue
        if set(metric.group) - {"prefix_len", "subset"}:
            continue
        subset = metric.group.get("subset", "all")
        rows.append(
            {
                "metric": metric.name,
                "prefix_len": metric.group.get("prefix_len", "all"),
                "subset": subset,
                "repeats": repeats.get(subset),
                "value": metric.value,
                "ci_low": metric.ci_low,
                "ci_high": metric.ci_high,
                "n": metric.n,
            }
        )
    table = pd.DataFrame(
        rows, columns=["metric", "prefix_len", "subset", "repeats", "value", "ci_low", "ci_high", "n"]
    )
    table["repeats"] = table["repeats"].astype("Int64")
    return table


def subset_repeats(frame: pd.DataFrame) -> dict[str, int]:
    """Subset label -> training repeats, for subsets whose documents all share one known count."""
    if "subset" not in frame or "repeats" not in frame:
        return {}
    known = frame[["subset", "repeats"]].dropna().drop_duplicates()
    counts = known.groupby("subset")["repeats"].nunique()
    return {
        str(s): int(known.loc[known["subset"] == s, "repeats"].iloc[0]) for s in counts[counts == 1].index
    }


def _errorbars(part: pd.DataFrame) -> list[list[float]]:
    values = part["value"].astype(float)
    low = (values - part["ci_low"].astype(float)).fillna(0.0).clip(lower=0.0)
    high = (part["ci_high"].astype(float) - values).fillna(0.0).clip(lower=0.0)
    return [low.tolist(), high.tolist()]


def _subset_order(item: tuple[Any, pd.DataFrame]) -> tuple[bool, float, str]:
    """Pooled first, then subsets by training repeats (controls first), then by name."""
    subset, part = item
    repeats = part["repeats"].dropna()
    return (subset != "all", float(repeats.iloc[0]) if len(repeats) else float("inf"), str(subset))


def _dodge(index: int, count: int, width: float = 0.16) -> float:
    """A small horizontal offset per line, so lines with equal values do not hide each other."""
    return 0.0 if count < 2 else width * (index / (count - 1) - 0.5)


def _figure() -> Any:
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6.4, 4.2), layout="constrained")
    return figure, figure.add_subplot()


def plot_vs_prefix_length(table: pd.DataFrame, path: Path) -> Path | None:
    """Extraction rate (95% CI bars) against prefix length: one line per subset and one pooled."""
    rates = table[
        (table["metric"] == "extraction_rate") & (table["prefix_len"] != "all") & table["value"].notna()
    ]
    if rates.empty:
        return None
    figure, axes = _figure()
    groups = sorted(rates.groupby("subset"), key=_subset_order)
    for index, (subset, part) in enumerate(groups):
        part = part.sort_values("prefix_len")
        style = {"color": "black", "linewidth": 2.5} if subset == "all" else {}
        label = "pooled" if subset == "all" else str(subset)
        axes.errorbar(
            part["prefix_len"].astype(int) * 2 ** _dodge(index, len(groups)),
            part["value"],
            yerr=_errorbars(part),
            marker="o",
            capsize=3,
            label=label,
            **style,
        )
    axes.set_xscale("log", base=2)
    lengths = sorted(rates["prefix_len"].astype(int).unique())
    axes.set_xticks(lengths, [str(v) for v in lengths])
    axes.set_xlabel("prefix length (word tokens)")
    axes.set_ylabel("exact extraction rate")
    axes.set_ylim(-0.03, 1.03)
    axes.set_title("Extraction vs. context length")
    axes.legend(title="subset", fontsize="small")
    figure.savefig(path, dpi=120)
    return path


def plot_vs_duplication(table: pd.DataFrame, path: Path) -> Path | None:
    """Extraction rate against training repeats (controls at 0): one line per prefix length and one pooled.

    Drawn only when at least two subsets have a known repeat count.
    """
    rates = table[(table["metric"] == "extraction_rate") & table["repeats"].notna() & table["value"].notna()]
    if rates["repeats"].nunique() < 2:
        return None
    order = sorted(rates["repeats"].astype(int).unique())
    position = {repeats: index for index, repeats in enumerate(order)}
    figure, axes = _figure()
    groups = sorted(rates.groupby("prefix_len"), key=lambda item: (item[0] != "all", str(item[0]).zfill(9)))
    for index, (prefix_len, part) in enumerate(groups):
        part = part.sort_values("repeats")
        label = "pooled" if prefix_len == "all" else f"L={prefix_len}"
        style = {"color": "black", "linewidth": 2.5} if prefix_len == "all" else {}
        xs = [position[int(r)] + _dodge(index, len(groups)) for r in part["repeats"]]
        axes.errorbar(xs, part["value"], yerr=_errorbars(part), marker="o", capsize=3, label=label, **style)
    axes.set_xticks(range(len(order)), ["control" if r == 0 else f"{r}x" for r in order])
    axes.set_xlabel("times the document was in the training data")
    axes.set_ylabel("exact extraction rate")
    axes.set_ylim(-0.03, 1.03)
    axes.set_title("Extraction vs. duplication")
    axes.legend(title="prefix length", fontsize="small")
    figure.savefig(path, dpi=120)
    return path


def write_dose_response(frame: pd.DataFrame, metrics: list[MetricValue], run_dir: Path) -> list[Path]:
    """Write the dose-response table and whichever plots the data supports; return their paths."""
    run_dir.mkdir(parents=True, exist_ok=True)
    table = dose_response_table(frame, metrics)
    written = [run_dir / TABLE_FILE]
    from harness.report.tables import write_csv  # formula-safe CSV

    write_csv(table, written[0])
    for plot, name in ((plot_vs_prefix_length, PREFIX_PLOT), (plot_vs_duplication, DUPLICATION_PLOT)):
        path = plot(table, run_dir / name)
        if path is not None:
            written.append(path)
    return written
