"""The watermark metrics' estimators: proportions, medians and rates, each with its interval.

Each function takes per-unit values (one unit per prompt or per human passage: one output per
prompt and arm, so no two units share a prompt) and returns a :class:`harness.stats.Estimate`.

* Proportions (TPR, FPR, detected share) use the Wilson interval of :mod:`harness.stats`.
* Proportions over several keys of the same texts (the key-averaged FPR) resample texts: the same
  text under several keys is one cluster.
* The median number of tokens to detection uses scipy's percentile bootstrap; outputs never
  detected count as infinitely long (censored), so the median is undefined (None) once half of
  the outputs are never detected, and an interval end beyond every observed length is None.
* The all-green run rate of the seed essay counts disjoint 10-token blocks: under the null
  hypothesis each scored token is green independently with probability γ, so blocks are
  independent and the count is binomial (Wilson interval).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from harness import stats
from harness.stats import Estimate

RUN_LENGTH = 10


def proportion(outcomes: Sequence[bool] | np.ndarray) -> Estimate:
    """The share of true outcomes among independent units, with its Wilson interval."""
    values = np.asarray(outcomes, dtype=bool)
    return stats.wilson_interval(int(values.sum()), int(values.size))


def clustered_proportion(rates: Sequence[float] | np.ndarray, *, resamples: int, seed: int) -> Estimate:
    """The mean of per-text rates (each the share of keys that flag the text), resampling texts."""
    return stats.cluster_bootstrap_mean(np.asarray(rates, dtype=float), resamples=resamples, seed=seed)


def median_tokens(lengths: Sequence[float] | np.ndarray, *, resamples: int, seed: int) -> Estimate:
    """Median tokens to detection (inf: never detected) with a percentile bootstrap interval."""
    from scipy.stats import bootstrap

    values = np.asarray(lengths, dtype=float)
    if values.size == 0:
        return Estimate(None, None, None, 0, "percentile_bootstrap")
    point = float(np.median(values))
    if values.size < 2:
        return Estimate(_finite(point), None, None, int(values.size), "percentile_bootstrap")
    with np.errstate(invalid="ignore"):  # infinite lengths: scipy's spread check subtracts inf - inf
        result = bootstrap(
            (values,),
            np.median,
            n_resamples=resamples,
            method="percentile",
            vectorized=True,
            random_state=np.random.default_rng(seed),
        )
    low, high = float(result.confidence_interval.low), float(result.confidence_interval.high)
    low, high = min(low, point), max(high, point)
    return Estimate(_finite(point), _finite(low), _finite(high), int(values.size), "percentile_bootstrap")


def _finite(value: float) -> float | None:
    return value if np.isfinite(value) else None


def green_blocks(green: Sequence[bool] | np.ndarray, run: int = RUN_LENGTH) -> tuple[int, int]:
    """(all-green blocks, blocks) over the disjoint ``run``-token blocks of one text's scored tokens."""
    bits = np.asarray(green, dtype=bool)
    blocks = bits.size // run
    if blocks == 0:
        return 0, 0
    return int(bits[: blocks * run].reshape(blocks, run).all(axis=1).sum()), int(blocks)


def green_run_rate(counts: Sequence[tuple[int, int]]) -> Estimate:
    """The rate of all-green blocks over every text's blocks, with its Wilson interval."""
    hits = sum(h for h, _ in counts)
    total = sum(n for _, n in counts)
    return stats.wilson_interval(hits, total)
