"""Statistics shared by every scenario, the gate and the leaderboard: intervals, gaps, multiplicity.

The prompt (or item) is the unit of analysis; rows that share a prompt are clustered (Miller
2024, "Adding Error Bars to Evals"). Every :class:`Estimate` records ``n`` (rows) and
``n_clusters`` (the resampling units behind its interval). docs/statistics.md describes each
method, when it is used and its measured coverage.

* Means and ratios (:func:`mean_estimate`, :func:`ratio_estimate`): the cluster-robust
  (linearisation) variance of the ratio estimator. The caller declares the values' support
  (:data:`SUPPORTS`), from what the metric is and never from the values a run happened to
  observe. Values declared to lie in [0, 1] get a Wilson score interval
  on the design-effect-adjusted sample size (Kish 1965) with a t quantile on n_clusters − 1
  degrees of freedom (Korn & Graubard 1998): it never excludes its estimate, is never zero-width
  at 0 or 1, and covers rare events. Scores that are not counts of events also get Hall's (1992)
  skewness-corrected t bound where it is further out (skewed scores over few prompts). Other
  values get the clustered t interval, cut at 0 for values that cannot be negative (counts).
* Proportions from counts (:func:`proportion_interval`): statsmodels' Wilson or Clopper–Pearson.
* Paired differences (:func:`paired_difference`, :func:`paired_difference_p_value`): the
  clustered t interval on the differences and the p-values that invert it (the gate's baseline
  comparison, the report's guarded-versus-bare table).
* Correlations: Fisher z for Pearson's r (:func:`fisher_z_interval`) and Spearman's rho
  (:func:`spearman_interval`).
* Disparities (:func:`disparity`): per-group estimates, the max − min gap with an interval that
  covers a true gap of zero, pairwise differences (MOVER, Newcombe 1998) with Holm-adjusted
  p-values (statsmodels), and a permutation test of "no gap" (scipy).
* The cluster bootstrap (:func:`cluster_bootstrap_mean`, :func:`cluster_bootstrap_statistic`) for
  leaderboard ranks and statistics that are not means.

scipy.stats and statsmodels are imported on first use: each costs about 0.5 s of start-up.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
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
FEW_EVENTS = 3
"""Up to this many successes (or failures) Wilson's bound on that side is the Clopper–Pearson one."""
PAIRED_METHOD = "paired_cluster_t"
ROUNDING = 1e-12
"""Paired differences whose standard error is below this share of their range count as constant."""
SPEARMAN_VARIANCE = 1.06
"""Fieller, Hartley & Pearson (1957): var(atanh(rho_s)) ≈ 1.06 / (n − 3) for Spearman's rho."""
BINARY, BOUNDED, UNBOUNDED = "binary", "bounded", "unbounded"
"""What a mean's rows are: counts of events, other values in [0, 1], anything else (:func:`_kind`)."""
UNIT_INTERVAL, NONNEGATIVE, REAL = "unit_interval", "nonnegative", "real"
SUPPORTS = (UNIT_INTERVAL, NONNEGATIVE, REAL)
"""Where a metric's values lie by definition: [0, 1] (rates, probabilities, scores), [0, ∞)
(counts of tokens or documents) or anywhere (logits, tones, differences)."""


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


