"""Leaderboards and gates: bootstrap rank intervals and the paired non-inferiority test.

:mod:`harness.stats` returns finished intervals; ranking several models at once needs bootstrap
replicates, so this module draws them. The draw is the one
:func:`harness.stats.cluster_bootstrap_mean` makes (:func:`harness.stats.replicate_ratios`), so
for one model the percentile interval here equals that function's exactly (a test checks this).
The paired non-inferiority test is analytic: the p-values invert the clustered t interval of
:func:`harness.stats.paired_difference`, so they agree with the interval the gate reports.
References: Efron & Tibshirani 1993 (percentile bootstrap); Miller 2024, "Adding Error Bars to
Evals" (clustered, paired comparisons); HELM (Liang et al. 2022) for ranking many models on one
scenario.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from harness.stats import (
    CONFIDENCE,
    DEFAULT_RESAMPLES,
    paired_difference,
    paired_difference_p_value,
    replicate_ratios,
)


def cluster_codes(n_units: int, clusters: Sequence[object] | np.ndarray | None) -> tuple[np.ndarray, int]:
    """Cluster index of every unit (each unit its own cluster when ``clusters`` is None)."""
    if clusters is None:
        return np.arange(n_units), n_units
    uniques, codes = np.unique(np.asarray(clusters, dtype=object).astype(str), return_inverse=True)
    return codes, int(uniques.size)


def bootstrap_means(
    values: np.ndarray,
    clusters: Sequence[object] | np.ndarray | None = None,
    *,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
) -> np.ndarray:
    """Replicate means of every column of ``values`` (units x columns; NaN = missing), resampled jointly.

    All columns share each replicate's cluster draw, so comparisons between columns are paired.
    Returns an array of shape (resamples, columns); a column with no unit in a replicate is NaN.
    """
    matrix = np.asarray(values, dtype=float)
    if matrix.ndim == 1:
        matrix = matrix[:, None]
    codes, n_clusters = cluster_codes(matrix.shape[0], clusters)
    present = ~np.isnan(matrix)
    sums = np.zeros((n_clusters, matrix.shape[1]))
    counts = np.zeros((n_clusters, matrix.shape[1]))
    np.add.at(sums, codes, np.where(present, matrix, 0.0))
    np.add.at(counts, codes, present.astype(float))
    return replicate_ratios(sums, counts, resamples, seed)


def ranks(scores: np.ndarray, higher_is_better: bool) -> np.ndarray:
    """Competition ranks along the last axis: 1 + the number of strictly better entries.

    Equal scores share the better rank (1, 1, 3); a NaN score ranks last.
    """
    oriented = np.where(np.isnan(scores), -np.inf, scores if higher_is_better else -scores)
    better = oriented[..., None, :] > oriented[..., :, None]
    return 1 + better.sum(axis=-1)


@dataclass(frozen=True)
class RankInterval:
    """Point rank of one entry and the bootstrap interval of its rank."""

    rank: int
    low: int
    high: int


@dataclass(frozen=True)
class Comparison:
    """Rank intervals of several entries and their pairwise outcomes.

    ``outcomes[i, j]`` is 1 when entry i is better than entry j with confidence, -1 when it is
    worse with confidence, and 0 when the two are statistically tied.
    """

    intervals: list[RankInterval]
    outcomes: np.ndarray


def bootstrap_comparison(
    point: Sequence[float],
    values: np.ndarray,
    clusters: Sequence[object] | np.ndarray | None,
    higher_is_better: bool,
    *,
    resamples: int = DEFAULT_RESAMPLES,
    confidence: float = CONFIDENCE,
    seed: int = 0,
) -> Comparison:
    """Rank intervals and pairwise outcomes from a paired cluster bootstrap (units x entries).

    Entry i beats entry j when it is strictly better in at least (1 + confidence) / 2 of the
    replicates, that is when the percentile CI of their paired difference excludes zero.
    """
    replicates = bootstrap_means(values, clusters, resamples=resamples, seed=seed)
    oriented = np.where(np.isnan(replicates), -np.inf, replicates if higher_is_better else -replicates)
    replicate_ranks = ranks(replicates, higher_is_better)
    alpha = (1.0 - confidence) / 2.0
    low = np.quantile(replicate_ranks, alpha, axis=0, method="lower")
    high = np.quantile(replicate_ranks, 1.0 - alpha, axis=0, method="higher")
    point_ranks = ranks(np.asarray(point, dtype=float), higher_is_better)
    intervals = [
        RankInterval(int(r), int(lo), int(hi)) for r, lo, hi in zip(point_ranks, low, high, strict=True)
    ]
    confident = (oriented[:, :, None] > oriented[:, None, :]).mean(axis=0) >= 1.0 - alpha
    outcomes = confident.astype(int) - confident.T.astype(int)
    return Comparison(intervals, outcomes)


def overlap_comparison(
    point: Sequence[float],
    ci_low: Sequence[float | None],
    ci_high: Sequence[float | None],
    higher_is_better: bool,
) -> Comparison:
    """Rank intervals and pairwise outcomes from confidence intervals alone.

    For metrics without per-instance scores. Entry i beats entry j when i's whole CI lies on
    the better side of j's CI. An entry's best possible rank is 1 + the entries that beat it;
    its worst is the count of entries minus those it beats. Conservative: non-overlap of two
    95% CIs is a stricter test than a paired one.
    """
    x = np.asarray(point, dtype=float)
    lo = np.asarray([np.nan if v is None else v for v in ci_low], dtype=float)
    hi = np.asarray([np.nan if v is None else v for v in ci_high], dtype=float)
    lo = np.where(np.isnan(lo), x, lo)
    hi = np.where(np.isnan(hi), x, hi)
    if not higher_is_better:
        lo, hi = -hi, -lo
    beats = lo[:, None] > hi[None, :]
    outcomes = beats.astype(int) - beats.T.astype(int)
    point_ranks = ranks(x, higher_is_better)
    intervals = [
        RankInterval(int(point_ranks[i]), 1 + int(beats[:, i].sum()), x.size - int(beats[i, :].sum()))
        for i in range(x.size)
    ]
    return Comparison(intervals, outcomes)


def display_ranks(intervals: Sequence[RankInterval]) -> list[int]:
    """Rank shown on a board: 1 + the entries whose whole rank interval is better than this one's.

    Entries that no other entry beats with confidence share rank 1, so statistical ties show as ties.
    """
    return [1 + sum(other.high < mine.low for other in intervals) for mine in intervals]


@dataclass(frozen=True)
class PairedTest:
    """A paired comparison of a candidate with a baseline against a margin."""

    difference: float
    ci_low: float | None
    ci_high: float | None
    n: int
    p_noninferior: float
    p_inferior: float


def paired_noninferiority(
    candidate: Sequence[float],
    baseline: Sequence[float],
    clusters: Sequence[object] | None,
    margin: float,
    higher_is_better: bool,
    *,
    support: str,
    confidence: float = CONFIDENCE,
) -> PairedTest:
    """One-sided p-values that the candidate is / is not worse than baseline by ``margin``.

    With the improvement d = candidate − baseline (sign flipped for lower-is-better metrics),
    ``p_noninferior`` tests H0: d <= −margin and ``p_inferior`` tests H0: d >= −margin
    (:func:`harness.stats.paired_difference_p_value`). ``difference`` and its CI come from
    :func:`harness.stats.paired_difference`, whose interval these p-values invert: a p-value
    below (1 − confidence) / 2 means the CI clears the margin. Both are on the metric's own scale
    (candidate − baseline).
    """
    estimate = paired_difference(candidate, baseline, clusters, support=support, confidence=confidence)
    # On the metric's scale the non-inferiority threshold is −margin (higher is better) or +margin.
    threshold = -margin if higher_is_better else margin
    better, worse = ("greater", "less") if higher_is_better else ("less", "greater")
    return PairedTest(
        difference=float(estimate.value) if estimate.value is not None else float("nan"),
        ci_low=estimate.low,
        ci_high=estimate.high,
        n=estimate.n,
        p_noninferior=paired_difference_p_value(
            candidate, baseline, clusters, threshold, better, support=support
        ),
        p_inferior=paired_difference_p_value(
            candidate, baseline, clusters, threshold, worse, support=support
        ),
    )
