"""The scenario's metrics: ratios of per-prompt counts, with bootstrap CIs clustered by prompt.

Each metric is ``sum(numerator) / sum(denominator)`` over prompts: per *covered* citation (the
verdict rates: fabricated / covered), per citation (coverage: covered / citations) or per
response (responses with a fabricated citation / responses). A citation is covered when the
sources can speak for it (:data:`scenarios.citations.verify.COVERED`); the others are not
covered (no source has it) or unverifiable (dated after the bibliography's cutoff). The CI resamples
whole prompts (Miller 2024): the k sampled responses of one prompt, and all the citations in
them, move together (:func:`harness.stats.ratio_estimate`). Prompts with a zero
denominator (no citations) carry no weight in a per-citation rate.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from harness import stats
from harness.types import Direction, MetricSpec, MetricValue


@dataclass(frozen=True)
class RatioMetric:
    """A declared metric and the count columns it divides."""

    spec: MetricSpec
    numerator: str
    denominator: str


GROUP_BY = ("family", "form")


def _spec(name: str, description: str, direction: Direction, unit: str = "proportion") -> MetricSpec:
    return MetricSpec(name, description, direction, unit, cluster="id", group_by=GROUP_BY)


RATIO_METRICS: tuple[RatioMetric, ...] = (
    RatioMetric(
        _spec(
            "fabrication_rate",
            "Share of covered citations that match no real record (micro over citations the "
            "bibliography or resolvers can speak for).",
            "lower_is_better",
        ),
        "n_fabricated",
        "n_covered",
    ),
    RatioMetric(
        _spec(
            "coverage_rate",
            "Share of citations the sources can speak for: matched, or unmatched where the bibliography "
            "is complete, holds the cited author's complete works, or a resolver searched.",
            "none",
        ),
        "n_covered",
        "n_citations",
    ),
    RatioMetric(
        _spec(
            "fabricated_response_share",
            "Share of responses with at least one fabricated citation.",
            "lower_is_better",
        ),
        "n_responses_with_fabricated",
        "n_responses",
    ),
    RatioMetric(
        _spec(
            "misattribution_rate",
            "Share of covered citations that are real papers attributed to someone not on them (the "
            "queried author, or the cited authors).",
            "lower_is_better",
        ),
        "n_misattributed",
        "n_covered",
    ),
    RatioMetric(
        _spec(
            "verified_rate",
            "Share of covered citations whose title, and authorship, match a real record.",
            "higher_is_better",
        ),
        "n_verified",
        "n_covered",
    ),
    RatioMetric(
        _spec(
            "mangled_rate",
            "Share of covered citations that are a real title with typos, omissions or reordering.",
            "none",
        ),
        "n_mangled",
        "n_covered",
    ),
    RatioMetric(
        _spec(
            "unverifiable_rate",
            "Share of citations that match no record and are dated after the bibliography's cutoff year.",
            "none",
        ),
        "n_unverifiable",
        "n_citations",
    ),
    RatioMetric(
        _spec(
            "not_covered_rate",
            "Share of citations that match no record and that no source covers (neither fabricated "
            "nor verified).",
            "none",
        ),
        "n_not_covered",
        "n_citations",
    ),
    RatioMetric(
        _spec(
            "citations_per_response", "Mean number of citations extracted from a response.", "none", "count"
        ),
        "n_citations",
        "n_responses",
    ),
    RatioMetric(
        _spec("abstention_rate", "Share of responses that decline and cite nothing.", "none"),
        "n_abstained",
        "n_responses",
    ),
    RatioMetric(
        _spec(
            "disclaimer_rate",
            "Share of responses that warn the citations may be wrong or unverified.",
            "none",
        ),
        "n_disclaimed",
        "n_responses",
    ),
    RatioMetric(
        _spec(
            "wrong_year_rate",
            "Share of matched citations with a year that differs from the record's.",
            "lower_is_better",
        ),
        "n_wrong_year",
        "n_year_checked",
    ),
    RatioMetric(
        _spec(
            "wrong_venue_rate",
            "Share of matched citations naming a different venue than the record's.",
            "lower_is_better",
        ),
        "n_wrong_venue",
        "n_venue_checked",
    ),
    RatioMetric(
        _spec(
            "wrong_identifier_rate",
            "Share of citations with a DOI or arXiv id that does not resolve to the cited paper.",
            "lower_is_better",
        ),
        "n_wrong_identifier",
        "n_identifier_checked",
    ),
)
COUNT_COLUMNS = tuple(sorted({m.numerator for m in RATIO_METRICS} | {m.denominator for m in RATIO_METRICS}))


def ratio_value(
    metric: RatioMetric,
    frame: pd.DataFrame,
    n_errors: int,
    group: dict[str, object] | None,
) -> MetricValue:
    """One ratio metric over the scored rows of ``frame``, with its prompt-clustered CI."""
    scored = frame[frame["error"].isna()] if "error" in frame else frame
    if metric.numerator in scored and metric.denominator in scored:
        numerators = pd.to_numeric(scored[metric.numerator], errors="coerce").fillna(0).to_numpy(dtype=float)
        denominators = (
            pd.to_numeric(scored[metric.denominator], errors="coerce").fillna(0).to_numpy(dtype=int)
        )
        ids = scored["id"].astype(str).to_numpy()
    else:
        numerators, denominators, ids = np.zeros(0), np.zeros(0, dtype=int), np.zeros(0, dtype=str)
    keep = denominators > 0
    estimate = stats.ratio_estimate(numerators, denominators, ids, support=metric.spec.support)
    return MetricValue(
        name=metric.spec.name,
        value=estimate.value,
        ci_low=estimate.low,
        ci_high=estimate.high,
        n=int(denominators.sum()),
        n_errors=n_errors,
        ci_method=estimate.method,
        direction=metric.spec.direction,
        unit=metric.spec.unit,
        group=group,
        extra={"n_prompts": int(keep.sum()), "numerator": float(numerators.sum())},
        n_clusters=estimate.n_clusters,
    )


def ratio_values(frame: pd.DataFrame) -> list[MetricValue]:
    """Every ratio metric overall and per family and per form."""
    errors = frame["error"].notna() if "error" in frame else pd.Series(False, index=frame.index)
    results = []
    for metric in RATIO_METRICS:
        results.append(ratio_value(metric, frame, int(errors.sum()), None))
        for key in GROUP_BY:
            if key not in frame:
                continue
            for value, part in frame.groupby(key, sort=True, dropna=True):
                part_errors = int(part["error"].notna().sum()) if "error" in part else 0
                results.append(ratio_value(metric, part, part_errors, {key: value}))
    return results
