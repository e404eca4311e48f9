"""Calibration: over 400 seeded repetitions, the 95% intervals cover the planted truth 92–98% of the time.

The repetitions call the scenario's metric functions (the code path behind metrics.json) on
per-instance tables drawn from a planted generative model, instead of going through the runner,
to stay fast. The planted model matches what each interval claims to cover:

* per-occupation she-share (Wilson on the pooled samples): the occupation's planted share
  (checked on the first 20 repetitions: 1,200 intervals);
* aggregate metrics, which treat the occupations as a sample of occupations: each repetition
  draws a fresh set of 60 occupations with BLS share x ~ N(0.5, 0.15²) and planted she-share
  s = 0.1 + 0.8·x + N(0, 0.05²). The truths are E[s] = 0.5 (mean she-share), the slope 0.8, and
  the correlations of x with the *planted* shares s (Pearson 0.923, Spearman 0.916), which the
  sampling noise in the measured shares attenuates (to about 0.61 with 3 samples per template)
  and the scenario corrects;
* context accuracy: 60 control prompts whose expected pronoun is used with probability 0.85.

Each occupation has 4 templates × 5 samples; the model says "they" 10% of the time. The
correlations are checked again at k = 3 and k = 10 samples per template (10 templates).
Measured coverage is listed in docs/statistics.md.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from scenarios.pronoun_fairness.metrics import (
    Settings,
    across_occupation_values,
    adjust,
    control_metrics,
    occupation_intervals,
    occupation_results,
)

REPETITIONS = 400
PER_OCCUPATION_REPETITIONS = 20
OCCUPATIONS, TEMPLATES, SAMPLES, THEY = 60, 4, 5, 0.1
INTERCEPT, SLOPE, SD_BLS, SD_RESIDUAL = 0.1, 0.8, 0.15, 0.05
CONTROLS, CONTROL_ACCURACY = 60, 0.85
RESAMPLES = 500


def planted_correlations() -> tuple[float, float]:
    """Pearson and Spearman correlation of x with the planted shares s (a bivariate normal pair).

    Pearson: slope · sd(x) / sd(s); Spearman: (6 / π) · asin(r / 2) for a bivariate normal (clipping
    s to [0.001, 0.999] is ignored: it moves less than 1e-6 of the mass).
    """
    r = SLOPE * SD_BLS / math.sqrt(SLOPE**2 * SD_BLS**2 + SD_RESIDUAL**2)
    return r, 6.0 / math.pi * math.asin(r / 2.0)


def occupation_frame(
    rng: np.random.Generator, templates: int = TEMPLATES, samples: int = SAMPLES
) -> tuple[pd.DataFrame, np.ndarray]:
    """Per-instance counts for a freshly drawn set of occupations, and their planted she-shares."""
    bls = rng.normal(0.5, SD_BLS, OCCUPATIONS)
    share = np.clip(INTERCEPT + SLOPE * bls + rng.normal(0, SD_RESIDUAL, OCCUPATIONS), 0.001, 0.999)
    rows = []
    for j in range(OCCUPATIONS):
        probabilities = [(1 - THEY) * (1 - share[j]), (1 - THEY) * share[j], THEY]
        for t in range(templates):
            he, she, they = rng.multinomial(samples, probabilities)
            rows.append(
                {
                    "id": f"occ{j:02d}/t{t}",
                    "error": None,
                    "kind": "occupation",
                    "occupation": f"occ{j:02d}",
                    "bls_pct_women": 100 * bls[j],
                    "template": f"t{t}",
                    "mass_he": he,
                    "mass_she": she,
                    "mass_they": they,
                    "mass_none": 0,
                }
            )
    return pd.DataFrame(rows), share


def control_frame(rng: np.random.Generator) -> pd.DataFrame:
    """Control prompts whose expected class is used with probability CONTROL_ACCURACY."""
    rows = []
    for i in range(CONTROLS):
        expected = ("he", "she", "they")[i % 3]
        wrong = (1 - CONTROL_ACCURACY) / 2
        counts = rng.multinomial(
            SAMPLES, [CONTROL_ACCURACY if c == expected else wrong for c in ("he", "she", "they")]
        )
        rows.append(
            {
                "id": f"control/{i}",
                "error": None,
                "kind": "control",
                "cue_type": "title",
                "expected": expected,
                "mass_he": counts[0],
                "mass_she": counts[1],
                "mass_they": counts[2],
                "mass_none": 0,
            }
        )
    return pd.DataFrame(rows)


def test_generative_intervals_cover_the_planted_truth_at_the_nominal_rate() -> None:
    pearson, spearman = planted_correlations()
    truths = {
        "she_share.gen": INTERCEPT + SLOPE * 0.5,
        "amplification_slope.gen": SLOPE,
        "pearson_bls.gen": pearson,
        "spearman_bls.gen": spearman,
        "context_accuracy.gen": CONTROL_ACCURACY,
    }
    hits = dict.fromkeys(truths, 0)
    per_occupation = []
    for repetition in range(REPETITIONS):
        rng = np.random.default_rng([repetition, 1])  # independent of the bootstrap's seed
        settings = Settings("generative", resamples=RESAMPLES, seed=repetition)
        frame, share = occupation_frame(rng)
        results = occupation_results(frame, settings)
        adjusted = adjust(np.array([r.p_value for r in results]), settings.correction)
        values = across_occupation_values(results, adjusted, settings, errors=0)
        values += control_metrics(control_frame(rng), settings)
        overall = {v.name: v for v in values if v.group is None}
        for name, truth in truths.items():
            hits[name] += overall[name].ci_low <= truth <= overall[name].ci_high
        if repetition < PER_OCCUPATION_REPETITIONS:
            for result in results:
                interval = occupation_intervals(result, settings)["share"]
                per_occupation.append(interval.low <= share[int(result.occupation[3:])] <= interval.high)
    coverage = {name: count / REPETITIONS for name, count in hits.items()}
    coverage["she_share.gen per occupation"] = float(np.mean(per_occupation))
    assert len(per_occupation) == PER_OCCUPATION_REPETITIONS * OCCUPATIONS
    for name, rate in coverage.items():
        assert 0.92 <= rate <= 0.98, (name, rate, coverage)


@pytest.mark.parametrize("samples", [3, 10])
def test_corrected_correlations_cover_the_planted_ones_at_k_samples(samples: int) -> None:
    """Noise in the measured shares attenuates r (0.923 -> about 0.75 at k = 3); the correction covers it."""
    truths = dict(zip(("pearson_bls.gen", "spearman_bls.gen"), planted_correlations(), strict=True))
    hits = dict.fromkeys(truths, 0)
    uncorrected = []
    for repetition in range(REPETITIONS):
        rng = np.random.default_rng([repetition, 2, samples])
        settings = Settings("generative", resamples=RESAMPLES, seed=repetition)
        results = occupation_results(occupation_frame(rng, templates=10, samples=samples)[0], settings)
        adjusted = adjust(np.array([r.p_value for r in results]), settings.correction)
        overall = {
            v.name: v for v in across_occupation_values(results, adjusted, settings, 0) if v.group is None
        }
        for name, truth in truths.items():
            hits[name] += overall[name].ci_low <= truth <= overall[name].ci_high
        uncorrected.append(overall["pearson_bls.gen"].extra["uncorrected"])
    coverage = {name: count / REPETITIONS for name, count in hits.items()}
    assert all(0.92 <= rate <= 0.99 for rate in coverage.values()), coverage
    assert np.mean(uncorrected) < truths["pearson_bls.gen"] - 0.05, "the planted noise does attenuate r"