def _t_survival(statistic: float, df: float) -> float:
    """P(T > statistic) for Student t on ``df`` degrees of freedom (the normal one when infinite)."""
    if not math.isfinite(df):
        return 1.0 - NormalDist().cdf(statistic)
    from scipy import stats as sps

    return float(sps.t.sf(statistic, df))


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

    ``method`` is ``wilson`` (Wilson 1927, modified for rare events as Brown, Cai & DasGupta
    2001 recommend: see :func:`_wilson_bounds`; the default, close to nominal coverage) or
    ``clopper_pearson`` (Clopper & Pearson 1934; never below nominal, wider). The interval
    contains the estimate and is never zero-width when n >= 1.
    """
    if method not in PROPORTION_METHODS:
        raise ValueError(
            f"unknown proportion interval {method!r}; choose one of {sorted(PROPORTION_METHODS)}"
        )
    if n <= 0:
        return Estimate(None, None, None, 0, method, 0)
    from statsmodels.stats.proportion import proportion_confint

    p = successes / n
    if method == "wilson":
        low, high = _wilson_bounds(successes, n, 1.0 - confidence)
    else:
        low, high = proportion_confint(successes, n, alpha=1.0 - confidence, method="beta")
    low, high = _contain(p, float(low), float(high), 0.0, 1.0)
    rows = round(n)
    return Estimate(p, low, high, rows, method, rows)


def _wilson_bounds(successes: float, n: float, alpha: float) -> tuple[float, float]:
    """Wilson's bounds (statsmodels), with the Clopper–Pearson bound on a side with at most 3 events.

    Wilson's lower bound at 1, 2 or 3 successes lies above small true rates that produce them
    often: at a true rate of 0.15 / n, 0/n or 1/n is observed 99% of the time and 1/n falls
    outside Wilson's interval, so it covers 86%. Brown, Cai & DasGupta (2001, section 4.1.1)
    replace that bound by the exact (Poisson) one; the Clopper–Pearson bound is that one up to
    terms in 1/n. Mirrored for the upper bound at n − 3 .. n − 1. Counts may be fractional
    (effective sample sizes): statsmodels' formulas are continuous in them.
    """
    from statsmodels.stats.proportion import proportion_confint

    # Counts within float error of 0 or n are 0 or n (a mean of 1e-313 overflows the beta quantile).
    if successes < ROUNDING * n:
        successes = 0.0
    elif n - successes < ROUNDING * n:
        successes = n
    low, high = (float(b) for b in proportion_confint(successes, n, alpha=alpha, method="wilson"))
    if 0 < successes <= FEW_EVENTS or 0 < n - successes <= FEW_EVENTS:
        exact_low, exact_high = proportion_confint(successes, n, alpha=alpha, method="beta")
        if 0 < successes <= FEW_EVENTS:
            low = min(low, float(exact_low))
        if 0 < n - successes <= FEW_EVENTS:
            high = max(high, float(exact_high))
    return low, high


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
    sums: np.ndarray, counts: np.ndarray, rows: int, kind: str, confidence: float
) -> tuple[Estimate, float]:
    """The estimate and interval of a ratio from its per-cluster totals, and the quantile used.

    ``kind`` is ``binary`` (counts of events: Wilson), ``bounded`` (scores in [0, 1]: the wider of
    Wilson's and Hall's bounds on each side) or ``unbounded`` (the clustered t).
    """
    g = int(sums.size)
    if g == 0:
        return Estimate(None, None, None, 0, "cluster_wilson", 0), math.nan
    point = float(sums.sum() / counts.sum())
    quantile = _quantile(confidence, g)
    variance = _cluster_variance(sums, counts) if g >= 2 else 0.0
    if kind == UNBOUNDED:
        if g < 2:
            return Estimate(point, None, None, rows, "cluster_t", g), quantile
        half = quantile * math.sqrt(variance)
        return Estimate(point, point - half, point + half, rows, "cluster_t", g), quantile
    low, high = _cluster_wilson(point, variance, g, quantile)
    if kind == BOUNDED and variance > 0:
        hall_low, hall_high = _skew_corrected_t(point, sums - point * counts, variance, confidence)
        low, high = _contain(point, min(low, hall_low), max(high, hall_high), 0.0, 1.0)
    return Estimate(point, low, high, rows, "cluster_wilson", g), quantile


def _cluster_wilson(point: float, variance: float, n_clusters: int, quantile: float) -> tuple[float, float]:
    """Wilson bounds (:func:`_wilson_bounds`) on the design-effect-adjusted sample size, at a t quantile.

    n_eff = p(1 − p) / var (Kish 1965); where the variance cannot tell (p at 0 or 1, or no
    variation between clusters) n_eff is the number of clusters. statsmodels' Wilson takes a
    level, not a quantile, so the t quantile is passed as the normal level that has it.
    """
    from scipy import stats as sps

    spread = point * (1.0 - point)
    n_eff = spread / variance if variance > 0 and spread > 0 else float(n_clusters)
    alpha = 2.0 * float(sps.norm.sf(quantile))  # scipy's tail stays accurate at t(1 df) = 12.7
    low, high = _wilson_bounds(point * n_eff, n_eff, alpha)
    return _contain(point, low, high, 0.0, 1.0)


def _skew_corrected_t(
    point: float, residuals: np.ndarray, variance: float, confidence: float
) -> tuple[float, float]:
    """Hall's (1992) skewness-corrected t interval of a mean from its clusters' linearised residuals.

    Scores in [0, 1] that are mostly near 0 (toxicity) are strongly skewed: over 10 or 20 prompts
    the clusters that carry most of the mean are often missing, the variance comes out small and
    Wilson's upper bound falls short (coverage 0.91 at 10 prompts with mean 0.1, 0.84 at 20 with
    mean 0.01). Hall's monotone cubic transformation of the studentized mean,
    g(T) = T + aT² + a²T³/3 + a/2 with a = γ / 3 (γ the skewness of the mean: Σe³ / (Σe²)^1.5),
    removes the skewness term of its Edgeworth expansion (Johnson 1978 is its first two terms)
    and inverts in closed form. The variance estimate of heavy-tailed data is itself noisy, so
    the quantile is t on Satterthwaite's (1946) degrees of freedom for a variance estimate with
    excess kurtosis κ: 2 / (2 / (G − 1) + κ / G), at most G − 1. Written here because neither
    scipy nor statsmodels has it.
    """
    g = residuals.size
    scaled = residuals / float(np.max(np.abs(residuals)))  # scale-free moments: 1e-132 ** 3 underflows to 0
    second = float(np.mean(scaled**2))
    skew = float(np.mean(scaled**3)) / second**1.5 / math.sqrt(g)
    kurtosis = float(np.mean(scaled**4)) / second**2 - 3.0
    df = min(g - 1.0, 2.0 / (2.0 / (g - 1) + max(kurtosis, 0.0) / g))
    quantile = _t_quantile(0.5 + confidence / 2.0, df)
    a = skew / 3.0
    se = math.sqrt(variance)

    def inverse(y: float) -> float:
        """g⁻¹(y): the studentized value whose transform is y."""
        if abs(a) < 1e-12:
            return y - a / 2.0
        return (float(np.cbrt(1.0 + 3.0 * a * (y - a / 2.0))) - 1.0) / a

    return point - se * inverse(quantile), point - se * inverse(-quantile)


class SupportError(ValueError):
    """Values outside the support their metric declares: the declaration (the metric's unit) is wrong."""

    def __init__(self, message: str, support: str) -> None:
        super().__init__(message)
        self.support = support


def _kind(top: np.ndarray, bottom: np.ndarray, support: str) -> str:
    """The interval family of a ratio from its declared ``support`` (:data:`SUPPORTS`).

    ``binary`` for counts out of counts and ``bounded`` for other ratios in [0, 1], both only when
    the values are declared to lie in [0, 1]; otherwise ``unbounded``. Choosing from the observed
    values instead would give logits that all happen to lie in [0, 1] a Wilson interval (at a
    mean of exactly 0, [−0.34, 0.34] over 30 prompts instead of [0, 0]). Values outside their
    declared support raise :class:`SupportError`: the declaration is wrong.
    """
    if support not in SUPPORTS:
        raise ValueError(f"support must be one of {', '.join(SUPPORTS)}, not {support!r}")
    if support == REAL:
        return UNBOUNDED
    outside = (top < 0) | (top > bottom) if support == UNIT_INTERVAL else top < 0
    if outside.any():
        index = int(np.argmax(outside))
        value = top[index] / bottom[index] if bottom[index] > 0 else top[index]
        where = "[0, 1]" if support == UNIT_INTERVAL else "[0, ∞)"
        raise SupportError(f"a value ({value:g}) lies outside {where}", support)
    if support == NONNEGATIVE:
        return UNBOUNDED
    integral = np.all(top == np.floor(top)) and np.all(bottom == np.floor(bottom))
    return BINARY if integral else BOUNDED


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
    support: str,
    confidence: float = CONFIDENCE,
) -> Estimate:
    """sum(numerators) / sum(denominators) with a cluster-robust interval; zero-denominator rows drop out.

    With ``support="unit_interval"`` (every numerator lies in [0, its denominator] by definition)
    the ratio is a proportion-like quantity in [0, 1] and gets the ``cluster_wilson`` interval:
    Wilson's score interval on the effective sample size n_eff = r(1 − r) / var (the design effect
    of Kish 1965), with the t quantile on G − 1 degrees of freedom in place of z (Korn & Graubard
    1998). Where the variance cannot say
    how much the rows vary (r at 0 or 1, or every cluster alike) n_eff is the number of clusters,
    as if each cluster were one Bernoulli trial. Numerators that are not counts (scores) may be
    more skewed than that model: each bound is the further of Wilson's and Hall's (1992)
    skewness-corrected t (:func:`_skew_corrected_t`). Other ratios get the ``cluster_t`` interval
    r ± t · sqrt(var), cut at 0 for ``support="nonnegative"`` (the mean of counts cannot be
    negative, so the cut loses no coverage). With one cluster only a proportion gets an interval.
    """
    top = np.asarray(numerators, dtype=float)
    bottom = np.asarray(denominators, dtype=float)
    keep = bottom > 0
    top, bottom = top[keep], bottom[keep]
    codes = _cluster_codes(None if clusters is None else np.asarray(clusters, dtype=object)[keep], top.size)
    sums = np.bincount(codes, weights=top) if top.size else top
    counts = np.bincount(codes, weights=bottom) if top.size else bottom
    estimate = _from_totals(sums, counts, int(top.size), _kind(top, bottom, support), confidence)[0]
    return _cut_at_zero(estimate, support)


