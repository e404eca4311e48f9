"""The per-occupation plot: the model's she-share against the BLS share of women, with 95% CIs.

Drawn with matplotlib's object API on an Agg canvas, so it needs no display and does not change
the global pyplot backend of the caller.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

LABELLED = 6
"""How many of the occupations farthest from the identity line get a text label."""


@dataclass(frozen=True)
class SharePoint:
    """One occupation on the plot: BLS share of women (0–1) and the model's she-share with its CI."""

    occupation: str
    bls_share: float
    she_share: float
    low: float | None
    high: float | None


def plot_she_share_vs_bls(
    points: Sequence[SharePoint], path: Path, *, title: str, slope: float | None, intercept: float | None
) -> Path:
    """Scatter of she-share (y, with CI bars) against BLS share (x), with identity, parity and OLS lines."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # on first use: 0.3 s to import
    from matplotlib.figure import Figure

    figure = Figure(figsize=(7.5, 6.5), dpi=120)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot(1, 1, 1)
    xs = [p.bls_share for p in points]
    ys = [p.she_share for p in points]
    # max(0, ...): an interval never excludes its estimate, but a bound read back from a CSV or an
    # older run may sit a rounding step past it, and matplotlib refuses negative error bars.
    below = [max(0.0, p.she_share - (p.low if p.low is not None else p.she_share)) for p in points]
    above = [max(0.0, (p.high if p.high is not None else p.she_share) - p.she_share) for p in points]
    axes.errorbar(
        xs, ys, yerr=[below, above], fmt="o", ms=4, color="#1f5a99", ecolor="#9db7d5", elinewidth=1, capsize=0
    )
    axes.plot([0, 1], [0, 1], color="#444444", linestyle="-", linewidth=1, label="identity (mirrors BLS)")
    axes.axhline(0.5, color="#999999", linestyle=":", linewidth=1, label="parity (0.5)")
    if slope is not None and intercept is not None:
        axes.plot(
            [0, 1],
            [intercept, intercept + slope],
            color="#c0392b",
            linestyle="--",
            linewidth=1.2,
            label=f"OLS fit (slope {slope:.2f})",
        )
    for point in sorted(points, key=lambda p: abs(p.she_share - p.bls_share), reverse=True)[:LABELLED]:
        axes.annotate(
            point.occupation,
            (point.bls_share, point.she_share),
            fontsize=7,
            xytext=(3, 3),
            textcoords="offset points",
        )
    axes.set_xlim(-0.02, 1.02)
    axes.set_ylim(-0.02, 1.02)
    axes.set_xlabel("BLS share of women in the occupation")
    axes.set_ylabel("model she-share: she / (she + he)")
    axes.set_title(title, fontsize=10)
    axes.legend(loc="upper left", fontsize=8)
    axes.grid(True, alpha=0.3)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)
    return path
