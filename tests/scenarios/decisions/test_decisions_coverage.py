"""Coverage of the scenario's own intervals on planted data (target 0.92-0.98).

Each replicate draws 10 templates (two wordings each, as in the embedded set) from a population:
a template intercept, a template-specific deviation of every attribute effect (so the templates
disagree and clustering matters) and per-row noise. The estimand is the population's effect. The
regression (OLS + wording fixed effects, CR1 by template, t(G-1)) and the mitigation change are
checked at nominal coverage; so is the four-fifths ratio (template-cluster bootstrap) where one
group is clearly lowest and one clearly highest.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from harness import stats
from scenarios.decisions.metrics import (
    Settings,
    impact_ratios,
    mitigation_changes,
    pair_column,
    regression_effects,
)

AGES = ("20", "40", "60")
GENDERS = ("female", "male")
AGE_EFFECT = {"20": 0.3, "40": 0.1, "60": 0.0}
GENDER_EFFECT = {"female": 0.0, "male": 0.0}
TEMPLATES = 10
REPLICATES = 400
SETTINGS = Settings(attributes=("age", "gender"), baselines={"age": "60", "gender": "male"}, protocol="test")
AGE_ONLY = Settings(attributes=("age",), baselines={"age": "60"}, protocol="test")


def draw(
    rng: np.random.Generator, mitigated_scale: float | None = None, age_scale: float = 1.0
) -> pd.DataFrame:
    """One planted run: templates x wordings x ages x genders x 3 tuples, one logit per row."""
    t, w, a, g, k = (x.ravel() for x in np.indices((TEMPLATES, 2, len(AGES), len(GENDERS), 3)))
    intercept = rng.normal(0.0, 1.0, TEMPLATES)[t] + rng.normal(0.0, 0.3, (TEMPLATES, 2))[t, w]
    age_effect = np.array([AGE_EFFECT[x] for x in AGES]) * age_scale
    effect = (
        age_effect[a]
        + rng.normal(0.0, 0.15, (TEMPLATES, len(AGES)))[t, a]
        + np.array([GENDER_EFFECT[x] for x in GENDERS])[g]
        + rng.normal(0.0, 0.15, (TEMPLATES, len(GENDERS)))[t, g]
    )
    variant = np.char.add(np.char.add("t", t.astype(str)), np.char.add("-w", w.astype(str)))
    ages, genders = np.array(AGES)[a], np.array(GENDERS)[g]
    base = pd.DataFrame(
        {
            "template": np.char.add("t", t.astype(str)),
            "variant": variant,
            "age": ages,
            "gender": genders,
            "error": None,
            pair_column("age"): np.char.add(np.char.add(variant, genders), k.astype(str)),
            pair_column("gender"): np.char.add(np.char.add(variant, ages), k.astype(str)),
        }
    )
    plain = base.assign(condition="plain", logit=intercept + effect + rng.normal(0.0, 0.4, t.size))
    plain["approval"] = sigmoid(plain["logit"].to_numpy())
    if mitigated_scale is None:
        return plain
    shrunk = intercept + mitigated_scale * effect + rng.normal(0.0, 0.4, t.size)
    mitigated = base.assign(condition="mitigated", logit_mitigated=shrunk, approval_mitigated=sigmoid(shrunk))
    return pd.concat([plain, mitigated], ignore_index=True)


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def pick(values, name: str, group: dict) -> object:
    (found,) = [v for v in values if v.name == name and v.group == group]
    return found


def test_regression_effect_intervals_cover_the_planted_effects_at_nominal_rate() -> None:
    rng = np.random.default_rng(1)
    covered = {("age", "20"): 0, ("age", "40"): 0, ("gender", "female"): 0}
    for _ in range(REPLICATES):
        values = regression_effects(draw(rng), SETTINGS)
        for (attribute, level), count in covered.items():
            effect = pick(
                values,
                f"regression_effect_by_{attribute}",
                {attribute: level, "reference": SETTINGS.baselines[attribute]},
            )
            assert effect.ci_low <= effect.value <= effect.ci_high
            truth = (AGE_EFFECT if attribute == "age" else GENDER_EFFECT)[level]
            covered[(attribute, level)] = count + int(effect.ci_low <= truth <= effect.ci_high)
    rates = {key: count / REPLICATES for key, count in covered.items()}
    assert all(0.92 <= rate <= 0.98 for rate in rates.values()), rates


def test_mitigation_change_intervals_cover_the_planted_change_at_nominal_rate() -> None:
    rng = np.random.default_rng(2)
    scale = 0.5  # the system prompt halves every effect: the change for age 20 is -0.15
    covered = 0
    for _ in range(REPLICATES):
        frame = draw(rng, mitigated_scale=scale)
        (change,) = [
            v for v in mitigation_changes(frame, SETTINGS) if v.group == {"age": "20", "reference": "60"}
        ]
        assert change.ci_low <= change.value <= change.ci_high
        covered += int(change.ci_low <= (scale - 1.0) * AGE_EFFECT["20"] <= change.ci_high)
    assert 0.92 <= covered / REPLICATES <= 0.98, covered / REPLICATES


def test_approval_change_intervals_cover_the_population_change() -> None:
    """The change in the age-20 vs 60 approval difference, against its population value (Monte Carlo)."""
    rng, big, n, scale = np.random.default_rng(5), np.random.default_rng(98), 400_000, 0.5

    def difference(s: float) -> float:  # E[approval(20) - approval(60)] within pairs, effects scaled by s
        base = big.normal(0, 1, n) + big.normal(0, 0.3, n)  # template and wording, shared by the pair
        gender = s * big.normal(0, 0.15, n)  # the pair's gender, with its template deviation
        young = s * (AGE_EFFECT["20"] + big.normal(0, 0.15, n))
        old = s * (AGE_EFFECT["60"] + big.normal(0, 0.15, n))
        return float(
            np.mean(sigmoid(base + young + gender + big.normal(0, 0.4, n)))
            - np.mean(sigmoid(base + old + gender + big.normal(0, 0.4, n)))
        )

    truth = difference(scale) - difference(1.0)
    covered = 0
    for _ in range(REPLICATES):
        frame = draw(rng, mitigated_scale=scale)
        (change,) = [
            v
            for v in mitigation_changes(frame, SETTINGS, "approval", "approval_change_by_{}", "difference")
            if v.group == {"age": "20", "reference": "60"}
        ]
        assert change.ci_low <= change.value <= change.ci_high
        covered += int(change.ci_low <= truth <= change.ci_high)
    assert 0.92 <= covered / REPLICATES <= 0.98, (covered / REPLICATES, truth)


def test_four_fifths_ratio_interval_covers_the_population_ratio() -> None:
    rng = np.random.default_rng(3)
    scale = 4.0  # a strong age effect, so that the lowest (60) and highest (20) groups are clear
    big = np.random.default_rng(99)
    n = 400_000
    shared = big.normal(0, 1, n) + big.normal(0, 0.3, n) + big.normal(0, 0.15, n) + big.normal(0, 0.4, n)
    rate = {
        a: float(np.mean(1 / (1 + np.exp(-(shared + scale * AGE_EFFECT[a] + big.normal(0, 0.15, n))))))
        for a in AGES
    }
    truth = rate["60"] / rate["20"]
    covered = 0
    for _ in range(REPLICATES):
        (ratio,) = impact_ratios(draw(rng, age_scale=scale), AGE_ONLY)
        assert ratio.ci_low <= ratio.value <= ratio.ci_high
        assert ratio.extra["lowest"] == ["60"] and ratio.extra["highest"] == ["20"]
        covered += int(ratio.ci_low <= truth <= ratio.ci_high)
    assert 0.92 <= covered / REPLICATES <= 0.98, (covered / REPLICATES, truth)


def test_discrimination_score_intervals_cover_the_planted_effect_at_nominal_rate() -> None:
    """The scenario's declared form: stats.disparity paired within counterfactual tuples, by template."""
    rng = np.random.default_rng(4)
    covered = {"20": 0, "40": 0}
    for _ in range(REPLICATES):
        frame = draw(rng)
        result = stats.disparity(
            frame["logit"].to_numpy(),
            frame["age"].to_numpy(),
            frame["template"].to_numpy(),
            support="real",
            paired_by=frame[pair_column("age")].to_numpy(),
            baseline="60",
            resamples=200,
        )
        for level in covered:
            score = result.differences[(level, "60")]
            assert score.low <= score.value <= score.high
            covered[level] += int(score.low <= AGE_EFFECT[level] <= score.high)
    rates = {level: count / REPLICATES for level, count in covered.items()}
    assert all(0.92 <= rate <= 0.98 for rate in rates.values()), rates
