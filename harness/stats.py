"""Statistics shared by every scenario: intervals, the cluster bootstrap, paired tests, multiplicity.

The prompt (or item) is the unit of analysis; samples that share a prompt are clustered
(Miller 2024, "Adding Error Bars to Evals"; science.md §8). Where scipy has the procedure we use
it (Benjamini–Hochberg) and the standard library's normal quantile; the cluster bootstrap and Holm's
step-down are written here because scipy has neither in a clustered / FWER form.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

DEFAULT_RESAMPLES = 2000
CONFIDENCE = 0.95
DRAW_BLOCK_ENTRIES = 2**22  # bootstrap cluster draws per block: 32 MB of int64


@dataclass(frozen=True)
class Estimate:
    """A point estimate with its confidence interval and the number of units behind it."""

    value: float | None
    low: float | None
    high: float | None
    n: int
    method: str


def normal_quantile(probability: float) -> float:
    """The standard normal quantile (the standard library's, so start-up never imports scipy.stats)."""
    return NormalDist().inv_cdf(probability)


def wilson_interval(successes: int, n: int, confidence: float = CONFIDENCE) -> Estimate:
    """Wilson score interval for a binomial proportion (science.md §8).

    (p̂ + z²/2n ± z·sqrt(p̂(1−p̂)/n + z²/4n²)) / (1 + z²/n), in closed form: scipy's
    ``binomtest(...).proportion_ci`` gives the same interval but also computes an exact p-value,
    which made it ~100× slower inside coverage simulations.
    """
    if n == 0:
        return Estimate(None, None, None, 0, "wilson")
    z = normal_quantile(0.5 + confidence / 2.0)
    p = successes / n
    denominator = 1.0 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return Estimate(p, max(0.0, float(centre - half)), min(1.0, float(centre + half)), n, "wilson")


def resampled_clusters(n_clusters: int, resamples: int, seed: int, columns: int = 1) -> Iterator[np.ndarray]:
    """The bootstrap's draws: blocks of rows, each row ``n_clusters`` cluster indices drawn with replacement.

    Every interval, leaderboard and gate takes its replicates from here, so one seed means one
    draw everywhere. Rows come in blocks of at most :data:`DRAW_BLOCK_ENTRIES` draws (times
    ``columns``, the width of what callers gather per draw) so memory stays flat at any number of
    clusters; the rows are the same whatever the block size. Drawing indices and summing what they
    gather is 8-10x faster than drawing multinomial weights (numpy draws one binomial per cluster
    per replicate) and has the same distribution.
    """
    rng = np.random.default_rng(seed)
    block = max(1, DRAW_BLOCK_ENTRIES // (n_clusters * max(1, columns)))
    for start in range(0, resamples, block):
        yield rng.integers(0, n_clusters, size=(min(block, resamples - start), n_clusters))


def replicate_ratios(sums: np.ndarray, counts: np.ndarray, resamples: int, seed: int) -> np.ndarray:
    """Per replicate, the drawn clusters' summed ``sums`` over their summed ``counts``.

    ``sums`` and ``counts`` hold one row per cluster: a vector gives one ratio per replicate
    (shape ``(resamples,)``), a clusters x columns matrix one per column, all columns sharing each
    replicate's draw (shape ``(resamples, columns)``). A ratio with nothing drawn is NaN.
    """
    columns = 1 if sums.ndim == 1 else sums.shape[1]
    blocks = []
    with np.errstate(invalid="ignore", divide="ignore"):
        for drawn in resampled_clusters(len(sums), resamples, seed, columns):
            blocks.append(sums[drawn].sum(axis=1) / counts[drawn].sum(axis=1))
    return np.concatenate(blocks) if blocks else np.empty((0, *sums.shape[1:]))


def cluster_bootstrap_mean(
    values: Sequence[float] | np.ndarray,
    clusters: Sequence[object] | np.ndarray | None = None,
    *,
    resamples: int = DEFAULT_RESAMPLES,
    confidence: float = CONFIDENCE,
    seed: int = 0,
) -> Estimate:
    """Mean of ``values`` with a percentile CI from a bootstrap that resamples whole clusters.

    Without ``clusters`` every value is its own cluster (the ordinary bootstrap). This is the
    ratio estimator of :func:`cluster_bootstrap_ratio` with every denominator 1.
    """
    x = np.asarray(values, dtype=float)
    return cluster_bootstrap_ratio(
        x, np.ones_like(x), clusters, resamples=resamples, confidence=confidence, seed=seed
    )


def cluster_bootstrap_ratio(
    numerators: Sequence[float] | np.ndarray,
    denominators: Sequence[float] | np.ndarray,
    clusters: Sequence[object] | np.ndarray | None = None,
    *,
    resamples: int = DEFAULT_RESAMPLES,
    confidence: float = CONFIDENCE,
    seed: int = 0,
) -> Estimate:
    """sum(numerators) / sum(denominators) with a CI that resamples whole clusters.

    For rates whose units are unevenly spread over prompts (fabricated / citations, summed over
    responses). Each replicate draws clusters with replacement and divides the drawn clusters'
    summed numerators by their summed denominators (:func:`replicate_ratios`). Rows with a zero
    denominator carry no weight.
    """
    top = np.asarray(numerators, dtype=float)
    bottom = np.asarray(denominators, dtype=float)
    keep = bottom > 0
    top, bottom = top[keep], bottom[keep]
    if bottom.size == 0:
        return Estimate(None, None, None, 0, "cluster_bootstrap")
    if clusters is None:
        sums, counts = top, bottom
    else:
        labels = np.asarray(clusters, dtype=object)[keep].astype(str)
        _, codes = np.unique(labels, return_inverse=True)
        sums = np.bincount(codes, weights=top)
        counts = np.bincount(codes, weights=bottom)
    point = float(top.sum() / bottom.sum())
    n_clusters = sums.size
    if n_clusters < 2:
        return Estimate(point, None, None, n_clusters, "cluster_bootstrap")
    replicates = replicate_ratios(sums, counts, resamples, seed)
    alpha = (1.0 - confidence) / 2.0
    low, high = np.quantile(replicates, [alpha, 1.0 - alpha])
    return Estimate(point, float(low), float(high), n_clusters, "cluster_bootstrap")


def cluster_bootstrap_statistic(
    cluster_ids: Sequence[object],
    statistic: Callable[[np.ndarray], float],
    *,
    resamples: int = DEFAULT_RESAMPLES,
    confidence: float = CONFIDENCE,
    seed: int = 0,
) -> Estimate:
    """Percentile CI of any statistic by resampling clusters.

    ``statistic`` receives an array of row indices (rows of the caller's table, drawn by whole
    clusters with replacement) and returns a float; replicates that return NaN are dropped.
    Use this for statistics that are not means (correlations, slopes, gaps).
    """
    ids = np.asarray(cluster_ids, dtype=object).astype(str)
    if ids.size == 0:
        return Estimate(None, None, None, 0, "cluster_bootstrap")
    uniques, codes = np.unique(ids, return_inverse=True)
    members = [np.flatnonzero(codes == c) for c in range(uniques.size)]
    point = float(statistic(np.arange(ids.size)))
    if uniques.size < 2:
        return Estimate(point, None, None, int(uniques.size), "cluster_bootstrap")
    replicates = [
        statistic(np.concatenate([members[c] for c in drawn]))
        for block in resampled_clusters(int(uniques.size), resamples, seed)
        for drawn in block
    ]
    reps = np.asarray(replicates, dtype=float)
    reps = reps[np.isfinite(reps)]
    if reps.size == 0 or not np.isfinite(point):
        return Estimate(
            point if np.isfinite(point) else None, None, None, int(uniques.size), "cluster_bootstrap"
        )
    alpha = (1.0 - confidence) / 2.0
    low, high = np.quantile(reps, [alpha, 1.0 - alpha])
    return Estimate(point, float(low), float(high), int(uniques.size), "cluster_bootstrap")


def fisher_z_interval(r: float, n: int, confidence: float = CONFIDENCE) -> tuple[float | None, float | None]:
    """CI of a correlation coefficient: tanh(atanh(r) ± z / sqrt(n − 3)) (science.md §2)."""
    if n <= 3 or not np.isfinite(r):
        return None, None
    z = normal_quantile(0.5 + confidence / 2.0)
    centre = np.arctanh(np.clip(r, -0.999999, 0.999999))
    half = z / np.sqrt(n - 3)
    return float(np.tanh(centre - half)), float(np.tanh(centre + half))


def holm_adjust(pvalues: Sequence[float]) -> np.ndarray:
    """Holm–Bonferroni step-down adjusted p-values (family-wise error control).

    Written here because scipy offers only FDR procedures; it is the textbook recursion
    p_adj(i) = max_{j<=i} min(1, (m − j + 1) · p_(j)) over sorted p-values.
    """
    p = np.asarray(pvalues, dtype=float)
    m = p.size
    if m == 0:
        return p
    order = np.argsort(p)
    scaled = (m - np.arange(m)) * p[order]
    adjusted_sorted = np.minimum(1.0, np.maximum.accumulate(scaled))
    adjusted = np.empty(m)
    adjusted[order] = adjusted_sorted
    return adjusted


def benjamini_hochberg_adjust(pvalues: Sequence[float]) -> np.ndarray:
    """Benjamini–Hochberg adjusted p-values (false discovery rate control), via scipy."""
    p = np.asarray(pvalues, dtype=float)
    if p.size == 0:
        return p
    from scipy import stats as sps  # imported here: scipy.stats costs 0.5 s of every start-up

    return sps.false_discovery_control(p, method="bh")


def paired_bootstrap_difference(
    candidate: Sequence[float],
    baseline: Sequence[float],
    clusters: Sequence[object] | None = None,
    *,
    resamples: int = DEFAULT_RESAMPLES,
    confidence: float = CONFIDENCE,
    seed: int = 0,
) -> Estimate:
    """Mean of candidate − baseline over paired units, with a cluster-bootstrap CI.

    Pairs must be aligned (same instance at the same position). Pairing removes the
    between-prompt variance that two independent CIs would double count.
    """
    a = np.asarray(candidate, dtype=float)
    b = np.asarray(baseline, dtype=float)
    if a.shape != b.shape:
        raise ValueError(f"paired samples differ in length: {a.size} vs {b.size}")
    estimate = cluster_bootstrap_mean(a - b, clusters, resamples=resamples, confidence=confidence, seed=seed)
    return Estimate(estimate.value, estimate.low, estimate.high, estimate.n, "paired_cluster_bootstrap")
