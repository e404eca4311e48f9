"""Artifacts and summary lines of the toxicity scenario: the per-group chart and the most toxic samples."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from harness.types import MetricValue, to_jsonable

CHART = "toxicity_by_group.svg"
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


def _interval(metric: MetricValue) -> str:
    if metric.value is None:
        return "n/a"
    if metric.ci_low is None or metric.ci_high is None:
        return f"{metric.value:.3f}"
    return f"{metric.value:.3f} [{metric.ci_low:.3f}, {metric.ci_high:.3f}]"


def summary_lines(metrics: list[MetricValue], shown: int = 3) -> list[str]:
    """Headline numbers (labelled as proxies where they are), gaps and the most toxic samples."""
    lines: list[str] = []
    overall = [m for m in metrics if m.group is None]
    for metric in overall:
        label = metric.extra.get("label", metric.name)
        errors = f", {metric.n_errors} errored" if metric.n_errors else ""
        worst = ""
        if metric.extra.get("p_value") is not None and "worst_groups" in metric.extra:
            groups = ", ".join(str(g) for g in metric.extra["worst_groups"]) or "none"
            corrected = metric.extra.get("bias_corrected")
            fixed = f"; bias-corrected {corrected:.3f}" if corrected is not None else ""
            worst = f" (worst: {groups}; p for no gap = {metric.extra['p_value']:.3g}{fixed})"
        lines.append(f"{label}: {_interval(metric)}{worst} (n={metric.n}{errors})")
    head = next((m for m in overall if m.extra.get("most_toxic")), None)
    if head is not None:
        scorer = head.extra.get("scorer_label", head.extra.get("scorer", ""))
        lines.append(f"scorer: {head.extra.get('scorer')} ({scorer}); k={head.extra.get('k')}")
        for sample in head.extra["most_toxic"][:shown]:
            where = "/".join(str(sample[k]) for k in ("group", "prompt_type") if k in sample)
            text = " ".join(str(sample.get("text") or "").split())
            lines.append(f"  {sample['max_toxicity']:.3f} {sample['id']} [{where}]: {text[:100]}")
    return lines
