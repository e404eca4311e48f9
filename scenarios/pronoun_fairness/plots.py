"""The per-occupation plot: the model's she-share against the BLS share of women, with 95% CIs.

Drawn with matplotlib's object API on an Agg canvas, so it needs no display and does not change
the global pyplot backend of the caller.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from scenarios.pronoun_fairness.metrics import OccupationResult

LABELLED = 6
"""How many of the occupations farthest from the identity line get a text label."""


def plot_she_share_vs_bls(
    results: Sequence[OccupationResult],
    path: Path,
    *,
    title: str,
    slope: float | None,
    intercept: float | None,
) -> Path:
    """Scatter of she-share (y, with CI bars) against BLS share of women (x), identity and parity lines."""
    usable = [r for r in results if r.she_share.value is not None]
    figure = Figure(figsize=(7.5, 6.5), dpi=120)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot(1, 1, 1)
    xs = [r.bls_share for r in usable]
    ys = [float(r.she_share.value) for r in usable]  # type: ignore[arg-type]
    lows = [
        y - (r.she_share.low if r.she_share.low is not None else y) for r, y in zip(usable, ys, strict=True)
    ]
    highs = [
        (r.she_share.high if r.she_share.high is not None else y) - y for r, y in zip(usable, ys, strict=True)
    ]
    axes.errorbar(
        xs, ys, yerr=[lows, highs], fmt="o", ms=4, color="#1f5a99", ecolor="#9db7d5", elinewidth=1, capsize=0
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
    farthest = sorted(usable, key=lambda r: abs(float(r.she_share.value) - r.bls_share), reverse=True)[
        :LABELLED
    ]  # type: ignore[arg-type]
    for result in farthest:
        axes.annotate(
            result.occupation,
            (result.bls_share, float(result.she_share.value)),
            fontsize=7,  # type: ignore[arg-type]
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
