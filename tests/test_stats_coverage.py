"""Coverage of every interval method on planted truths: 400 seeded repetitions, 92-98% wanted.

With 400 repetitions a method at 95% lands in [0.92, 0.98] with probability above 0.99, so a
failure means a miscalibrated method, not bad luck. The repetitions draw from the planted model
directly (the code path behind metrics.json is :mod:`harness.stats`); the scenarios' own coverage
tests (pronoun fairness) go through their metric functions. Measured rates are in
docs/statistics.md.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest

from harness import stats

REPETITIONS = 400
RESAMPLES = 200  # the gap's permutation test and max-T simulation inside the loop


def mean_coverage(
    draw: Callable[[np.random.Generator], np.ndarray], truth: float, repetitions: int = REPETITIONS
) -> float:
    hits = 0
    for repetition in range(repetitions):
        estimate = stats.mean_estimate(draw(np.random.default_rng([repetition, 7])), support="unit_interval")
        assert estimate.low <= estimate.value <= estimate.high and estimate.low < estimate.high
        hits += estimate.low <= truth <= estimate.high
    return hits / repetitions


@pytest.mark.parametrize(
    ("label", "draw", "truth"),
    [
        ("a 1% rare event, 500 rows", lambda g: (g.random(500) < 0.01).astype(float), 0.01),
        ("a 2% event, 200 rows", lambda g: (g.random(200) < 0.02).astype(float), 0.02),
        ("skewed scores, 10 prompts", lambda g: g.beta(0.4, 3.6, 10), 0.1),  # Wilson alone: 0.91
        ("skewed scores, 20 prompts", lambda g: g.beta(0.4, 3.6, 20), 0.1),
        ("scores, 10 prompts", lambda g: g.beta(1.2, 2.8, 10), 0.3),
    ],
)
def test_mean_interval_covers_at_the_nominal_rate(label: str, draw: Callable, truth: float) -> None:
    assert 0.92 <= mean_coverage(draw, truth) <= 0.98, label


def test_very_skewed_scores_over_20_prompts_cover_at_the_nominal_rate() -> None:
    """Mean 0.01, carried by rare high scores: 0.93 (Wilson alone 0.84). 2,000 repetitions
    (standard error 0.005) keep the band's lower edge from deciding by chance."""
    coverage = mean_coverage(lambda g: g.beta(0.1, 9.9, 20), 0.01, repetitions=2000)
    assert 0.92 <= coverage <= 0.98, coverage


def skewed_prompts(rng: np.random.Generator, prompts: int) -> tuple[np.ndarray, np.ndarray]:
    """Toxicity-like scores: 5 samples of each prompt, prompt means skewed towards 0 (mean 0.1)."""
    prompt_means = rng.beta(0.3, 2.7, prompts)
    rows = rng.beta(prompt_means.repeat(5) * 3 + 1e-3, (1 - prompt_means.repeat(5)) * 3 + 1e-3)
    return rows, np.repeat(np.arange(prompts), 5)


@pytest.mark.parametrize("prompts", [10, 20])
def test_clustered_skewed_scores_cover_at_the_nominal_rate(prompts: int) -> None:
    hits = 0
    for repetition in range(REPETITIONS):
        rows, clusters = skewed_prompts(np.random.default_rng([repetition, 8]), prompts)
        estimate = stats.mean_estimate(rows, clusters, support="unit_interval")
        assert estimate.low <= estimate.value <= estimate.high and estimate.low < estimate.high
        assert estimate.n_clusters == prompts
        hits += estimate.low <= 0.1 <= estimate.high
    assert 0.92 <= hits / REPETITIONS <= 0.98, (prompts, hits / REPETITIONS)