def _cut_at_zero(estimate: Estimate, support: str) -> Estimate:
    """A non-negative mean's interval without the part below 0, where the mean cannot be."""
    if support == NONNEGATIVE and estimate.low is not None and estimate.value is not None:
        return replace(estimate, low=max(0.0, min(estimate.low, estimate.value)))
    return estimate


def mean_estimate(
    values: Sequence[float] | np.ndarray,
    clusters: Sequence[object] | np.ndarray | None = None,
    *,
    support: str,
    confidence: float = CONFIDENCE,
) -> Estimate:
    """Mean of ``values`` with its cluster-robust interval (:func:`ratio_estimate` with unit denominators)."""
    x = np.asarray(values, dtype=float)
    return ratio_estimate(x, np.ones_like(x), clusters, support=support, confidence=confidence)


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

    Used where the replicates themselves matter (leaderboard ranks); a metric's own interval comes
    from :func:`mean_estimate`.
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


@dataclass(frozen=True)
class _Paired:
    """Paired differences: mean, cluster-robust SE, counts and the range one difference can take."""

    value: float | None
    se: float
    n: int
    n_clusters: int
    floor: float
    ceiling: float


def _paired(
    candidate: Sequence[float], baseline: Sequence[float], clusters: Sequence[object] | None, support: str
) -> _Paired:
    a = np.asarray(candidate, dtype=float)
    b = np.asarray(baseline, dtype=float)
    if a.shape != b.shape:
        raise ValueError(f"paired samples differ in length: {a.size} vs {b.size}")
    if a.size == 0:
        return _Paired(None, 0.0, 0, 0, 0.0, 0.0)
    codes = _cluster_codes(clusters, a.size)
    sums, counts = np.bincount(codes, weights=a - b), np.bincount(codes).astype(float)
    g = int(sums.size)
    variance = _cluster_variance(sums, counts) if g >= 2 else 0.0
    both = np.concatenate([a, b])
    _kind(both, np.ones_like(both), support)  # refuses values outside the declared support
    span = 1.0 if support == UNIT_INTERVAL else float(both.max() - both.min())
    se = math.sqrt(variance)
    # differences equal up to rounding (a + 0.1 − a) have no variance
    return _Paired(float((a - b).mean()), se if se > ROUNDING * span else 0.0, int(a.size), g, -span, span)


