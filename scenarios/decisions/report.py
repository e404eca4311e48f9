"""Artifacts and summary lines of the decisions scenario.

* ``decisions_forest.png`` – a forest plot: one panel per attribute, one row per value, its
  discrimination score (mean logit difference from the baseline group) with the 95% interval,
  and the line of no difference;
* ``decisions_worst_templates.csv`` – the templates with the largest discrimination scores, which
  the report shows in the scenario's section (template ids come from user data: text cells are
  formula-escaped here and HTML-escaped there).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

from harness.report.tables import write_rows
from harness.types import MetricValue
from scenarios.decisions.metrics import (
    IMPACT,
    LOGIT,
    PREFERENCE,
    Settings,
    worst_templates,
)

FOREST = "decisions_forest.png"
WORST_CSV = "decisions_worst_templates.csv"
FOCUS_NOTE = (
    "focus group: preferences that differ by demographic may be intended here (a product's audience), "
    "unlike the decisions"
)


def scores(metrics: Sequence[MetricValue], attribute: str) -> list[MetricValue]:
    """The discrimination scores by ``attribute`` (one per non-baseline value), sorted by value."""
    name = f"{LOGIT}_diff_by_{attribute}"
    found = [
        m for m in metrics if m.name == name and m.group and attribute in m.group and m.value is not None
    ]
    return sorted(found, key=lambda m: str(m.group[attribute]) if m.group else "")


def _format(metric: MetricValue) -> str:
    """Value and interval with three decimals."""
    if metric.value is None or not math.isfinite(metric.value):
        return "n/a"
    ci = (
        f" [{metric.ci_low:.3f}, {metric.ci_high:.3f}]"
        if metric.ci_low is not None and metric.ci_high is not None
        else ""
    )
    return f"{metric.value:.3f}{ci}"


def write_forest(metrics: Sequence[MetricValue], settings: Settings, path: Path) -> Path | None:
    """One panel per attribute with each value's discrimination score and interval (None: no scores)."""
    panels = [(a, scores(metrics, a)) for a in settings.attributes]
    panels = [(a, found) for a, found in panels if found]
    if not panels:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    heights = [max(1, len(found)) for _, found in panels]
    figure, axes = plt.subplots(
        len(panels),
        1,
        figsize=(7, 1.2 + 0.45 * sum(heights)),
        gridspec_kw={"height_ratios": heights},
        squeeze=False,
    )
    for axis, (attribute, found) in zip(axes[:, 0], panels, strict=True):
        labels = [f"{m.group[attribute]} vs {m.group.get('reference')}" for m in found if m.group]
        rows = range(len(found))
        values = [float(m.value or 0.0) for m in found]
        lows = [v - (m.ci_low if m.ci_low is not None else v) for v, m in zip(values, found, strict=True)]
        highs = [(m.ci_high if m.ci_high is not None else v) - v for v, m in zip(values, found, strict=True)]
        axis.errorbar(values, list(rows), xerr=[lows, highs], fmt="o", color="#1f4e79", capsize=3)
        axis.axvline(0.0, color="#888888", linestyle="--", linewidth=1)
        axis.set_yticks(list(rows), labels)
        axis.invert_yaxis()
        axis.set_title(attribute, loc="left", fontsize=10)
    axes[-1, 0].set_xlabel("discrimination score: mean logit difference from the baseline (95% CI)")
    figure.suptitle("decisions: discrimination scores by attribute", fontsize=11)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def write_worst_templates(metrics: Sequence[MetricValue], count: int, folder: Path) -> list[Path]:
    """The worst-templates table as CSV (text cells formula-escaped: template ids come from user data)."""
    rows = worst_templates(metrics, count)
    return [write_rows(rows, list(rows[0]), folder / WORST_CSV)] if rows else []


def write(metrics: Sequence[MetricValue], settings: Settings, folder: Path, count: int) -> list[Path]:
    """Every artifact that has data."""
    forest = write_forest(metrics, settings, folder / FOREST)
    return ([forest] if forest else []) + write_worst_templates(metrics, count, folder)


def notes(metrics: Sequence[MetricValue], settings: Settings) -> list[str]:
    """The four-fifths verdict of each attribute and, for focus groups, that preferences may be intended."""
    lines = []
    for attribute in settings.attributes:
        ratio = next((m for m in metrics if m.name == IMPACT.format(attribute)), None)
        if ratio is not None and ratio.value is not None:
            lines.append(
                f"approval ratio lowest/highest by {attribute}: {_format(ratio)} "
                f"({', '.join(ratio.extra['lowest'])} / {', '.join(ratio.extra['highest'])}; "
                f"{ratio.extra['verdict']})"
            )
    if any(m.name == PREFERENCE for m in metrics):
        lines.append(FOCUS_NOTE)
    return lines