@pytest.mark.parametrize("difference", [0.0, 0.1])
def test_paired_difference_covers_at_the_nominal_rate(difference: float) -> None:
    """40 prompts x 4 samples; each prompt's rate is shared by both models, the candidate's shifted."""
    clusters = np.repeat(np.arange(40), 4)
    hits = 0
    for repetition in range(REPETITIONS):
        rng = np.random.default_rng([repetition, 6])
        rates = np.repeat(rng.uniform(0.0, 0.8, 40), 4)
        baseline = (rng.random(160) < rates) * 1.0
        candidate = (rng.random(160) < rates + difference) * 1.0
        estimate = stats.paired_difference(candidate, baseline, clusters, support="unit_interval")
        assert estimate.low <= estimate.value <= estimate.high and estimate.low < estimate.high
        hits += estimate.low <= difference <= estimate.high
    assert 0.92 <= hits / REPETITIONS <= 0.98, (difference, hits / REPETITIONS)


def gap_coverage(means: list[float], rows: int, beta: bool) -> tuple[float, float]:
    """Coverage of the gap interval and of the first pairwise difference's interval."""
    labels = np.repeat([f"g{i}" for i in range(len(means))], rows)
    planted = np.repeat(means, rows)
    truth = max(means) - min(means)
    gap_hits = difference_hits = 0
    for repetition in range(REPETITIONS):
        rng = np.random.default_rng([repetition, 9])
        values = (
            rng.beta(planted * 4, (1 - planted) * 4) if beta else (rng.random(planted.size) < planted) * 1.0
        )
        result = stats.disparity(
            values, labels, support="unit_interval", resamples=RESAMPLES, seed=repetition
        )
        gap = result.gap
        assert gap.low <= gap.value <= gap.high and gap.low < gap.high
        assert result.gap_bias_corrected is not None and 0 <= result.gap_bias_corrected <= gap.value
        gap_hits += gap.low <= truth <= gap.high
        difference = result.differences[("g0", "g1")]
        difference_hits += difference.low <= means[0] - means[1] <= difference.high
    return gap_hits / REPETITIONS, difference_hits / REPETITIONS


@pytest.mark.parametrize(
    ("means", "rows", "beta"),
    [
        ([0.3, 0.3], 100, False),  # no gap, two groups
        ([0.3] * 4, 50, False),  # no gap, four groups: the max of noisy means is biased upward
        ([0.2, 0.3, 0.3, 0.5], 100, False),  # a gap of 0.3
        ([0.2, 0.35, 0.45], 80, True),  # a gap of 0.25 in continuous scores
    ],
)
def test_gap_and_difference_intervals_cover_at_the_nominal_rate(
    means: list[float], rows: int, beta: bool
) -> None:
    gap, difference = gap_coverage(means, rows, beta)
    assert 0.92 <= gap <= 0.98, (means, gap)
    assert 0.92 <= difference <= 0.98, (means, difference)


@pytest.mark.parametrize(
    ("rate", "rows", "band"),
    [
        (0.0015, 100, (0.95, 1.0)),  # 0.15 expected events: Wilson alone covers 86% (1/100 excludes it)
        (0.005, 30, (0.95, 1.0)),  # the same dip at 30 rows: Wilson alone 86%
        (0.01, 100, (0.92, 0.99)),  # Wilson alone 92.1%
        (0.01, 500, (0.92, 0.98)),
        (0.02, 200, (0.92, 0.98)),
    ],
)
def test_rare_event_coverage_is_exact_over_every_possible_count(
    rate: float, rows: int, band: tuple[float, float]
) -> None:
    """Exact coverage (sum of binomial probabilities of the counts whose interval holds the rate).

    At under one expected event a discrete interval covers either about P(0 or 1 events) or
    P(0 events); the first is the honest one, so the band there is [0.95, 1].
    """
    from scipy import stats as sps

    counts = np.arange(rows + 1)
    covered = []
    for count in counts:
        estimate = stats.mean_estimate(np.r_[np.ones(count), np.zeros(rows - count)], support="unit_interval")
        assert estimate.low <= estimate.value <= estimate.high and estimate.low < estimate.high
        covered.append(estimate.low <= rate <= estimate.high)
    coverage = float(sps.binom.pmf(counts, rows, rate) @ np.array(covered, dtype=float))
    assert band[0] <= coverage <= band[1], (rate, rows, coverage)


