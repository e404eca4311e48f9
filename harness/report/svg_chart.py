"""Charts of estimates with 95% confidence intervals, written as standalone SVG files.

Every scenario reports rates with intervals, and the most common chart is the same one: a
horizontal bar per group with its interval as a whisker, one panel per metric, groups shared
across panels. matplotlib drew these before; importing it and rendering a PNG took about half a
second, a quarter of a fully cached rerun of the default suite, to draw a few dozen rectangles.
These charts are geometry computed here and markup written by a jinja2 template
(``ci_chart.svg.j2``, autoescaped: group labels come from data). They stay sharp at any zoom,
their numbers can be searched, and the HTML report embeds them like any other image. Plots that
need real plotting (scatter plots with fitted lines) still use matplotlib.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from harness.report.render import Scale, environment

ROW_HEIGHT = 22
LABEL_WIDTH = 170
PANEL_WIDTH = 330
PANEL_GAP = 30
TOP = 44
AXIS_HEIGHT = 46
TICKS = (0.0, 0.25, 0.5, 0.75, 1.0)
XML_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
"""Characters XML 1.0 does not allow even escaped; a label holding one would make the file unreadable."""


def _xml_text(text: str) -> str:
    return XML_FORBIDDEN.sub("\ufffd", text)


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


@dataclass(frozen=True)
class Bar:
    """One bar: a group's value and its interval (None where the interval is missing)."""

    label: str
    value: float
    low: float | None = None
    high: float | None = None


@dataclass(frozen=True)
class Panel:
    """One metric's bars, drawn on a shared [0, 1] axis with ``axis_label`` under it."""

    axis_label: str
    bars: Sequence[Bar]


def _bar_geometry(bar: Bar, scale: Scale, left: float, width: float, top: float) -> dict[str, float]:
    def x(value: float) -> float:
        return round(left + width * scale.position(value) / 100.0, 2)

    low, high = _finite(bar.low), _finite(bar.high)
    return {
        "x0": x(0.0),
        "x": x(bar.value),
        "low": x(low if low is not None else bar.value),  # no interval: the whisker is the point
        "high": x(high if high is not None else bar.value),
        "y": top + ROW_HEIGHT * 0.2,
        "height": ROW_HEIGHT * 0.6,
        "middle": top + ROW_HEIGHT / 2,
        "value": bar.value,
        "ci_low": low,
        "ci_high": high,
    }


def write_ci_chart(panels: Sequence[Panel], path: Path, *, title: str, group_label: str) -> Path:
    """Write panels of bars with CI whiskers (rows are the first panel's labels, top to bottom).

    Every panel must cover the same groups in the same order (as matplotlib's shared y axis did).
    Values outside [0, 1] are clipped to the axis; the exact numbers are in each bar's tooltip. A
    missing or non-finite interval bound is drawn as no whisker and shown as "–".
    """
    if not panels:
        raise ValueError("a CI chart needs at least one panel")
    labels = [_xml_text(e.label) for e in panels[0].bars]
    if any([_xml_text(e.label) for e in p.bars] != labels for p in panels):
        raise ValueError("every panel of a CI chart must list the same groups in the same order")
    if any(not math.isfinite(e.value) for p in panels for e in p.bars):
        raise ValueError("a CI chart needs finite values")
    scale = Scale(0.0, 1.0)
    height = TOP + ROW_HEIGHT * len(labels) + AXIS_HEIGHT
    drawn = []
    for index, panel in enumerate(panels):
        left = LABEL_WIDTH + index * (PANEL_WIDTH + PANEL_GAP)
        drawn.append(
            {
                "left": left,
                "width": PANEL_WIDTH,
                "axis_label": _xml_text(panel.axis_label),
                "ticks": [
                    {"x": round(left + PANEL_WIDTH * scale.position(t) / 100.0, 2), "label": f"{t:g}"}
                    for t in TICKS
                ],
                "bars": [
                    _bar_geometry(e, scale, left, PANEL_WIDTH, TOP + row * ROW_HEIGHT)
                    for row, e in enumerate(panel.bars)
                ],
            }
        )
    svg = (
        environment()
        .get_template("ci_chart.svg.j2")
        .render(
            title=_xml_text(title),
            group_label=_xml_text(group_label),
            width=LABEL_WIDTH + len(panels) * (PANEL_WIDTH + PANEL_GAP),
            height=height,
            plot_top=TOP,
            plot_bottom=TOP + ROW_HEIGHT * len(labels),
            row_height=ROW_HEIGHT,
            labels=labels,
            panels=drawn,
        )
    )
    path.write_text(svg, encoding="utf-8")
    return path
