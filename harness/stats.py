"""Statistics shared by every scenario, the gate and the leaderboard: intervals, gaps, multiplicity.

The prompt (or item) is the unit of analysis; rows that share a prompt are clustered (Miller
2024, "Adding Error Bars to Evals"). Every :class:`Estimate` records ``n`` (rows) and
``n_clusters`` (the resampling units behind its interval). docs/statistics.md describes each
method, when it is used and its measured coverage.

* Means and ratios (:func:`mean_estimate`, :func:`ratio_estimate`): the cluster-robust
  (linearisation) variance of the ratio estimator. Values in [0, 1] get a Wilson score interval
  on the design-effect-adjusted sample size (Kish 1965) with a t quantile on n_clusters − 1
  degrees of freedom (Korn & Graubard 1998): it never excludes its estimate, is never zero-width
  at 0 or 1, and covers rare events. Other values get the clustered t interval.
* Proportions from counts (:func:`proportion_interval`): statsmodels' Wilson or Clopper–Pearson.
* Disparities (:func:`disparity`): per-group estimates, the max − min gap with an interval that
  covers a true gap of zero, pairwise differences (MOVER, Newcombe 1998) with Holm-adjusted
  p-values (statsmodels), and a permutation test of "no gap" (scipy).
* The cluster bootstrap (:func:`cluster_bootstrap_mean`, :func:`cluster_bootstrap_statistic`) for
  paired gate comparisons, leaderboard ranks and statistics that are not means.

scipy.stats and statsmodels are imported on first use: each costs about 0.5 s of start-up.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any

import numpy as np

DEFAULT_RESAMPLES = 2000
CONFIDENCE = 0.95
DRAW_BLOCK_ENTRIES = 2**22  # bootstrap cluster draws per block: 32 MB of int64
SELECTION_SE = 2.5
"""Standard errors of slack when choosing the groups that may hold the maximum or the minimum (gap)."""
PROPORTION_METHODS = {"wilson": "wilson", "clopper_pearson": "beta"}
"""Our method names -> statsmodels ``proportion_confint`` method names."""


@dataclass(frozen=True)
class Estimate:
    """A point estimate with its confidence interval, the rows behind it and its resampling units."""

    value: float | None
    low: float | None
    high: float | None
    n: int
    method: str
    n_clusters: int | None = None


def normal_quantile(probability: float) -> float:
    """The standard normal quantile (the standard library's, so start-up never imports scipy.stats)."""
    return NormalDist().inv_cdf(probability)


def _t_quantile(probability: float, df: float) -> float:
    """Student t quantile on ``df`` degrees of freedom (the normal one when df is infinite)."""
    if not math.isfinite(df):
        return normal_quantile(probability)
    from scipy import stats as sps

    return float(sps.t.ppf(probability, df))


def _contain(value: float, low: float, high: float, floor: float, ceiling: float) -> tuple[float, float]:
    """Bounds clipped to [floor, ceiling] that contain ``value``, exact at the edges.

    Closed-form bounds can miss 0/n or n/n by one rounding step (1e-17); an interval must never
    exclude its own estimate.
    """
    low = min(max(floor, low), value)
    high = max(min(ceiling, high), value)
    return (floor if value <= floor else low), (ceiling if value >= ceiling else high)


def proportion_interval(
    successes: float, n: float, method: str = "wilson", confidence: float = CONFIDENCE
) -> Estimate:
    """Interval of a binomial proportion from statsmodels' ``proportion_confint``.

    ``method`` is ``wilson`` (Wilson 1927; the default: close to nominal coverage, Brown, Cai &
    DasGupta 2001) or ``clopper_pearson`` (Clopper & Pearson 1934; never below nominal, wider).
    The interval contains the estimate and is never zero-width when n >= 1.
    """
    if method not in PROPORTION_METHODS:
        raise ValueError(
            f"unknown proportion interval {method!r}; choose one of {sorted(PROPORTION_METHODS)}"
        )
    if n <= 0:
        return Estimate(None, None, None, 0, method, 0)
    from statsmodels.stats.proportion import proportion_confint

    p = successes / n
    low, high = proportion_confint(successes, n, alpha=1.0 - confidence, method=PROPORTION_METHODS[method])
    low, high = _contain(p, float(low), float(high), 0.0, 1.0)
    rows = round(n)
    return Estimate(p, low, high, rows, method, rows)


def wilson_interval(successes: int, n: int, confidence: float = CONFIDENCE) -> Estimate:
    """Wilson score interval of ``successes`` out of ``n`` (see :func:`proportion_interval`)."""
    return proportion_interval(successes, n, "wilson", confidence)


def _cluster_variance(sums: np.ndarray, counts: np.ndarray) -> float:
    """Cluster-robust (linearisation) variance of sum(sums) / sum(counts) over G >= 2 clusters.

    G / (G − 1) · Σ_c (y_c − r·m_c)² / (Σ m_c)²: the sandwich variance of Liang & Zeger (1986),
    equal to statsmodels' cluster-robust standard error of an intercept-only regression (a test
    checks this); written out because fitting a model per group and metric is slow.
    """
    g = sums.size
    residuals = sums - sums.sum() / counts.sum() * counts
    return float(g / (g - 1) * (residuals @ residuals) / counts.sum() ** 2)


def _quantile(confidence: float, n_clusters: int) -> float:
    """The two-sided quantile of an interval on ``n_clusters`` clusters: t(G − 1), or z for one cluster."""
    return _t_quantile(0.5 + confidence / 2.0, n_clusters - 1 if n_clusters >= 2 else math.inf)


def _from_totals(
    sums: np.ndarray, counts: np.ndarray, rows: int, bounded: bool, confidence: float
) -> tuple[Estimate, float]:
    """The estimate and interval of a ratio from its per-cluster totals, and the quantile used."""
    g = int(sums.size)
    if g == 0:
        return Estimate(None, None, None, 0, "cluster_wilson", 0), math.nan
    point = float(sums.sum() / counts.sum())
    quantile = _quantile(confidence, g)
    variance = _cluster_variance(sums, counts) if g >= 2 else 0.0
    if not bounded:
        if g < 2:
            return Estimate(point, None, None, rows, "cluster_t", g), quantile
        half = quantile * math.sqrt(variance)
        return Estimate(point, point - half, point + half, rows, "cluster_t", g), quantile
    low, high = _cluster_wilson(point, variance, g, quantile)
    return Estimate(point, low, high, rows, "cluster_wilson", g), quantile


def _cluster_wilson(point: float, variance: float, n_clusters: int, quantile: float) -> tuple[float, float]:
    """Wilson bounds on the design-effect-adjusted sample size, at a t quantile (statsmodels' Wilson).

    n_eff = p(1 − p) / var (Kish 1965); where the variance cannot tell (p at 0 or 1, or no
    variation between clusters) n_eff is the number of clusters. statsmodels' Wilson takes a
    level, not a quantile, so the t quantile is passed as the normal level that has it.
    """
    from scipy import stats as sps
    from statsmodels.stats.proportion import proportion_confint

    spread = point * (1.0 - point)
    n_eff = spread / variance if variance > 0 and spread > 0 else float(n_clusters)
    alpha = 2.0 * float(sps.norm.sf(quantile))  # scipy's tail stays accurate at t(1 df) = 12.7
    low, high = proportion_confint(point * n_eff, n_eff, alpha=alpha, method="wilson")
    return _contain(point, float(low), float(high), 0.0, 1.0)


def _cluster_codes(clusters: Sequence[object] | np.ndarray | None, size: int) -> np.ndarray:
    """Integer cluster code of every row (each row its own cluster without ``clusters``)."""
    if clusters is None:
        return np.arange(size)
    return np.unique(np.asarray(clusters, dtype=object).astype(str), return_inverse=True)[1]


def ratio_estimate(
    numerators: Sequence[float] | np.ndarray,
    denominators: Sequence[float] | np.ndarray,
    clusters: Sequence[object] | np.ndarray | None = None,
    *,
    confidence: float = CONFIDENCE,
) -> Estimate:
    """sum(numerators) / sum(denominators) with a cluster-robust interval; zero-denominator rows drop out.

    When every numerator lies in [0, its denominator] the ratio is a proportion-like quantity in
    [0, 1] and gets the ``cluster_wilson`` interval: Wilson's score interval on the effective
    sample size n_eff = r(1 − r) / var (the design effect of Kish 1965), with the t quantile on
    G − 1 degrees of freedom in place of z (Korn & Graubard 1998). Where the variance cannot say
    how much the rows vary (r at 0 or 1, or every cluster alike) n_eff is the number of clusters,
    as if each cluster were one Bernoulli trial. Other ratios get the ``cluster_t`` interval
    r ± t · sqrt(var). With one cluster only a proportion gets an interval.
    """
    top = np.asarray(numerators, dtype=float)
    bottom = np.asarray(denominators, dtype=float)
    keep = bottom > 0
    top, bottom = top[keep], bottom[keep]
    codes = _cluster_codes(None if clusters is None else np.asarray(clusters, dtype=object)[keep], top.size)
    sums = np.bincount(codes, weights=top) if top.size else top
    counts = np.bincount(codes, weights=bottom) if top.size else bottom
    bounded = bool(np.all((top >= 0) & (top <= bottom)))
    return _from_totals(sums, counts, int(top.size), bounded, confidence)[0]


def mean_estimate(
    values: Sequence[float] | np.ndarray,
    clusters: Sequence[object] | np.ndarray | None = None,
    *,
    confidence: float = CONFIDENCE,
) -> Estimate:
    """Mean of ``values`` with its cluster-robust interval (:func:`ratio_estimate` with unit denominators)."""
    x = np.asarray(values, dtype=float)
    return ratio_estimate(x, np.ones_like(x), clusters, confidence=confidence)


def resampled_clusters(n_clusters: int, resamples: int, seed: int, columns: int = 1) -> Iterator[np.ndarray]:
    """The bootstrap's draws: blocks of rows, each row ``n_clusters`` cluster indices drawn with replacement.

    Every bootstrap interval, leaderboard and gate takes its replicates from here, so one seed
    means one draw everywhere. Rows come in blocks of at most :data:`DRAW_BLOCK_ENTRIES` draws
    (times ``columns``, the width of what callers gather per draw) so memory stays flat at any
    number of clusters; the rows are the same whatever the block size.
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
    """Mean of ``values`` with a percentile interval from a bootstrap that resamples whole clusters.

    Used where the replicates themselves matter (paired gate comparisons, leaderboard ranks, whose
    p-values invert this interval); a metric's own interval comes from :func:`mean_estimate`.
    """
    x = np.asarray(values, dtype=float)
    if x.size == 0:
        return Estimate(None, None, None, 0, "cluster_bootstrap", 0)
    codes = _cluster_codes(clusters, x.size)
    sums, counts = np.bincount(codes, weights=x), np.bincount(codes).astype(float)
    point, g = float(x.mean()), int(sums.size)
    if g < 2:
        return Estimate(point, None, None, int(x.size), "cluster_bootstrap", g)
    replicates = replicate_ratios(sums, counts, resamples, seed)
    alpha = (1.0 - confidence) / 2.0
    low, high = np.quantile(replicates, [alpha, 1.0 - alpha])
    low, high = _contain(point, float(low), float(high), -math.inf, math.inf)
    return Estimate(point, low, high, int(x.size), "cluster_bootstrap", g)


def cluster_bootstrap_statistic(
    cluster_ids: Sequence[object],
    statistic: Callable[[np.ndarray], float],
    *,
    resamples: int = DEFAULT_RESAMPLES,
    confidence: float = CONFIDENCE,
    seed: int = 0,
) -> Estimate:
    """Percentile interval of any statistic by resampling clusters (for statistics that are not means).

    ``statistic`` receives an array of row indices (rows of the caller's table, drawn by whole
    clusters with replacement) and returns a float; replicates that return NaN are dropped. The
    interval is widened to contain the estimate where the percentile interval would miss it.
    """
    ids = np.asarray(cluster_ids, dtype=object).astype(str)
    if ids.size == 0:
        return Estimate(None, None, None, 0, "cluster_bootstrap", 0)
    uniques, codes = np.unique(ids, return_inverse=True)
    g = int(uniques.size)
    members = [np.flatnonzero(codes == c) for c in range(g)]
    point = float(statistic(np.arange(ids.size)))
    finite = math.isfinite(point)
    if g < 2 or not finite:
        return Estimate(point if finite else None, None, None, int(ids.size), "cluster_bootstrap", g)
    replicates = [
        statistic(np.concatenate([members[c] for c in drawn]))
        for block in resampled_clusters(g, resamples, seed)
        for drawn in block
    ]
    reps = np.asarray(replicates, dtype=float)
    reps = reps[np.isfinite(reps)]
    if reps.size == 0:
        return Estimate(point, None, None, int(ids.size), "cluster_bootstrap", g)
    alpha = (1.0 - confidence) / 2.0
    low, high = np.quantile(reps, [alpha, 1.0 - alpha])
    low, high = _contain(point, float(low), float(high), -math.inf, math.inf)
    return Estimate(point, low, high, int(ids.size), "cluster_bootstrap", g)


def fisher_z_interval(r: float, n: int, confidence: float = CONFIDENCE) -> tuple[float | None, float | None]:
    """CI of a correlation coefficient: tanh(atanh(r) ± z / sqrt(n − 3)) (Fisher 1921)."""
    if n <= 3 or not np.isfinite(r):
        return None, None
    z = normal_quantile(0.5 + confidence / 2.0)
    centre = np.arctanh(np.clip(r, -0.999999, 0.999999))
    half = z / np.sqrt(n - 3)
    return float(np.tanh(centre - half)), float(np.tanh(centre + half))


def holm_adjust(pvalues: Sequence[float]) -> np.ndarray:
    """Holm (1979) step-down adjusted p-values (family-wise error control).

    p_adj(i) = max_{j<=i} min(1, (m − j + 1) · p_(j)) over sorted p-values. It equals statsmodels'
    ``multipletests(method="holm")`` (a test checks this), which is not called because it runs a
    full ``gc.collect()`` on every call (0.2 s in a process that holds a model).
    """
    p = np.asarray(pvalues, dtype=float)
    m = p.size
    if m == 0:
        return p
    order = np.argsort(p, kind="stable")
    adjusted = np.empty(m)
    adjusted[order] = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * p[order]))
    return adjusted


def benjamini_hochberg_adjust(pvalues: Sequence[float]) -> np.ndarray:
    """Benjamini & Hochberg (1995) adjusted p-values (false discovery rate control), via scipy."""
    p = np.asarray(pvalues, dtype=float)
    if p.size == 0:
        return p
    from scipy import stats as sps

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
    return Estimate(
        estimate.value,
        estimate.low,
        estimate.high,
        estimate.n,
        "paired_cluster_bootstrap",
        estimate.n_clusters,
    )


# ---------------------------------------------------------------------------------------------
# Disparities


@dataclass(frozen=True)
class DisparityResult:
    """Per-group estimates, the max − min gap and pairwise differences of one metric by one grouping.

    ``gap``'s interval contains its estimate and covers the true gap at the nominal rate,
    including a true gap of zero; ``gap_bias_corrected`` is the half-median-unbiased gap (never
    above the gap). ``highest`` / ``lowest`` name every group tied at the maximum / minimum.
    ``p_value`` tests "no gap" (every group alike). ``differences[(a, b)]`` is mean(a) − mean(b),
    with two-sided ``p_values`` and Holm-adjusted ``p_adjusted`` over the compared pairs.
    """

    per_group: dict[str, Estimate]
    gap: Estimate
    gap_bias_corrected: float | None
    highest: tuple[str, ...]
    lowest: tuple[str, ...]
    p_value: float | None
    differences: dict[tuple[str, str], Estimate]
    p_values: dict[tuple[str, str], float]
    p_adjusted: dict[tuple[str, str], float]


@dataclass(frozen=True)
class _Groups:
    """Group means, their interval widths below and above, standard errors and correlations."""

    names: list[str]
    means: np.ndarray
    below: np.ndarray
    above: np.ndarray
    se: np.ndarray
    df: np.ndarray
    correlation: np.ndarray
    estimates: dict[str, Estimate]


def _group_table(
    x: np.ndarray, codes: np.ndarray, names: list[str], clusters: np.ndarray, confidence: float
) -> _Groups:
    """Per-group estimates (:func:`ratio_estimate`'s method) and the groups' correlations.

    The correlation of two group means comes from the clusters they share (zero when every
    cluster lies in one group): the cross-products of the clusters' linearised contributions.
    """
    k, g = len(names), int(clusters.max()) + 1
    sums, counts = np.zeros((g, k)), np.zeros((g, k))
    np.add.at(sums, (clusters, codes), x)
    np.add.at(counts, (clusters, codes), 1.0)
    estimates, quantiles = {}, np.empty(k)
    for j, name in enumerate(names):
        present = counts[:, j] > 0
        part = x[codes == j]
        bounded = bool(np.all((part >= 0) & (part <= 1)))
        estimates[name], quantiles[j] = _from_totals(
            sums[present, j], counts[present, j], int(part.size), bounded, confidence
        )
    means = np.array([estimates[n].value for n in names], dtype=float)
    low = np.array([np.nan if estimates[n].low is None else estimates[n].low for n in names], dtype=float)
    high = np.array([np.nan if estimates[n].high is None else estimates[n].high for n in names], dtype=float)
    totals = counts.sum(axis=0)
    influence = (sums - means * counts) / totals
    covariance = influence.T @ influence
    scale = np.sqrt(np.diag(covariance))
    with np.errstate(invalid="ignore", divide="ignore"):
        correlation = np.nan_to_num(covariance / np.outer(scale, scale))
    np.fill_diagonal(correlation, 1.0)
    below, above = means - low, high - means
    df = np.array([max(estimates[n].n_clusters or 0, 1) - 1 for n in names], dtype=float)
    df[df < 1] = np.inf
    se = (below + above) / (2 * quantiles)
    return _Groups(names, means, below, above, se, df, correlation, estimates)


def _mover(below_a: float, above_a: float, below_b: float, above_b: float, rho: float) -> tuple[float, float]:
    """Widths below and above mean(a) − mean(b) from the groups' own widths (MOVER, Newcombe 1998).

    Zou & Donner (2008): the difference's interval recovers its variance from each group's
    interval on the side that matters, less the covariance where the groups share clusters.
    """
    below = below_a**2 + above_b**2 - 2 * rho * below_a * above_b
    above = above_a**2 + below_b**2 - 2 * rho * above_a * below_b
    return math.sqrt(max(below, 0.0)), math.sqrt(max(above, 0.0))


def _draws(groups: _Groups, resamples: int, seed: int) -> np.ndarray:
    """Draws of the groups' estimation errors: t-like, with the groups' standard errors and correlations.

    Each group's normal error is divided by sqrt(chi²(df) / df) on its own degrees of freedom
    (clusters − 1), so groups with few clusters, whose standard errors are themselves uncertain,
    draw heavier tails (a multivariate t per group, as in Hothorn, Bretz & Westfall 2008).
    """
    covariance = groups.correlation * np.outer(groups.se, groups.se)
    rng = np.random.default_rng(seed)
    normal = rng.multivariate_normal(np.zeros(groups.se.size), covariance, size=resamples, method="eigh")
    finite = np.isfinite(groups.df)
    df = np.where(finite, np.maximum(groups.df, 1.0), 1.0)
    scale = np.where(finite, np.sqrt(rng.chisquare(df, size=normal.shape) / df), 1.0)
    return normal / scale


def _standardised(groups: _Groups, draws: np.ndarray, pairs: np.ndarray) -> np.ndarray:
    """(draw_a − draw_b) / sd(a − b) for every pair (columns) of every draw (rows)."""
    first, second = pairs.T
    se = groups.se
    variance = (
        se[first] ** 2 + se[second] ** 2 - 2 * groups.correlation[first, second] * se[first] * se[second]
    )
    return (draws[:, first] - draws[:, second]) / np.sqrt(np.maximum(variance, 1e-300))


def _gap(groups: _Groups, confidence: float, draws: np.ndarray) -> tuple[float, float, float, float]:
    """The gap, its lower and upper bounds, and its bootstrap-bias-corrected value.

    Upper bound: the largest upper MOVER bound over all ordered pairs; it fails only where the
    pair that holds the true gap fails, (1 − confidence)/2 of the time. Lower bound: the largest
    lower bound over the pairs that may hold the maximum and the minimum (groups within
    :data:`SELECTION_SE` standard errors of the extremes: generalized moment selection, Andrews &
    Soares 2010), at the max-T critical value over those pairs (Westfall & Young 1993), so a true
    gap of zero is excluded at most (1 − confidence)/2 of the time. The max and min of noisy
    means overstate the gap; the bias is estimated from the same normal draws (Efron &
    Tibshirani 1993, ch. 10) and subtracted, within [0, gap]. Written here because neither scipy
    nor statsmodels has an interval for a range of means.
    """
    k = len(groups.names)
    means, se = groups.means, groups.se
    point = float(means.max() - means.min())
    pairs = [(a, b) for a in range(k) for b in range(k) if a != b]
    rho = groups.correlation
    upper = max(
        means[a]
        - means[b]
        + _mover(groups.below[a], groups.above[a], groups.below[b], groups.above[b], rho[a, b])[1]
        for a, b in pairs
    )
    may_be_max = means + SELECTION_SE * se >= (means - SELECTION_SE * se).max()
    may_be_min = means - SELECTION_SE * se <= (means + SELECTION_SE * se).min()
    selected = np.array([(a, b) for a, b in pairs if may_be_max[a] and may_be_min[b]])
    level = 0.5 + confidence / 2.0
    if len(selected) == 1:
        critical = normal_quantile(level)
    else:
        critical = float(np.quantile(_standardised(groups, draws, selected).max(axis=1), level))
    lower = max(
        means[a]
        - means[b]
        - critical
        * _mover(
            groups.below[a] / _ratio(groups, a),
            groups.above[a] / _ratio(groups, a),
            groups.below[b] / _ratio(groups, b),
            groups.above[b] / _ratio(groups, b),
            rho[a, b],
        )[0]
        for a, b in selected
    )
    noisy = means + draws
    bias = float((noisy.max(axis=1) - noisy.min(axis=1)).mean()) - point
    corrected = min(max(point - bias, 0.0), point)
    return point, max(0.0, min(lower, point)), max(upper, point), corrected


def _ratio(groups: _Groups, j: int) -> float:
    """A group's interval half-width per standard error (its quantile)."""
    total = groups.below[j] + groups.above[j]
    return total / (2 * groups.se[j]) if groups.se[j] > 0 else 1.0


def _no_gap_p_value(
    x: np.ndarray, codes: np.ndarray, clusters: np.ndarray, k: int, resamples: int, seed: int
) -> float:
    """Permutation p-value of "every group alike" for the range of the group means (scipy).

    Whole clusters keep their rows: with clusters inside groups, the clusters' group labels are
    shuffled (``independent``); with clusters that hold every group (matched tuples), the groups
    are shuffled within each cluster (``samples``). The statistic is the range of the groups'
    means of cluster means. Other designs (and groups of one cluster, which scipy cannot permute)
    get NaN, and :func:`disparity` uses the max-T test.
    """
    from scipy import stats as sps

    g = int(clusters.max()) + 1
    sums, counts = np.zeros((g, k)), np.zeros((g, k))
    np.add.at(sums, (clusters, codes), x)
    np.add.at(counts, (clusters, codes), 1.0)
    present = counts > 0

    def spread(*samples: np.ndarray, axis: int = -1) -> np.ndarray:
        means = np.stack([np.mean(sample, axis=axis) for sample in samples])
        return means.max(axis=0) - means.min(axis=0)

    options: dict[str, Any] = {
        "n_resamples": resamples,
        "alternative": "greater",
        "vectorized": True,
        "rng": np.random.default_rng(seed),
    }
    owner = np.argmax(present, axis=1)
    if (present.sum(axis=1) == 1).all() and (np.bincount(owner, minlength=k) >= 2).all():
        cell = sums[np.arange(g), owner] / counts[np.arange(g), owner]
        samples = [cell[owner == j] for j in range(k)]
        return float(sps.permutation_test(samples, spread, permutation_type="independent", **options).pvalue)
    if present.all() and g >= 2:
        cells = sums / counts
        samples = [cells[:, j] for j in range(k)]
        return float(sps.permutation_test(samples, spread, permutation_type="samples", **options).pvalue)
    return math.nan


def _max_t_p_value(groups: _Groups, draws: np.ndarray) -> float:
    """One-sided max-T p-value of "no gap" from the groups' normal approximation (mixed designs)."""
    k = len(groups.names)
    pairs = np.array([(a, b) for a in range(k) for b in range(k) if a != b])
    observed = float(_standardised(groups, groups.means[None, :], pairs).max())
    largest = _standardised(groups, draws, pairs).max(axis=1)
    return float((1 + np.sum(largest >= observed)) / (1 + largest.size))


def _difference(
    groups: _Groups, i: int, j: int, rows: int, n_clusters: int, confidence: float
) -> tuple[Estimate, float]:
    """mean(i) − mean(j) with its MOVER interval and the two-sided p-value that matches it."""
    value = float(groups.means[i] - groups.means[j])
    below, above = _mover(
        groups.below[i], groups.above[i], groups.below[j], groups.above[j], groups.correlation[i, j]
    )
    if not (math.isfinite(below) and math.isfinite(above)):
        return Estimate(value, None, None, rows, "mover", n_clusters), math.nan
    z = normal_quantile(0.5 + confidence / 2.0)
    toward_zero = below if value > 0 else above
    if toward_zero > 0:
        p_value = 2.0 * (1.0 - NormalDist().cdf(abs(value) * z / toward_zero))
    else:
        p_value = 1.0 if value == 0 else 0.0
    return Estimate(value, value - below, value + above, rows, "mover", n_clusters), p_value


def _codes(labels: np.ndarray) -> tuple[list[str], np.ndarray]:
    names, codes = np.unique(labels, return_inverse=True)
    return [str(n) for n in names], codes


def disparity(
    values: Sequence[float] | np.ndarray,
    groups: Sequence[object] | np.ndarray,
    clusters: Sequence[object] | np.ndarray | None = None,
    *,
    paired_by: Sequence[object] | np.ndarray | None = None,
    baseline: str | None = None,
    resamples: int = DEFAULT_RESAMPLES,
    confidence: float = CONFIDENCE,
    seed: int = 0,
) -> DisparityResult:
    """A metric's disparity across groups: per-group estimates, the gap and pairwise differences.

    Rows with a missing value or group drop out. ``clusters`` are the resampling units (default:
    the ``paired_by`` sets, else each row); ``paired_by`` matches rows across groups, and each
    difference uses only the matched sets that hold both of its groups. ``baseline`` compares
    every group with that one; without it every pair of groups (a before b in sorted order) is
    compared. ``resamples`` sizes the permutation test and the normal simulation of the gap.
    Per-group intervals are :func:`ratio_estimate`'s; see :func:`_gap` for the gap's.
    """
    x = np.asarray(values, dtype=float)
    label_array = np.asarray(groups, dtype=object)
    keep = np.isfinite(x) & np.array([g is not None and g == g for g in label_array], dtype=bool)
    x, labels = x[keep], label_array[keep].astype(str)
    paired = None if paired_by is None else np.asarray(paired_by, dtype=object)[keep].astype(str)
    source = clusters if clusters is not None else paired_by
    cluster_labels = (
        np.arange(x.size).astype(str)
        if source is None
        else np.asarray(source, dtype=object)[keep].astype(str)
    )
    if x.size == 0:
        return DisparityResult(
            {}, Estimate(None, None, None, 0, "gap_max_t", 0), None, (), (), None, {}, {}, {}
        )
    names, codes = _codes(labels)
    _, cluster_codes = np.unique(cluster_labels, return_inverse=True)
    table = _group_table(x, codes, names, cluster_codes, confidence)
    top, bottom = table.means.max(), table.means.min()
    highest = tuple(n for n, m in zip(names, table.means, strict=True) if m >= top - 1e-12)
    lowest = tuple(n for n, m in zip(names, table.means, strict=True) if m <= bottom + 1e-12)
    n_clusters = int(cluster_codes.max()) + 1
    gap = Estimate(
        float(top - bottom) if len(names) >= 2 else None, None, None, int(x.size), "gap_max_t", n_clusters
    )
    corrected: float | None = None
    p_value: float | None = None
    if len(names) >= 2 and np.isfinite(table.below).all() and np.isfinite(table.above).all():
        draws = _draws(table, max(resamples, 1000), seed)
        point, low, high, corrected = _gap(table, confidence, draws)
        gap = Estimate(point, low, high, int(x.size), "gap_max_t", n_clusters)
        p_value = _no_gap_p_value(x, codes, cluster_codes, len(names), resamples, seed)
        if math.isnan(p_value):
            p_value = _max_t_p_value(table, draws)
    if baseline is not None and baseline not in names:
        raise ValueError(f"baseline group {baseline!r} is not among the groups: {', '.join(names)}")
    compared = (
        [(name, baseline) for name in names if name != baseline]
        if baseline is not None
        else list(itertools.combinations(names, 2))
    )
    differences, p_values = {}, {}
    for a, b in compared:
        rows = (labels == a) | (labels == b)
        if paired is not None:
            rows &= np.isin(paired, np.intersect1d(paired[labels == a], paired[labels == b]))
        if paired is None:
            pair_table, i, j = table, names.index(a), names.index(b)
        else:
            pair_names, pair_codes = _codes(labels[rows])
            _, pair_clusters = np.unique(cluster_labels[rows], return_inverse=True)
            if len(pair_names) < 2:
                differences[(a, b)] = Estimate(None, None, None, 0, "mover", 0)
                p_values[(a, b)] = math.nan
                continue
            pair_table = _group_table(x[rows], pair_codes, pair_names, pair_clusters, confidence)
            i, j = pair_names.index(a), pair_names.index(b)
        pair_clusters_count = int(np.unique(cluster_codes[rows]).size)
        differences[(a, b)], p_values[(a, b)] = _difference(
            pair_table, i, j, int(rows.sum()), pair_clusters_count, confidence
        )
    tested = [pair for pair in compared if math.isfinite(p_values[pair])]
    adjusted = dict(zip(tested, holm_adjust([p_values[pair] for pair in tested]).tolist(), strict=True))
    p_adjusted = {pair: adjusted.get(pair, math.nan) for pair in compared}
    return DisparityResult(
        table.estimates, gap, corrected, highest, lowest, p_value, differences, p_values, p_adjusted
    )
