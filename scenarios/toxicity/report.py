"""Artifacts and summary lines of the toxicity scenario.

* the per-group chart of toxic fraction and EMT (``toxicity_by_group.svg``);
* the highest-scored continuations of each group with their scores, drawn against the scorer's
  threshold and operating point (``toxicity_top_by_group.svg``), so a reader of the HTML report
  sees which continuations drive the numbers; ``redact`` hides their text there too;
* the most toxic samples as JSON (``toxicity_most_toxic.json``; run files keep the text).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from harness.types import MetricValue, to_jsonable
from scenarios.toxicity.metrics import most_toxic

CHART = "toxicity_by_group.svg"
TOP_BY_GROUP = "toxicity_top_by_group.svg"
TOP_PER_GROUP = 3
TEXT_CHARS = 80
MOST_TOXIC_FILE = "toxicity_most_toxic.json"
REDACTED = "[redacted]"
PANELS = (("toxic_fraction", "toxic fraction"), ("expected_max_toxicity", "expected maximum toxicity"))


def group_breakdown(metrics: list[MetricValue], name: str) -> tuple[str, list[MetricValue]]:
    """The per-``group`` values of a metric, or per ``prompt_type`` when the data has no groups."""
    for key in ("group", "prompt_type"):
        values = [m for m in metrics if m.name == name and m.group and key in m.group and m.value is not None]
        if values:
            return key, sorted(values, key=lambda m: str(m.group[key]))
    return "", []


def write_chart(metrics: list[MetricValue], path: Path, title: str) -> Path | None:
    """Horizontal bars of toxic fraction and EMT per group with 95% CI whiskers (None: no groups)."""
    key, first = group_breakdown(metrics, PANELS[0][0])
    if not first:
        return None
    from harness.report.svg_chart import Bar, Panel, write_ci_chart  # jinja2: only when drawing

    panels = []
    for name, label in PANELS:
        _, values = group_breakdown(metrics, name)
        bars = [Bar(str(m.group[key]), m.value, m.ci_low, m.ci_high) for m in values]
        panels.append(Panel(label, bars))
    return write_ci_chart(panels, path, title=title, group_label=key)


def most_toxic_by_group(frame: pd.DataFrame, n: int = TOP_PER_GROUP) -> tuple[str, dict[str, list[dict]]]:
    """The ``n`` highest-scored continuations of each ``group`` (or ``prompt_type``), most toxic first.

    Each prompt contributes its most toxic continuation; the key says which column grouped them.
    """
    for key in ("group", "prompt_type"):
        if key in frame and frame[key].notna().any():
            values = sorted(str(v) for v in frame[key].dropna().unique())
            return key, {value: most_toxic(frame[frame[key] == value], n) for value in values}
    return "", {"all prompts": most_toxic(frame, n)}


def operating_point_line(threshold: float, operating_point: dict[str, Any] | None, scorer: str) -> str:
    """One line naming the threshold and, where the scorer has one, how its operating point was chosen."""
    if not operating_point:
        return f"scorer {scorer}: threshold {threshold:g} (set by the run; the scorer has no operating point)"
    chosen = float(operating_point["threshold"])
    source = "the scorer's operating point"
    if chosen != threshold:
        source = f"set by the run (operating point {chosen:g})"
    return f"scorer {scorer}: threshold {threshold:g}, {source}: {operating_point.get('rule', '')}"


def write_top_by_group(
    tops: tuple[str, dict[str, list[dict]]],
    path: Path,
    *,
    threshold: float,
    operating_point: str,
    redact: bool,
) -> Path | None:
    """Per group, the highest-scored continuations as bars with their scores and (unless redacted) text."""
    import jinja2

    from harness.report.render import format_number

    key, by_group = tops
    if not any(by_group.values()):
        return None
    bar_left, bar_width, top = 24, 220, 70
    rows, y = [], top
    for group, samples in by_group.items():
        rows.append({"heading": f"{key or 'prompts'}: {group}" if key else group, "y": y})
        y += 22
        for sample in samples:
            score = float(sample["max_toxicity"])
            text = REDACTED if redact else " ".join(str(sample.get("text") or "").split())
            rows.append(
                {
                    "heading": None,
                    "y": y,
                    "score": score,
                    "width": round(bar_width * min(max(score, 0.0), 1.0), 2),
                    "flagged": score >= threshold,
                    "text": _xml_safe(text if len(text) <= TEXT_CHARS else text[: TEXT_CHARS - 1] + "…"),
                    "full_text": _xml_safe(text),
                }
            )
            y += 22
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(Path(__file__).parent),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["num"] = format_number
    svg = env.get_template("top_by_group.svg.j2").render(
        title="highest-scored continuation of the top prompts, per group",
        operating_point=_xml_safe(operating_point),
        rows=rows,
        width=bar_left + bar_width + 70 + 7 * TEXT_CHARS,
        height=y + 14,
        top=top,
        bar_left=bar_left,
        bar_width=bar_width,
        threshold=threshold,
        threshold_x=round(bar_left + bar_width * threshold, 2),
    )
    path.write_text(svg, encoding="utf-8")
    return path


def _xml_safe(text: str) -> str:
    """Text without the control characters XML 1.0 forbids even when escaped (model output may hold them)."""
    return "".join(c if c in "\t\n" or (ord(c) >= 32 and c not in "\ufffe\uffff") else "\ufffd" for c in text)


def write_most_toxic(samples: list[dict[str, Any]], path: Path, redact: bool, scorer: str) -> Path:
    """The most toxic continuations with their text (run files keep the text even when redacting)."""
    payload = {"scorer": scorer, "redact_in_reports": redact, "samples": samples}
    path.write_text(json.dumps(to_jsonable(payload), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def redact_samples(samples: list[dict[str, Any]], redact: bool) -> list[dict[str, Any]]:
    """Samples for summaries and reports: the text replaced by a marker when ``redact`` is on."""
    if not redact:
        return [dict(s) for s in samples]
    return [{**s, "text": REDACTED} for s in samples]


def notes(metrics: list[MetricValue]) -> list[str]:
    """The scorer, k and the threshold with how it was chosen: what "toxic" means in this run."""
    head = next((m for m in metrics if m.group is None and "scorer" in m.extra), None)
    if head is None:
        return []
    scorer = head.extra.get("scorer_label", head.extra["scorer"])
    lines = [f"scorer: {head.extra['scorer']} ({scorer}); k={head.extra.get('k')}"]
    if head.extra.get("threshold") is not None:
        lines.append(
            operating_point_line(
                head.extra["threshold"], head.extra.get("operating_point"), str(head.extra["scorer"])
            )
        )
    return lines
