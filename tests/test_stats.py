"""Known-answer checks of the shared statistics."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.stats

from harness import stats


def test_wilson_interval_matches_the_closed_form() -> None:
    p, n, z = 0.3, 50, 1.959963984540054
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    estimate = stats.wilson_interval(15, 50)
    assert estimate.value == pytest.approx(0.3)
    assert estimate.low == pytest.approx(centre - half, abs=1e-9)
    assert estimate.high == pytest.approx(centre + half, abs=1e-9)


def test_wilson_with_no_successes_is_close_to_the_rule_of_three() -> None:
    assert stats.wilson_interval(0, 300).high == pytest.approx(3 / 300, rel=0.35)


def test_clustered_interval_widens_for_perfectly_correlated_clusters() -> None:
    rng = np.random.default_rng(1)
    cluster_means = rng.random(30) > 0.5
    values = np.repeat(cluster_means.astype(float), 10)
    clusters = np.repeat(np.arange(30), 10)
    naive = stats.mean_estimate(values, support="unit_interval")
    clustered = stats.mean_estimate(values, clusters, support="unit_interval")
    assert naive.value == clustered.value == pytest.approx(values.mean())
    assert (clustered.high - clustered.low) > 2.5 * (naive.high - naive.low)
    assert (clustered.n, clustered.n_clusters, naive.n_clusters) == (300, 30, 300)


def test_cluster_bootstrap_statistic_of_a_mean_agrees_with_the_mean_version() -> None:
    values = np.arange(20, dtype=float)
    fast = stats.cluster_bootstrap_mean(values, np.arange(20), seed=3, resamples=4000)
    slow = stats.cluster_bootstrap_statistic(
        np.arange(20), lambda idx: values[idx].mean(), seed=3, resamples=4000
    )
    assert slow.value == fast.value
    # one draw everywhere: the same seed resamples the same clusters, so the intervals coincide
    assert (slow.low, slow.high) == pytest.approx((fast.low, fast.high), abs=1e-9)


def test_fisher_z_interval() -> None:
    low, high = stats.fisher_z_interval(0.5, 28)
    assert low == pytest.approx(math.tanh(math.atanh(0.5) - 1.959963984540054 / 5))
    assert high == pytest.approx(math.tanh(math.atanh(0.5) + 1.959963984540054 / 5))
    assert stats.fisher_z_interval(0.5, 3) == (None, None)


def test_holm_adjustment_hand_computed() -> None:
    adjusted = stats.holm_adjust([0.01, 0.04, 0.03, 0.005])
    # sorted: 0.005*4=0.02, 0.01*3=0.03, 0.03*2=0.06, 0.04*1=0.04 -> monotone max: 0.02, 0.03, 0.06, 0.06
    assert adjusted.tolist() == pytest.approx([0.03, 0.06, 0.06, 0.02])


def test_benjamini_hochberg_hand_computed() -> None:
    adjusted = stats.benjamini_hochberg_adjust([0.01, 0.04, 0.03, 0.005])
    # sorted 0.005,0.01,0.03,0.04 -> *4/1, *4/2, *4/3, *4/4 = 0.02, 0.02, 0.04, 0.04
    assert adjusted.tolist() == pytest.approx([0.02, 0.04, 0.04, 0.02])


def test_paired_difference_is_the_clustered_t_on_the_differences() -> None:
    from scipy import stats as sps

    rng = np.random.default_rng(4)
    baseline = rng.random(30)
    candidate = np.clip(baseline + rng.normal(0.05, 0.1, 30), 0, 1)
    clusters = np.repeat(np.arange(10), 3)
    estimate = stats.paired_difference(candidate, baseline, clusters, support="unit_interval")
    cluster_means = (candidate - baseline).reshape(10, 3).mean(axis=1)  # equal sizes: t on cluster means
    half = sps.t.ppf(0.975, 9) * cluster_means.std(ddof=1) / math.sqrt(10)
    assert estimate.value == pytest.approx(cluster_means.mean())
    assert (estimate.low, estimate.high) == pytest.approx((estimate.value - half, estimate.value + half))
    assert (estimate.n, estimate.n_clusters, estimate.method) == (30, 10, "paired_cluster_t")
    with pytest.raises(ValueError, match="differ in length"):
        stats.paired_difference([1.0], [1.0, 2.0], support="unit_interval")


def test_paired_difference_without_variance_is_bounded_by_what_the_clusters_can_show() -> None:
    """Every difference 0.1 (scores in [0, 1]): at most u = 1 − 0.025^(1/50) of the pairs may differ."""
    baseline = np.linspace(0, 0.9, 50)
    estimate = stats.paired_difference(baseline + 0.1, baseline, support="unit_interval")
    share = 1 - 0.025 ** (1 / 50)
    assert estimate.value == pytest.approx(0.1)
    assert (estimate.low, estimate.high) == pytest.approx((0.1 - share * 1.1, 0.1 + share * 0.9))
    # the p-value inverts the bound: exactly (1 − confidence) / 2 at it
    p = stats.paired_difference_p_value(
        baseline + 0.1, baseline, None, estimate.low, "greater", support="unit_interval"
    )
    assert p == pytest.approx(0.025)
    assert (
        stats.paired_difference_p_value(
            baseline + 0.1, baseline, None, 0.1, "greater", support="unit_interval"
        )
        == 1.0
    )
    same = stats.paired_difference(
        np.zeros(40), np.zeros(40), np.repeat(np.arange(8), 5), support="unit_interval"
    )
    assert same.low == pytest.approx(-(1 - 0.025 ** (1 / 8))) and same.high == pytest.approx(-same.low)
    counts = stats.paired_difference([7.0, 7.0], [7.0, 7.0], support="nonnegative")  # one value: no range
    assert (counts.value, counts.low, counts.high) == (0.0, None, None)
    # the range comes from the declared support, not from the values: logits in [0, 0.6] are
    # bounded by their observed span (differences within ±0.6), rates by [-1, 1]
    low = np.linspace(0, 0.5, 50)
    logits = stats.paired_difference(low + 0.1, low, support="real")
    rates = stats.paired_difference(low + 0.1, low, support="unit_interval")
    assert (logits.low, logits.high) == pytest.approx((0.1 - share * 0.7, 0.1 + share * 0.5))
    assert (rates.low, rates.high) == pytest.approx((0.1 - share * 1.1, 0.1 + share * 0.9))


def test_spearman_interval_uses_the_fieller_variance() -> None:
    low, high = stats.spearman_interval(0.5, 28)
    half = 1.959963984540054 * math.sqrt(1.06 / 25)
    centre = math.atanh(0.5)
    assert (low, high) == pytest.approx((math.tanh(centre - half), math.tanh(centre + half)))
    assert stats.spearman_interval(0.5, 3) == (None, None)


def test_skewed_scores_reach_further_up_than_wilson() -> None:
    """Continuous scores get the further of Wilson's and Hall's bounds; binary rows Wilson alone."""
    scores = np.array([0.0, 0.01, 0.0, 0.02, 0.0, 0.01, 0.0, 0.0, 0.3, 0.01])
    estimate = stats.mean_estimate(scores, support="unit_interval")
    variance = scores.var(ddof=1) / scores.size
    wilson = stats._cluster_wilson(scores.mean(), variance, 10, stats._quantile(0.95, 10))
    assert estimate.low <= wilson[0] and estimate.high > wilson[1] and estimate.method == "cluster_wilson"
    binary = np.r_[np.ones(3), np.zeros(17)]
    wilson_binary = stats._cluster_wilson(0.15, binary.var(ddof=1) / 20, 20, stats._quantile(0.95, 20))
    binary_estimate = stats.mean_estimate(binary, support="unit_interval")
    assert (binary_estimate.low, binary_estimate.high) == pytest.approx(wilson_binary)


def test_ratio_estimate_is_a_ratio_of_sums() -> None:
    estimate = stats.ratio_estimate([1, 0, 3, 2], [2, 0, 4, 2], ["a", "b", "c", "d"], support="unit_interval")
    assert estimate.value == pytest.approx(6 / 8)
    assert (estimate.n, estimate.n_clusters) == (3, 3), "a zero-denominator row carries no weight"
    assert estimate.low <= 0.75 <= estimate.high and estimate.method == "cluster_wilson"
    assert stats.ratio_estimate([1], [0], support="unit_interval").value is None


def test_bootstrap_draws_in_blocks_give_the_same_interval(monkeypatch: pytest.MonkeyPatch) -> None:
    """Blocks bound memory at any size (100k instances) without changing a single replicate."""
    values = np.random.default_rng(3).random(3000)
    whole = stats.cluster_bootstrap_mean(values, resamples=500, seed=4)
    rows = np.vstack(list(stats.resampled_clusters(3000, 500, seed=4)))
    monkeypatch.setattr(stats, "DRAW_BLOCK_ENTRIES", 3000 * 7)  # 71 blocks of 7 replicates, one of 3
    blocks = list(stats.resampled_clusters(3000, 500, seed=4))
    assert len(blocks) == 72 and np.array_equal(np.vstack(blocks), rows)
    assert stats.cluster_bootstrap_mean(values, resamples=500, seed=4) == whole


def test_bootstrap_replicates_are_means_of_the_drawn_clusters() -> None:
    """Each replicate is the drawn clusters' summed values over their summed row counts (hand check)."""
    values = np.array([1.0, 0.0, 3.0, 2.0])
    clusters = ["a", "a", "b", "c"]  # a: 1/2, b: 3/1, c: 2/1
    (drawn,) = stats.resampled_clusters(3, 3, seed=8)
    sums, counts = np.array([1.0, 3.0, 2.0]), np.array([2.0, 1.0, 1.0])
    expected = [sums[row].sum() / counts[row].sum() for row in drawn]
    estimate = stats.cluster_bootstrap_mean(values, clusters, resamples=3, seed=8)
    assert estimate.value == pytest.approx(6 / 4)
    low, high = np.quantile(expected, [0.025, 0.975])
    assert (estimate.low, estimate.high) == pytest.approx((min(low, 1.5), max(high, 1.5)))


