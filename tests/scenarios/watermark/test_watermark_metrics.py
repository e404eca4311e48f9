"""Interval coverage of the watermark metrics on planted truths, and the hand-computable pieces."""

from __future__ import annotations

import numpy as np
import pytest

from scenarios.watermark import metrics

BAND = (0.92, 0.98)


def _covers(estimate, truth: float) -> bool:
    return estimate.low is not None and estimate.low <= truth <= estimate.high


@pytest.mark.parametrize(("truth", "n"), [(0.9, 100), (0.3, 100), (0.01, 200)])
def test_proportion_interval_covers_a_planted_detection_rate(truth: float, n: int) -> None:
    """A simulated detector flags each output with probability ``truth`` (TPR-like and FPR-like rates)."""
    rng = np.random.default_rng(7)
    replicates = 2000
    hits = sum(_covers(metrics.proportion(rng.random(n) < truth), truth) for _ in range(replicates))
    assert BAND[0] <= hits / replicates <= BAND[1]


def test_proportion_interval_contains_its_estimate_and_is_never_zero_width() -> None:
    for outcomes in ([False] * 50, [True] * 50, [True, False, False]):
        estimate = metrics.proportion(outcomes)
        assert estimate.low <= estimate.value <= estimate.high
        assert estimate.high > estimate.low


def test_median_tokens_interval_covers_a_planted_median() -> None:
    """Tokens to detection drawn from a planted law (integers, 5% never detected): true median 20."""
    rng = np.random.default_rng(3)

    def draw(size: int) -> np.ndarray:
        lengths = 5 + rng.negative_binomial(4, 0.2, size=size).astype(float)
        lengths[rng.random(size) < 0.05] = np.inf
        return lengths

    truth = float(np.median(draw(2_000_000)))
    replicates = 300
    hits = sum(
        _covers(metrics.median_tokens(draw(100), resamples=400, seed=i), truth) for i in range(replicates)
    )
    assert BAND[0] <= hits / replicates <= BAND[1]


def test_median_tokens_with_most_outputs_never_detected_is_undefined_not_a_number() -> None:
    estimate = metrics.median_tokens([np.inf] * 6 + [10.0] * 4, resamples=200, seed=0)
    assert estimate.value is None and estimate.high is None
    finite = metrics.median_tokens([12.0, 10.0, 30.0], resamples=200, seed=0)
    assert finite.value == 12.0 and finite.low <= 12.0 <= finite.high


def test_clustered_proportion_covers_a_planted_key_averaged_rate() -> None:
    """Each text is flagged by each of 5 keys with its own planted probability (mean 0.02)."""
    rng = np.random.default_rng(11)
    replicates, texts, keys = 400, 200, 5
    truth = 0.02
    hits = 0
    for i in range(replicates):
        per_text = rng.beta(0.5, 0.5 / truth - 0.5, size=texts)  # texts differ in how often keys flag them
        rates = rng.binomial(keys, per_text) / keys
        hits += _covers(metrics.clustered_proportion(rates, resamples=400, seed=i), truth)
    assert BAND[0] <= hits / replicates <= BAND[1]


def test_green_blocks_counts_disjoint_all_green_runs() -> None:
    bits = [True] * 10 + [True] * 9 + [False] + [True] * 10 + [True] * 3
    assert metrics.green_blocks(bits) == (2, 3)
    assert metrics.green_blocks([True] * 9) == (0, 0)
    estimate = metrics.green_run_rate([(2, 3), (0, 7)])
    assert estimate.value == pytest.approx(0.2) and estimate.n == 10
