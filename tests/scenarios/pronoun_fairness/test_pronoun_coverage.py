"""Calibration: over 400 seeded repetitions, the 95% intervals cover the planted truth 92–98% of the time.

The repetitions call the scenario's metric functions (the code path behind metrics.json) on
per-instance tables drawn from a planted generative model, instead of going through the runner,
to stay fast. The planted model matches what each interval claims to cover:

* per-occupation she-share (Wilson on the pooled samples): the occupation's planted share
  (checked on the first 20 repetitions: 1,200 intervals);
* aggregate metrics, which treat the occupations as a sample of occupations: each repetition
  draws a fresh set of 60 occupations with BLS share x ~ N(0.5, 0.15²) and planted she-share
  s = 0.1 + 0.8·x + N(0, 0.05²). The truths are E[s] = 0.5 (mean she-share), the slope 0.8, and
  the Pearson correlation of x with the *measured* shares, whose sampling noise is part of the
  population (computed exactly below);
* context accuracy: 60 control prompts whose expected pronoun is used with probability 0.85.

Each occupation has 4 templates × 5 samples; the model says "they" 10% of the time. A run of
2,000 repetitions gave 93.1–95.1% coverage for these metrics (see docs/pronoun_fairness.md).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats as sps

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


def population_pearson() -> float:
    """Correlation of x with the measured share n_she / (n_she + n_he) in the planted population.

    var(measured) = var(s) + E[s(1 − s)] · E[1 / m], where m ~ Binomial(20, 0.9) is the number of
    gendered samples of an occupation (m = 0 has negligible probability, 1e-20).
    """
    m = np.arange(1, TEMPLATES * SAMPLES + 1)
    pmf = sps.binom.pmf(m, TEMPLATES * SAMPLES, 1 - THEY)
    inverse_m = float((pmf / m).sum() / pmf.sum())
    var_s = SLOPE**2 * SD_BLS**2 + SD_RESIDUAL**2
    mean_s = INTERCEPT + SLOPE * 0.5
    var_measured = var_s + (mean_s * (1 - mean_s) - var_s) * inverse_m
    return SLOPE * SD_BLS**2 / math.sqrt(SD_BLS**2 * var_measured)


def occupation_frame(rng: np.random.Generator) -> tuple[pd.DataFrame, np.ndarray]:
    """Per-instance counts for a freshly drawn set of occupations, and their planted she-shares."""
    bls = rng.normal(0.5, SD_BLS, OCCUPATIONS)
    share = np.clip(INTERCEPT + SLOPE * bls + rng.normal(0, SD_RESIDUAL, OCCUPATIONS), 0.001, 0.999)
    rows = []
    for j in range(OCCUPATIONS):
        probabilities = [(1 - THEY) * (1 - share[j]), (1 - THEY) * share[j], THEY]
        for t in range(TEMPLATES):
            he, she, they = rng.multinomial(SAMPLES, probabilities)
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
    truths = {
        "she_share.gen": INTERCEPT + SLOPE * 0.5,
        "amplification_slope.gen": SLOPE,
        "pearson_bls.gen": population_pearson(),
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