def test_holm_equals_statsmodels() -> None:
    from statsmodels.stats.multitest import multipletests

    p = np.random.default_rng(2).random(25) ** 3
    assert stats.holm_adjust(p) == pytest.approx(multipletests(p, method="holm")[1])


def test_clustered_t_interval_uses_statsmodels_cluster_robust_standard_error() -> None:
    """Unbounded values: mean ± t(G − 1) · the cluster-robust SE of an intercept-only regression."""
    import statsmodels.api as sm
    from scipy import stats as sps

    rng = np.random.default_rng(5)
    clusters = np.repeat(np.arange(12), rng.integers(1, 6, 12))
    values = rng.normal(3.0, 2.0, clusters.size) + clusters * 0.1
    fit = sm.OLS(values, np.ones(values.size)).fit(cov_type="cluster", cov_kwds={"groups": clusters})
    # statsmodels scales by G/(G-1) · (N-1)/(N-K); ours is the G/(G-1) form (K = 1, so (N-1)/(N-1) = 1)
    estimate = stats.mean_estimate(values, clusters, support="real")
    half = sps.t.ppf(0.975, 11) * float(fit.bse[0])
    assert estimate.method == "cluster_t" and (estimate.n, estimate.n_clusters) == (values.size, 12)
    assert (estimate.low, estimate.high) == pytest.approx((values.mean() - half, values.mean() + half))


