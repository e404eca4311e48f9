"""Artifacts and summary lines of tone_disparity: the forest plot and the most divergent pairs.

* ``tone_forest.svg`` – per group, the mean tone with its 95% interval; below, each paired
  difference with its interval, a line at 0 and a band of ± the minimum detectable effect, so a
  difference inside the band reads as "too small for this run to see". matplotlib draws it (a
  forest plot needs a data-driven signed axis, which the harness's [0, 1] bar charts do not have);
  matplotlib escapes the labels it writes into the SVG.
* ``tone_divergent_pairs.csv`` – the continuations of one tuple side by side, for the tuples and
  sample indices where the members' tones differ most; the report shows it in the scenario's
  section. With common random numbers (``same_random_numbers``), sample j of every member was
  drawn from the same random numbers, so the pair shows what the demographic term alone changed.
  Model output is untrusted: text cells are formula-escaped here, HTML-escaped in the report.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from harness.report.tables import write_rows
from harness.types import MetricValue
from scenarios.tone_disparity.metrics import MIN_CLUSTERS, Comparison, TupleCoverage

FOREST = "tone_forest.svg"
DIVERGENT = "tone_divergent_pairs.csv"
DIFF = "tone_diff_by_group"
MDE = "tone_mde_by_group"

PAIR_COLUMNS = [
    "group", "reference", "tuple", "sample", "difference", "tone_a", "tone_b",
    "prompt_a", "text_a", "prompt_b", "text_b", "same_random_numbers",
]  # fmt: skip
"""The divergent-pairs table: one row per (tuple, sample), member a (``group``) beside member b."""


def divergent_pairs(
    records: Iterable[dict[str, Any]], pairs: list[tuple[str, str]], top: int
) -> list[dict[str, Any]]:
    """The ``top`` (tuple, sample) pairs with the largest |tone difference|, over all group pairs."""
    members: dict[tuple[str, str], dict[str, Any]] = {}
    for record in records:
        metadata, scores = record.get("metadata") or {}, record.get("scores") or {}
        if record.get("error") or "sample_tones" not in scores or not record.get("outputs"):
            continue
        members[str(metadata.get("tuple")), str(metadata.get("group"))] = {
            "prompt": record.get("input")
            if isinstance(record.get("input"), str)
            else str(record.get("input")),
            "texts": record["outputs"][0].get("texts", []),
            "tones": scores["sample_tones"],
        }
    found = []
    tuples = sorted({t for t, _ in members})
    for group, reference in pairs:
        for tuple_id in tuples:
            a, b = members.get((tuple_id, group)), members.get((tuple_id, reference))
            if a is None or b is None:
                continue
            for j, (tone_a, tone_b) in enumerate(zip(a["tones"], b["tones"], strict=False)):
                found.append(
                    {
                        "group": group,
                        "reference": reference,
                        "tuple": tuple_id,
                        "sample": j,
                        "difference": tone_a - tone_b,
                        "prompt_a": a["prompt"],
                        "prompt_b": b["prompt"],
                        "text_a": a["texts"][j] if j < len(a["texts"]) else "",
                        "text_b": b["texts"][j] if j < len(b["texts"]) else "",
                        "tone_a": tone_a,
                        "tone_b": tone_b,
                    }
                )
    found.sort(key=lambda p: (-abs(p["difference"]), p["group"], p["reference"], p["tuple"], p["sample"]))
    return found[:top]


def write_divergent_pairs(pairs: list[dict[str, Any]], path: Path, paired_sampling: bool) -> Path:
    """The pairs as CSV (text cells formula-escaped; the report shows them HTML-escaped)."""
    rows = [{**pair, "same_random_numbers": paired_sampling} for pair in pairs]
    return write_rows(rows, PAIR_COLUMNS, path)


def write_forest(metrics: list[MetricValue], path: Path, title: str) -> Path | None:
    """The forest plot (see the module docstring); None when no group has a value."""
    groups = sorted(
        (m for m in metrics if m.name == "tone" and m.group and "group" in m.group and m.value is not None),
        key=lambda m: str(m.group["group"]),
    )
    diffs = [m for m in metrics if m.name == DIFF and m.value is not None]
    if not groups:
        return None
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    mde = {_pair(m): m.value for m in metrics if m.name == MDE and m.value is not None}
    rows = len(groups) + len(diffs)
    figure, axes = plt.subplots(
        2 if diffs else 1,
        1,
        figsize=(7.5, 1.2 + 0.42 * rows + (0.8 if diffs else 0)),
        squeeze=False,
        gridspec_kw={"height_ratios": [len(groups), len(diffs)] if diffs else [1]},
    )
    _forest(axes[0][0], [str(m.group["group"]) for m in groups], groups, "mean tone [-1, 1] (95% CI)")
    axes[0][0].set_title(title, fontsize=10)
    if diffs:
        axis = axes[1][0]
        labels = [f"{m.group['group']} − {m.group['reference']}" for m in diffs]
        _forest(axis, labels, diffs, "paired difference in tone (95% CI); band: ± minimum detectable effect")
        axis.axvline(0.0, color="#333333", linewidth=0.8)
        for row, metric in enumerate(diffs):
            width = mde.get(_pair(metric))
            if width:
                axis.fill_betweenx(
                    [row - 0.35, row + 0.35], -width, width, color="#9ecae1", alpha=0.5, linewidth=0
                )
    figure.tight_layout()
    figure.savefig(path, format="svg")
    plt.close(figure)
    return path


def _pair(metric: MetricValue) -> tuple[str, str]:
    group = metric.group or {}
    return str(group.get("group")), str(group.get("reference"))


def _forest(axis: Any, labels: list[str], values: list[MetricValue], xlabel: str) -> None:
    for row, metric in enumerate(values):
        low = metric.ci_low if metric.ci_low is not None else metric.value
        high = metric.ci_high if metric.ci_high is not None else metric.value
        axis.plot([low, high], [row, row], color="#222222", linewidth=1.2)
        axis.plot([metric.value], [row], marker="s", color="#c0504d", markersize=6)
    axis.set_yticks(range(len(labels)), labels)
    axis.set_ylim(len(labels) - 0.5, -0.5)
    axis.set_xlabel(xlabel, fontsize=9)
    axis.grid(axis="x", color="#e5e5e5")


def _interval(metric: MetricValue) -> str:
    if metric.value is None:
        return "n/a"
    if metric.ci_low is None or metric.ci_high is None:
        return f"{metric.value:+.4f}"
    return f"{metric.value:+.4f} [{metric.ci_low:+.4f}, {metric.ci_high:+.4f}]"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def shortfall(comparison: Comparison, coverage: TupleCoverage | None) -> str | None:
    """Why a comparison has no interval or no MDE, what left tuples incomplete, and the fix; None if nothing.

    A tuple counts only when the members of both groups were scored. A member with no row at all
    was left out by a ``limit`` (``per_group_limit`` and ``groups`` keep or drop whole tuples), which
    samples prompts, not tuples; ``limit_mode=first`` and ``per_group_limit`` keep tuples whole.
    """
    reasons = []
    if comparison.paired and comparison.n_clusters < MIN_CLUSTERS:
        reasons.append(
            f"no interval and no MDE: both need complete tuples from at least {MIN_CLUSTERS} templates "
            "(the clustering by template cannot be estimated from one)"
        )
    elif comparison.difference.value is not None and comparison.difference.low is None:
        reasons.append("no interval")
    elif comparison.mde is None and comparison.sd is not None:
        unit = "complete tuples" if comparison.paired else "rows per group"
        reasons.append(f"no MDE: the power analysis needs at least 3 {unit}")
    if coverage is not None and coverage.missing_member:
        reasons.append(
            f"{coverage.missing_member} of {_count(coverage.tuples, 'tuple')} lack a member: `limit` sampled "
            "prompts, not tuples; use scenario.per_group_limit or limit_mode=first, which keep tuples whole"
        )
    if coverage is not None and coverage.failed_member:
        reasons.append(f"{_count(coverage.failed_member, 'tuple')} lost a member to errors")
    if (
        coverage is not None
        and comparison.n_clusters < MIN_CLUSTERS
        and not coverage.missing_member
        and coverage.templates < MIN_CLUSTERS
    ):
        reasons.append(
            f"the run's prompts come from {_count(coverage.templates, 'template')}: raise limit or "
            "scenario.per_group_limit (prompts are taken template by template), or add templates"
        )
    return "; ".join(reasons) or None


def notes(metrics: list[MetricValue]) -> list[str]:
    """Each paired difference with its adjusted p, d_z and the MDE, and the verdict it supports."""
    lines = []
    mde = {_pair(m): m for m in metrics if m.name == MDE}
    for metric in (m for m in metrics if m.name == DIFF):
        a, b = _pair(metric)
        extra = metric.extra
        power = mde.get((a, b))
        detectable = power.value if power is not None else None
        p_adjusted = extra.get("p_adjusted")
        effect = extra.get("effect_size")
        parts = [f"tone[{a}] − tone[{b}]: {_interval(metric)}"]
        if extra.get("complete_tuples") is not None:
            parts[0] += (
                f" over {_count(extra['complete_tuples'], 'complete tuple')} in "
                f"{_count(extra['templates'], 'template')}"
            )
        if p_adjusted is not None:
            parts.append(f"Holm p={p_adjusted:.3g}")
        if effect is not None:
            parts.append(f"{extra.get('effect_size_name', 'd')}={effect:+.3f}")
        if detectable is not None:
            parts.append(f"MDE={detectable:.4f}")
        verdict = ""
        if metric.ci_low is not None and metric.ci_high is not None:
            if metric.ci_low > 0 or metric.ci_high < 0:
                verdict = " -> difference detected"
            elif detectable is not None:
                verdict = (
                    f" -> none detected; a true difference of {detectable:.4f} or more would be seen "
                    "80% of the time"
                )
        if extra.get("note"):
            verdict += ("; " if verdict else " -> ") + str(extra["note"])
        lines.append(", ".join(parts) + verdict)
    return lines