def paired_difference(
    candidate: Sequence[float],
    baseline: Sequence[float],
    clusters: Sequence[object] | None = None,
    *,
    support: str,
    confidence: float = CONFIDENCE,
) -> Estimate:
    """Mean of candidate − baseline over paired units: the clustered t interval on the differences.

    Pairs must be aligned (same instance at the same position); pairing removes the between-prompt
    variance that two independent intervals would count twice. The interval is mean ± t(G − 1) ·
    the cluster-robust SE (Miller 2024). Where every cluster's difference is the same value c (no
    variance, or one cluster), the interval reflects what G clusters can show: the share of
    clusters whose difference is not c is at most the Clopper–Pearson bound u = 1 − (α/2)^(1/G)
    for 0 of G, and such a difference lies within the range a difference can take ([−1, 1] for
    ``support="unit_interval"``, else ± the span of the observed scores), so the mean lies in
    [c − u (c − low), c + u (high − c)]. When every score of both runs is one value the range is
    unknown and there is no interval. :func:`paired_difference_p_value` inverts this interval.
    """
    summary = _paired(candidate, baseline, clusters, support)
    c, g = summary.value, summary.n_clusters
    if c is None or summary.floor == summary.ceiling:
        return Estimate(c, None, None, summary.n, PAIRED_METHOD, g)
    alpha = (1.0 - confidence) / 2.0
    if summary.se > 0:
        half = _quantile(confidence, g) * summary.se
        return Estimate(c, c - half, c + half, summary.n, PAIRED_METHOD, g)
    share = 1.0 - alpha ** (1.0 / g)
    low, high = c - share * (c - summary.floor), c + share * (summary.ceiling - c)
    return Estimate(c, low, high, summary.n, PAIRED_METHOD, g)