def test_disparity_names_every_tied_group_and_reports_no_gap() -> None:
    values = [1.0, 1.0, 1.0, 1.0, 0.0, 0.0, 1.0, 1.0]
    groups = ["a", "a", "b", "b", "c", "c", "d", "d"]
    result = stats.disparity(values, groups, support="unit_interval", resamples=300)
    assert result.highest == ("a", "b", "d") and result.lowest == ("c",)
    assert result.gap.value == 1.0 and result.gap.low <= 1.0 <= result.gap.high
    assert set(result.differences) == {(a, b) for a, b in [("a", "b"), ("a", "c"), ("a", "d"), ("b", "c"),
                                                           ("b", "d"), ("c", "d")]}  # fmt: skip
    assert result.differences[("a", "c")].value == 1.0 and result.differences[("a", "b")].value == 0.0
    assert result.p_adjusted[("a", "c")] >= result.p_values[("a", "c")]
    alike = stats.disparity(
        [0.2, 0.4, 0.2, 0.4], ["x", "x", "y", "y"], support="unit_interval", resamples=300
    )
    assert alike.gap.value == 0.0 and alike.gap.low == 0.0 < alike.gap.high and alike.p_value == 1.0


def test_paired_disparity_uses_matched_sets_and_the_baseline() -> None:
    """Counterfactual tuples: the same template with the group swapped; one tuple lacks group b."""
    values = np.array([0.9, 0.5, 0.8, 0.4, 0.7, 0.35, 0.6])
    groups = ["a", "b", "a", "b", "a", "b", "a"]
    pairs = ["t1", "t1", "t2", "t2", "t3", "t3", "t4"]
    result = stats.disparity(
        values, groups, support="unit_interval", paired_by=pairs, baseline="b", resamples=300
    )
    difference = result.differences[("a", "b")]
    assert list(result.differences) == [("a", "b")]
    assert difference.value == pytest.approx(np.mean([0.4, 0.4, 0.35]))  # t4 has no b: left out
    assert (difference.n, difference.n_clusters) == (6, 3)
    assert difference.low <= difference.value <= difference.high
    # pairing removes the between-template spread: the interval is far narrower than unpaired
    unpaired = stats.disparity(values[:6], groups[:6], support="unit_interval", resamples=300).differences[
        ("a", "b")
    ]
    assert (difference.high - difference.low) < 0.5 * (unpaired.high - unpaired.low)
    with pytest.raises(ValueError, match="baseline group 'z'"):
        stats.disparity(values, groups, support="unit_interval", baseline="z")


