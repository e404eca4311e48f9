"""Bootstrap replicates, rank intervals and the paired non-inferiority test."""

from __future__ import annotations

import numpy as np
import pytest

from harness import stats
from harness.report.resampling import (
    RankInterval,
    bootstrap_comparison,
    bootstrap_means,
    display_ranks,
    overlap_comparison,
    paired_noninferiority,
    ranks,
)


@pytest.mark.parametrize("clustered", [False, True])
def test_replicates_are_the_engine_bootstrap(clustered: bool) -> None:
    rng = np.random.default_rng(3)
    values = rng.random(50)
    clusters = np.repeat(np.arange(10), 5) if clustered else None
    replicates = bootstrap_means(values, clusters, resamples=700, seed=11)[:, 0]
    engine = stats.cluster_bootstrap_mean(values, clusters, resamples=700, seed=11)
    low, high = np.quantile(replicates, [0.025, 0.975])
    assert (low, high) == pytest.approx((engine.low, engine.high), abs=1e-12)


def test_columns_share_each_draw_and_skip_missing_values() -> None:
    values = np.array([[1.0, 1.0], [0.0, np.nan], [1.0, 1.0]])
    replicates = bootstrap_means(values, resamples=400, seed=0)
    assert replicates.shape == (400, 2)
    missing = np.isnan(replicates[:, 1])
    # Column 2 is 1 wherever present; it is missing only in draws of unit 2 alone, where column 1 is 0.
    assert np.all(replicates[~missing, 1] == 1.0)
    assert missing.any() and np.all(replicates[missing, 0] == 0.0)
    # Column 1's mean is the share of units 1 and 3 drawn: a multiple of 1/3.
    assert np.allclose(replicates[:, 0] * 3, np.round(replicates[:, 0] * 3))


def test_competition_ranks_respect_direction_ties_and_missing() -> None:
    assert ranks(np.array([0.9, 0.9, 0.5]), higher_is_better=True).tolist() == [1, 1, 3]
    assert ranks(np.array([0.9, 0.9, 0.5]), higher_is_better=False).tolist() == [2, 2, 1]
    assert ranks(np.array([0.2, np.nan, 0.1]), higher_is_better=False).tolist() == [2, 3, 1]


def test_overlap_comparison_hand_computed() -> None:
    # A [0.80, 0.90] and B [0.85, 0.95] overlap; both lie wholly above C [0.10, 0.20].
    comparison = overlap_comparison([0.85, 0.90, 0.15], [0.80, 0.85, 0.10], [0.90, 0.95, 0.20], True)
    assert comparison.intervals == [RankInterval(2, 1, 2), RankInterval(1, 1, 2), RankInterval(3, 3, 3)]
    assert comparison.outcomes.tolist() == [[0, 0, 1], [0, 0, 1], [-1, -1, 0]]
    lower = overlap_comparison([0.85, 0.90, 0.15], [0.80, 0.85, 0.10], [0.90, 0.95, 0.20], False)
    assert [i.rank for i in lower.intervals] == [2, 3, 1]
    assert lower.intervals[2] == RankInterval(1, 1, 1)


def test_display_ranks_share_rank_when_intervals_overlap() -> None:
    intervals = [RankInterval(1, 1, 1), RankInterval(2, 1, 3), RankInterval(3, 2, 3), RankInterval(4, 4, 4)]
    assert display_ranks(intervals) == [1, 1, 2, 4]


def test_bootstrap_comparison_separates_distinct_and_ties_identical_models() -> None:
    rng = np.random.default_rng(0)
    strong = (rng.random(300) < 0.9).astype(float)
    weak = (rng.random(300) < 0.3).astype(float)
    values = np.column_stack([weak, strong, strong])
    comparison = bootstrap_comparison(values.mean(axis=0), values, None, True, resamples=500, seed=1)
    assert comparison.intervals == [RankInterval(3, 3, 3), RankInterval(1, 1, 1), RankInterval(1, 1, 1)]
    assert comparison.outcomes.tolist() == [[0, -1, -1], [1, 0, 0], [1, 0, 0]]
    assert display_ranks(comparison.intervals) == [3, 1, 1]


def test_paired_noninferiority_constant_shift() -> None:
    """Every pair improves by 0.1: no variance, so the bound is what 40 pairs can show."""
    baseline = np.linspace(0.0, 0.9, 40)
    test = paired_noninferiority(
        baseline + 0.1, baseline, None, margin=0.0, higher_is_better=True, support="unit_interval"
    )
    share = 1 - 0.025 ** (1 / 40)
    assert test.difference == pytest.approx(0.1)
    assert (test.ci_low, test.ci_high) == pytest.approx((0.1 - share * 1.1, 0.1 + share * 0.9))
    # all 40 pairs improve; a mean <= 0 needs a share >= 0.1 / 1.1 of pairs to differ: (1 / 1.1)^40
    assert test.p_noninferior == pytest.approx((1 / 1.1) ** 40) and test.p_inferior == 1.0
    worse = paired_noninferiority(
        baseline + 0.1, baseline, None, margin=0.0, higher_is_better=False, support="unit_interval"
    )
    assert worse.p_inferior == pytest.approx((1 / 1.1) ** 40) and worse.p_noninferior == 1.0


@pytest.mark.parametrize("margin", [0.0, 0.02, 0.05, 0.1])
@pytest.mark.parametrize("higher_is_better", [True, False])
def test_p_value_agrees_with_the_engine_interval(margin: float, higher_is_better: bool) -> None:
    rng = np.random.default_rng(5)
    baseline = (rng.random(200) < 0.7).astype(float)
    candidate = np.where(rng.random(200) < 0.1, 1.0 - baseline, baseline)
    clusters = np.repeat(np.arange(50), 4)
    test = paired_noninferiority(
        candidate,
        baseline,
        clusters,
        margin=margin,
        higher_is_better=higher_is_better,
        support="unit_interval",
    )
    engine = stats.paired_difference(candidate, baseline, clusters, support="unit_interval")
    assert (test.ci_low, test.ci_high) == (engine.low, engine.high) and engine.method == "paired_cluster_t"
    # One-sided p <= 0.025 exactly when the 95% CI clears the margin on the good side.
    clears = engine.low > -margin if higher_is_better else engine.high < margin
    assert (test.p_noninferior <= 0.025) == clears
    fails = engine.high < -margin if higher_is_better else engine.low > margin
    assert (test.p_inferior <= 0.025) == fails
    # at the bound itself the p-value is exactly 0.025
    edge = stats.paired_difference_p_value(
        candidate, baseline, clusters, engine.low, "greater", support="unit_interval"
    )
    assert edge == pytest.approx(0.025)