def paired_difference_p_value(
    candidate: Sequence[float],
    baseline: Sequence[float],
    clusters: Sequence[object] | None,
    threshold: float,
    alternative: str,
    *,
    support: str,
) -> float:
    """One-sided p-value that mean(candidate − baseline) is above (``greater``) or below ``threshold``.

    The inversion of :func:`paired_difference`'s interval: p <= (1 − confidence) / 2 exactly when
    that side's bound clears the threshold. With the t interval p comes from t(G − 1); with no
    variance it is the largest chance that all G clusters show the same difference c while the
    mean is on the null side ((threshold − low) / (c − low))^G (mirrored for ``less``). 1 where
    no interval exists.
    """
    if alternative not in ("greater", "less"):
        raise ValueError(f"alternative must be 'greater' or 'less', not {alternative!r}")
    summary = _paired(candidate, baseline, clusters, support)
    c, g = summary.value, summary.n_clusters
    if c is None or summary.floor == summary.ceiling:
        return 1.0
    sign = 1.0 if alternative == "greater" else -1.0
    if summary.se > 0:
        from scipy import stats as sps

        return float(sps.t.sf(sign * (c - threshold) / summary.se, g - 1))
    if sign * (c - threshold) <= 0:
        return 1.0
    edge = summary.floor if alternative == "greater" else summary.ceiling
    return float(max(0.0, (threshold - edge) / (c - edge)) ** g)