def test_bias_corrected_gap_is_not_swamped_by_groups_of_two_clusters() -> None:
    """Groups of 2 clusters give t(1) critical draws, whose mean does not exist; the bias uses normal ones."""
    rng = np.random.default_rng(0)
    groups = np.repeat(["a", "b", "c", "d"], 20)
    values = (rng.random(80) < np.repeat([0.3, 0.35, 0.35, 0.4], 20)) * 1.0
    clusters = np.repeat(np.arange(8), 10)
    corrected = [
        stats.disparity(values, groups, clusters, support="unit_interval", seed=seed).gap_bias_corrected
        for seed in range(5)
    ]
    gap = stats.disparity(values, groups, clusters, support="unit_interval").gap.value
    assert gap == pytest.approx(0.3) and min(corrected) > 0.2 and max(corrected) <= gap


def test_a_mean_within_float_error_of_zero_gets_the_interval_of_zero() -> None:
    """A mean of 1e-313 (float error of a sum of zeros) once overflowed the exact bound's beta quantile."""
    tiny = stats.mean_estimate(
        [1e-313, 0.0, 0.0, 0.0, 0.0, 0.0], clusters=list("abcdef"), support="unit_interval"
    )
    zero = stats.mean_estimate([0.0] * 6, clusters=list("abcdef"), support="unit_interval")
    assert tiny.low == 0.0 and tiny.high == pytest.approx(zero.high) and zero.high > 0