def test_proportions_at_zero_and_one_keep_their_estimate_and_some_width() -> None:
    """The old closed form missed 0/n or n/n by one rounding step for 204 of n = 1..1000."""
    for n in range(1, 1001):
        for method in ("wilson", "clopper_pearson"):
            none = stats.proportion_interval(0, n, method)
            every = stats.proportion_interval(n, n, method)
            assert none.low == 0.0 == none.value < none.high
            assert every.low < every.high == 1.0 == every.value
    clustered_zero = stats.mean_estimate(np.zeros(40), np.repeat(np.arange(8), 5), support="unit_interval")
    assert clustered_zero.low == 0.0 < clustered_zero.high and clustered_zero.n_clusters == 8


@pytest.mark.parametrize(
    ("label", "draw", "truth"),
    [
        ("skewed counts, 30 prompts", lambda g: g.geometric(0.2, 30) - 1.0, 4.0),
        ("rare counts, 30 prompts", lambda g: g.poisson(0.5, 30) * 1.0, 0.5),
    ],
)
def test_a_mean_of_counts_cut_at_zero_covers_at_the_nominal_rate(
    label: str, draw: Callable, truth: float
) -> None:
    """Token counts (support "nonnegative"): the clustered t interval cut at 0 (0.94 and 0.93).

    Heavier skew over fewer prompts covers less: 0.925 for negative-binomial counts (mean 5,
    size 2) over 20 prompts, as the t interval does."""
    hits = 0
    for repetition in range(1000):
        estimate = stats.mean_estimate(draw(np.random.default_rng([repetition, 9])), support="nonnegative")
        assert 0.0 <= estimate.low <= estimate.value <= estimate.high
        hits += estimate.low <= truth <= estimate.high
    assert 0.92 <= hits / 1000 <= 0.98, label


def test_cluster_bootstrap_of_a_mean_covers_at_the_nominal_rate() -> None:
    """30 prompts x 4 rows with prompt effects (leaderboard ranks, decisions' template effects): 0.931."""
    hits = 0
    for repetition in range(2000):
        rng = np.random.default_rng([repetition, 13])
        values = np.repeat(rng.normal(0.3, 0.5, 30), 4) + rng.normal(0, 1, 120)
        estimate = stats.cluster_bootstrap_mean(
            values, np.repeat(np.arange(30), 4), resamples=1000, seed=repetition
        )
        assert estimate.low <= estimate.value <= estimate.high
        hits += estimate.low <= 0.3 <= estimate.high
    assert 0.92 <= hits / 2000 <= 0.98, hits / 2000


def test_cluster_bootstrap_of_an_auc_covers_the_population_auc() -> None:
    """Guardrails' AUC: 40 templates of 3 harmful and 3 benign texts, a template effect on every score.

    Scores are u + e + 1·harmful with u ~ N(0, 0.5²) per template and e ~ N(0, 1), so the AUC of
    two independent texts is Φ(1 / √(2 · 1.25)) = 0.736. 300 repetitions: 0.95.
    """
    from scipy.stats import norm, rankdata

    truth = float(norm.cdf(1.0 / math.sqrt(2 * 1.25)))
    harmful = np.tile([1, 1, 1, 0, 0, 0], 40)
    clusters = np.repeat(np.arange(40), 6)

    def auc(labels: np.ndarray, scores: np.ndarray) -> float:
        ranks = rankdata(scores)
        positives = int(labels.sum())
        return (ranks[labels == 1].sum() - positives * (positives + 1) / 2) / (
            positives * (labels.size - positives)
        )

    hits = 0
    for repetition in range(300):
        rng = np.random.default_rng([repetition, 12])
        scores = np.repeat(rng.normal(0, 0.5, 40), 6) + rng.normal(0, 1, 240) + harmful

        def statistic(rows: np.ndarray, scores: np.ndarray = scores) -> float:
            return auc(harmful[rows], scores[rows])

        estimate = stats.cluster_bootstrap_statistic(clusters, statistic, resamples=400, seed=repetition)
        assert estimate.low <= estimate.value <= estimate.high
        hits += estimate.low <= truth <= estimate.high
    assert 0.92 <= hits / 300 <= 0.98, hits / 300