def spearman_interval(
    rho: float, n: int, confidence: float = CONFIDENCE
) -> tuple[float | None, float | None]:
    """Fisher-z interval of Spearman's rho, variance 1.06 / (n − 3) (Fieller, Hartley & Pearson 1957).

    atanh(rho_s) is close to normal like Pearson's r, with a larger variance; Bonett & Wright
    (2000) find this variance accurate up to |rho| of about 0.8 (their 1 + rho² / 2 is wider
    beyond). The across-occupation correlations' coverage with it is in docs/statistics.md.
    None for n <= 3 or a non-finite rho.
    """
    if n <= 3 or not np.isfinite(rho):
        return None, None
    z = normal_quantile(0.5 + confidence / 2.0)
    centre = np.arctanh(np.clip(rho, -0.999999, 0.999999))
    half = z * math.sqrt(SPEARMAN_VARIANCE / (n - 3))
    return float(np.tanh(centre - half)), float(np.tanh(centre + half))


# ---------------------------------------------------------------------------------------------
# Disparities


@dataclass(frozen=True)
class DisparityResult:
    """Per-group estimates, the max − min gap and pairwise differences of one metric by one grouping.

    ``gap``'s interval contains its estimate and covers the true gap at the nominal rate,
    including a true gap of zero; ``gap_bias_corrected`` is the gap less its bias estimated at
    the observed means (within [0, gap]); it removes only part of the bias where groups are
    close, because the observed means lie further apart than the true ones. ``highest`` /
    ``lowest`` name every group tied at the maximum / minimum.
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
    x: np.ndarray, codes: np.ndarray, names: list[str], clusters: np.ndarray, support: str, confidence: float
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
        estimates[name], quantiles[j] = _from_totals(
            sums[present, j],
            counts[present, j],
            int(part.size),
            _kind(part, np.ones_like(part), support),
            confidence,
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


def _draws(groups: _Groups, resamples: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Draws of the groups' estimation errors, normal and t-like, with the groups' SEs and correlations.

    The t-like draws divide each group's normal error by sqrt(chi²(df) / df) on its own degrees of
    freedom (clusters − 1), so groups with few clusters, whose standard errors are themselves
    uncertain, draw heavier tails (a multivariate t per group, as in Hothorn, Bretz & Westfall
    2008); they set critical values. The normal draws estimate the bias of the gap: a t on 1 or 2
    degrees of freedom has no finite mean (or variance), so its average would be noise.
    """
    covariance = groups.correlation * np.outer(groups.se, groups.se)
    rng = np.random.default_rng(seed)
    normal = rng.multivariate_normal(np.zeros(groups.se.size), covariance, size=resamples, method="eigh")
    finite = np.isfinite(groups.df)
    df = np.where(finite, np.maximum(groups.df, 1.0), 1.0)
    scale = np.where(finite, np.sqrt(rng.chisquare(df, size=normal.shape) / df), 1.0)
    return normal, normal / scale


def _standardised(groups: _Groups, draws: np.ndarray, pairs: np.ndarray) -> np.ndarray:
    """(draw_a − draw_b) / sd(a − b) for every pair (columns) of every draw (rows)."""
    first, second = pairs.T
    se = groups.se
    variance = (
        se[first] ** 2 + se[second] ** 2 - 2 * groups.correlation[first, second] * se[first] * se[second]
    )
    return (draws[:, first] - draws[:, second]) / np.sqrt(np.maximum(variance, 1e-300))