def test_the_declared_support_picks_the_interval_not_the_observed_values() -> None:
    """Logits that all happen to lie in [0, 1] get the t interval; a mean of exactly 0 is exactly 0."""
    logits, templates = np.zeros(30), np.arange(30)
    zero = stats.mean_estimate(logits, templates, support="real")
    assert (zero.low, zero.value, zero.high, zero.method) == (0.0, 0.0, 0.0, "cluster_t")
    as_rate = stats.mean_estimate(logits, templates, support="unit_interval")
    assert as_rate.method == "cluster_wilson" and as_rate.high > 0.05
    values = np.array([0.2, 0.4, 0.9, 0.1])
    assert stats.mean_estimate(values, support="real").method == "cluster_t"
    assert stats.mean_estimate(values, support="unit_interval").method == "cluster_wilson"
    result = stats.disparity(np.zeros(8), list("aabbccdd"), support="real", resamples=200)
    assert all(e.method == "cluster_t" and e.low == e.high == 0.0 for e in result.per_group.values())


def test_values_outside_their_declared_support_are_refused() -> None:
    with pytest.raises(stats.SupportError, match=r"^a value \(1.5\) lies outside \[0, 1\]$"):
        stats.mean_estimate([0.5, 1.5], support="unit_interval")
    with pytest.raises(stats.SupportError, match=r"^a value \(-1\) lies outside \[0, ∞\)$"):
        stats.mean_estimate([3.0, -1.0], support="nonnegative")
    with pytest.raises(stats.SupportError, match=r"a value \(1.5\) lies outside \[0, 1\]"):
        stats.ratio_estimate([3.0, 1.0], [2.0, 2.0], support="unit_interval")  # 3 of 2
    with pytest.raises(stats.SupportError):
        stats.disparity([0.5, 2.0], ["a", "b"], support="unit_interval")
    with pytest.raises(stats.SupportError):
        stats.paired_difference([0.5, 2.0], [0.5, 0.5], support="unit_interval")
    assert stats.mean_estimate([-3.0, 7.0], support="real").value == 2.0
    with pytest.raises(ValueError, match="support must be one of"):
        stats.mean_estimate([0.5], support="proportion")


def test_a_mean_of_counts_is_never_given_a_negative_lower_bound() -> None:
    """Token counts over two documents: the t(1) interval reaches far below 0; the mean cannot."""
    counts = np.array([0.0, 0.0, 0.0, 120.0])
    documents = ["a", "a", "b", "b"]
    real = stats.mean_estimate(counts, documents, support="real")
    counted = stats.mean_estimate(counts, documents, support="nonnegative")
    assert real.low < -200 and counted.low == 0.0 and counted.high == real.high
    assert counted.value == 30.0 and counted.method == "cluster_t"


def test_scores_far_below_float_precision_squared_still_get_an_interval() -> None:
    """Scores near 1e-132 (a regurgitation p_z): their cubes underflow; the skewness is scale-free."""
    tiny = np.array([3e-132, 1e-132, 0.0, 2e-133, 0.0, 5e-132])
    estimate = stats.mean_estimate(tiny, support="unit_interval")
    scaled = stats.mean_estimate(tiny * 1e120, support="unit_interval")
    assert estimate.low == 0.0 and estimate.value <= estimate.high and estimate.high > 0
    assert scaled.method == estimate.method == "cluster_wilson"


def test_a_difference_p_value_matches_its_interval_with_t_tails_over_few_clusters() -> None:
    """Six templates: p inverts the MOVER interval on t(5), which a normal tail would overstate."""
    rng = np.random.default_rng(4)
    templates = np.repeat(np.arange(6), 20)
    shift = rng.normal(0, 0.3, 6)[templates]
    values = np.concatenate([shift + rng.normal(0.0, 1, 120), shift + rng.normal(0.9, 1, 120)])
    groups = np.array(["a"] * 120 + ["b"] * 120)
    result = stats.disparity(
        values, groups, np.concatenate([templates, templates]), support="real", baseline="a"
    )
    estimate, p = result.differences[("b", "a")], result.p_values[("b", "a")]
    assert estimate.n_clusters == 6 and estimate.low > 0
    statistic = estimate.value * scipy.stats.t.ppf(0.975, 5) / (estimate.value - estimate.low)
    assert p == pytest.approx(2 * scipy.stats.t.sf(statistic, 5), rel=1e-9)
    assert p > 2 * scipy.stats.norm.sf(statistic) and p < 0.05