def _gap(
    groups: _Groups, confidence: float, normal: np.ndarray, draws: np.ndarray
) -> tuple[float, float, float, float]:
    """The gap, its lower and upper bounds, and its bootstrap-bias-corrected value.

    Upper bound: the largest upper MOVER bound over all ordered pairs; it fails only where the
    pair that holds the true gap fails, (1 − confidence)/2 of the time. Lower bound: the largest
    lower bound over the pairs that may hold the maximum and the minimum (groups within
    :data:`SELECTION_SE` standard errors of the extremes: generalized moment selection, Andrews &
    Soares 2010), at the max-T critical value over those pairs (Westfall & Young 1993), so a true
    gap of zero is excluded at most (1 − confidence)/2 of the time. The max and min of noisy
    means overstate the gap; the bias is estimated from the normal draws at the observed means
    (Efron & Tibshirani 1993, ch. 10) and subtracted, within [0, gap]. The interval is
    conservative where several groups are close to the extremes (coverage up to 1.0; measured
    rates in docs/statistics.md). Written here because neither scipy
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
    noisy = means + normal
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
    """mean(i) − mean(j) with its MOVER interval and the two-sided p-value that matches it.

    The p-value reads the interval's half-width toward zero as t(G − 1) · SE, so it falls below
    1 − confidence exactly when the interval excludes 0; beyond that level it keeps t(G − 1)'s
    tails, since normal tails would overstate significance at the smaller thresholds of Holm's
    procedure when the templates (clusters) are few.
    """
    value = float(groups.means[i] - groups.means[j])
    below, above = _mover(
        groups.below[i], groups.above[i], groups.below[j], groups.above[j], groups.correlation[i, j]
    )
    if not (math.isfinite(below) and math.isfinite(above)):
        return Estimate(value, None, None, rows, "mover", n_clusters), math.nan
    df = n_clusters - 1 if n_clusters >= 2 else math.inf
    toward_zero = below if value > 0 else above
    if toward_zero > 0:
        statistic = abs(value) * _t_quantile(0.5 + confidence / 2.0, df) / toward_zero
        p_value = 2.0 * _t_survival(statistic, df)
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
    support: str,
    paired_by: Sequence[object] | np.ndarray | None = None,
    baseline: str | None = None,
    compare: bool = True,
    resamples: int = DEFAULT_RESAMPLES,
    confidence: float = CONFIDENCE,
    seed: int = 0,
) -> DisparityResult:
    """A metric's disparity across groups: per-group estimates, the gap and pairwise differences.

    Rows with a missing value or group drop out. ``clusters`` are the resampling units (default:
    the ``paired_by`` sets, else each row); ``paired_by`` matches rows across groups, and each
    difference uses only the matched sets that hold both of its groups. ``baseline`` compares
    every group with that one; without it every pair of groups (a before b in sorted order) is
    compared; ``compare=False`` skips the differences. ``resamples`` sizes the permutation test
    and the normal simulation of the gap.
    ``support`` is the values' declared support (:data:`SUPPORTS`). Per-group intervals are
    :func:`ratio_estimate`'s (cut at 0 for non-negative values only after the gap and the
    differences are made: their MOVER widths need each group's whole interval). See :func:`_gap`
    for the gap's interval.
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
    table = _group_table(x, codes, names, cluster_codes, support, confidence)
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
        normal, draws = _draws(table, max(resamples, 1000), seed)
        point, low, high, corrected = _gap(table, confidence, normal, draws)
        gap = Estimate(point, low, high, int(x.size), "gap_max_t", n_clusters)
        p_value = _no_gap_p_value(x, codes, cluster_codes, len(names), resamples, seed)
        if math.isnan(p_value):
            p_value = _max_t_p_value(table, draws)
    if baseline is not None and baseline not in names:
        raise ValueError(f"baseline group {baseline!r} is not among the groups: {', '.join(names)}")
    compared = (
        []
        if not compare
        else [(name, baseline) for name in names if name != baseline]
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
            pair_table = _group_table(x[rows], pair_codes, pair_names, pair_clusters, support, confidence)
            i, j = pair_names.index(a), pair_names.index(b)
        pair_clusters_count = int(np.unique(cluster_codes[rows]).size)
        differences[(a, b)], p_values[(a, b)] = _difference(
            pair_table, i, j, int(rows.sum()), pair_clusters_count, confidence
        )
    tested = [pair for pair in compared if math.isfinite(p_values[pair])]
    adjusted = dict(zip(tested, holm_adjust([p_values[pair] for pair in tested]).tolist(), strict=True))
    p_adjusted = {pair: adjusted.get(pair, math.nan) for pair in compared}
    per_group = {name: _cut_at_zero(estimate, support) for name, estimate in table.estimates.items()}
    return DisparityResult(
        per_group, gap, corrected, highest, lowest, p_value, differences, p_values, p_adjusted
    )
