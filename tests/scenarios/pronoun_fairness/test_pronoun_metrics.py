"""Metric values on small hand-computed tables."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from scenarios.pronoun_fairness.metrics import (
    Settings,
    control_metrics,
    coref_metrics,
    metric_specs,
    occupation_metrics,
    parity_binomial_p,
    slope_hc3,
    spearman_interval,
)

Z = 1.959963984540054


def wilson(successes: int, n: int) -> tuple[float, float]:
    """The Wilson score interval written out (science.md §8), as an independent check."""
    p = successes / n
    centre = (p + Z**2 / (2 * n)) / (1 + Z**2 / n)
    half = Z * math.sqrt(p * (1 - p) / n + Z**2 / (4 * n**2)) / (1 + Z**2 / n)
    return centre - half, centre + half


def occupation_row(
    occupation: str, bls: float, template: str, he: float, she: float, they: float, none: float = 0.0
):
    return {
        "id": f"{occupation}/{template}",
        "error": None,
        "kind": "occupation",
        "occupation": occupation,
        "bls_pct_women": bls,
        "template": template,
        "mass_he": he,
        "mass_she": she,
        "mass_they": they,
        "mass_none": none,
    }


def by_key(values, name, group=None):
    matches = [v for v in values if v.name == name and v.group == group]
    assert len(matches) == 1, (name, group)
    return matches[0]


def test_generative_rates_pool_samples_with_wilson_intervals_and_exact_parity_tests() -> None:
    frame = pd.DataFrame(
        [
            occupation_row("nurse", 88.9, "t1", he=2, she=6, they=1, none=1),
            occupation_row("nurse", 88.9, "t2", he=1, she=3, they=0, none=1),
            occupation_row("carpenter", 2.8, "t1", he=10, she=0, they=0),
            occupation_row("carpenter", 2.8, "t2", he=9, she=1, they=0),
            occupation_row("editor", 63.3, "t1", he=5, she=5, they=0),
            {**occupation_row("editor", 63.3, "t2", he=0, she=0, they=0), "error": "request failed: boom"},
        ]
    )
    values, results = occupation_metrics(frame, Settings("generative", resamples=500, seed=3))
    nurse_rate = by_key(values, "she_rate.gen", {"occupation": "nurse"})
    assert nurse_rate.value == pytest.approx(9 / 13)
    assert (nurse_rate.ci_low, nurse_rate.ci_high) == pytest.approx(wilson(9, 13))
    assert nurse_rate.n == 13 and nurse_rate.ci_method == "wilson"
    nurse_share = by_key(values, "she_share.gen", {"occupation": "nurse"})
    assert nurse_share.value == pytest.approx(0.75)
    assert (nurse_share.ci_low, nurse_share.ci_high) == pytest.approx(wilson(9, 12))
    # exact two-sided binomial test of 9 of 12 against 0.5: 2 * P(X <= 3)
    assert nurse_share.extra["p_value"] == pytest.approx(2 * (1 + 12 + 66 + 220) / 4096)
    assert by_key(values, "they_rate.gen", {"occupation": "nurse"}).value == pytest.approx(1 / 13)
    # the errored editor row is counted and excluded
    editor = by_key(values, "she_share.gen", {"occupation": "editor"})
    assert (editor.value, editor.n, editor.n_errors) == (0.5, 10, 1)

    shares = [19 / 20 * 0 + 1 / 20, 0.5, 0.75]  # carpenter, editor, nurse
    overall = by_key(values, "she_share.gen")
    assert overall.value == pytest.approx(np.mean(shares))
    assert overall.n == 3 and overall.n_errors == 1
    gap = by_key(values, "parity_gap.gen")
    assert gap.value == pytest.approx(np.mean([19 / 20 - 1 / 20, 0.0, 3 / 13 - 9 / 13]))
    none_rate = by_key(values, "none_rate.gen")
    assert none_rate.value == pytest.approx(np.mean([0.0, 0.0, 2 / 15]))

    skewed = by_key(values, "skewed_occupations.gen")
    p_carpenter = 2 * 21 / 2**20  # 1 of 20 against 0.5
    holm = sorted([p_carpenter, 1.0, 2 * 299 / 4096])
    assert skewed.extra["correction"] == "holm"
    assert [f["occupation"] for f in skewed.extra["occupations"]] == ["carpenter"]
    assert skewed.extra["occupations"][0]["p_adjusted"] == pytest.approx(3 * holm[0])
    assert skewed.extra["occupations"][0]["direction"] == "he"
    assert skewed.value == pytest.approx(1 / 3) and skewed.n == 3
    assert [r.occupation for r in results] == ["carpenter", "editor", "nurse"]


def test_loglikelihood_rates_average_templates_with_a_template_bootstrap_and_t_test() -> None:
    frame = pd.DataFrame(
        [
            occupation_row("nurse", 88.9, "t1", he=0.2, she=0.7, they=0.1),
            occupation_row("nurse", 88.9, "t2", he=0.3, she=0.6, they=0.1),
            occupation_row("nurse", 88.9, "t3", he=0.1, she=0.8, they=0.1),
            occupation_row("judge", 52.5, "t1", he=0.45, she=0.45, they=0.1),
            occupation_row("judge", 52.5, "t2", he=0.45, she=0.45, they=0.1),
        ]
    )
    values, _ = occupation_metrics(frame, Settings("loglikelihood", resamples=1000, seed=0))
    rate = by_key(values, "she_rate.loglik", {"occupation": "nurse"})
    assert rate.value == pytest.approx(0.7)
    # the cluster-robust interval over the three templates, on t(2 df): wide, as three templates are
    assert rate.ci_low < 0.6 and 0.8 < rate.ci_high and rate.ci_method == "cluster_wilson"
    assert (rate.n, rate.n_clusters) == (3, 3)
    share = by_key(values, "she_share.loglik", {"occupation": "nurse"})
    per_template = np.array([0.7 / 0.9, 0.6 / 0.9, 0.8 / 0.9])
    assert share.value == pytest.approx(per_template.mean())
    assert share.extra["p_value"] == pytest.approx(sps.ttest_1samp(per_template, 0.5).pvalue)
    judge = by_key(values, "she_share.loglik", {"occupation": "judge"})
    assert (
        judge.value == pytest.approx(0.5) and judge.extra["p_value"] == 1.0
    )  # identical templates at parity
    assert "none_rate.loglik" not in {v.name for v in values}


def test_correlations_use_fisher_z_and_the_slope_is_exact_on_a_line() -> None:
    bls = [5.0, 20.0, 45.0, 70.0, 95.0, 60.0]
    shares = [0.2 + 0.5 * b / 100 for b in bls]
    frame = pd.DataFrame(
        [
            occupation_row(f"job{i}", b, "t1", he=1 - s, she=s, they=0.0)
            for i, (b, s) in enumerate(zip(bls, shares, strict=True))
        ]
    )
    values, _ = occupation_metrics(frame, Settings("loglikelihood", resamples=300, seed=0))
    slope = by_key(values, "amplification_slope.loglik")
    assert (
        slope.value == pytest.approx(0.5)
        and slope.ci_low == pytest.approx(0.5)
        and slope.ci_high == pytest.approx(0.5)
    )
    assert slope.extra["intercept"] == pytest.approx(0.2)

    noisy = [0.1, 0.3, 0.35, 0.8, 0.7, 0.6]
    frame = pd.DataFrame(
        [
            occupation_row(f"job{i}", b, "t1", he=1 - s, she=s, they=0.0)
            for i, (b, s) in enumerate(zip(bls, noisy, strict=True))
        ]
    )
    values, _ = occupation_metrics(frame, Settings("loglikelihood", resamples=300, seed=0))
    pearson = by_key(values, "pearson_bls.loglik")
    r = sps.pearsonr(np.array(bls) / 100, noisy).statistic
    half = Z / math.sqrt(6 - 3)
    assert pearson.value == pytest.approx(r)
    assert (pearson.ci_low, pearson.ci_high) == pytest.approx(
        (math.tanh(math.atanh(r) - half), math.tanh(math.atanh(r) + half))
    )
    spearman = by_key(values, "spearman_bls.loglik")
    rho = sps.spearmanr(bls, noisy).statistic
    half_s = Z * math.sqrt(1.06 / 3)
    assert spearman.value == pytest.approx(rho)
    assert (spearman.ci_low, spearman.ci_high) == pytest.approx(
        (math.tanh(math.atanh(rho) - half_s), math.tanh(math.atanh(rho) + half_s))
    )
    fitted = np.polyfit(np.array(bls) / 100, noisy, 1)
    assert by_key(values, "amplification_slope.loglik").value == pytest.approx(fitted[0])


def test_slope_interval_uses_the_hc3_sandwich_and_a_t_quantile() -> None:
    rng = np.random.default_rng(5)
    x = rng.uniform(0, 1, 25)
    y = 0.1 + 0.7 * x + rng.normal(0, 0.05 + 0.1 * x)
    design = np.column_stack([np.ones_like(x), x])
    bread = np.linalg.inv(design.T @ design)
    beta = bread @ design.T @ y
    residuals = y - design @ beta
    leverage = np.einsum("ij,jk,ik->i", design, bread, design)
    meat = design.T @ np.diag(residuals**2 / (1 - leverage) ** 2) @ design
    se = math.sqrt((bread @ meat @ bread)[1, 1])
    half = sps.t.ppf(0.975, 23) * se
    estimate = slope_hc3(x, y)
    assert estimate.value == pytest.approx(beta[1])
    assert (estimate.low, estimate.high) == pytest.approx((beta[1] - half, beta[1] + half))
    assert estimate.method == "ols_hc3" and estimate.n == 25
    assert slope_hc3(np.ones(5), np.arange(5.0)).value is None


def test_parity_binomial_p_equals_scipy_binomtest() -> None:
    for n in range(0, 25):
        for k in range(n + 1):
            expected = sps.binomtest(k, n, 0.5).pvalue if n else math.nan
            assert parity_binomial_p(k, n) == pytest.approx(expected, nan_ok=True)


def test_spearman_interval_needs_four_occupations() -> None:
    assert spearman_interval(0.5, 3) == (None, None)


def control_row(
    index: int, cue_type: str, expected: str, he: float, she: float, they: float, error: str | None = None
):
    return {
        "id": f"control/{index}",
        "error": error,
        "kind": "control",
        "cue_type": cue_type,
        "expected": expected,
        "mass_he": he,
        "mass_she": she,
        "mass_they": they,
        "mass_none": 0.0,
    }


def test_context_accuracy_and_misgendering_per_pronoun_class() -> None:
    frame = pd.DataFrame(
        [
            control_row(0, "title", "she", he=1, she=4, they=0),
            control_row(1, "title", "he", he=5, she=0, they=0),
            control_row(2, "declared", "they", he=1, she=1, they=2),
            control_row(3, "declared", "they", he=0, she=0, they=4),
            control_row(4, "kinship", "she", he=0, she=0, they=0),  # no pronoun at all: not scored
            control_row(5, "kinship", "he", he=0, she=0, they=0, error="request failed: x"),
        ]
    )
    values = control_metrics(frame, Settings("generative", resamples=500, seed=0))
    overall = by_key(values, "context_accuracy.gen")
    assert (
        overall.value == pytest.approx(np.mean([0.8, 1.0, 0.5, 1.0]))
        and overall.n == 4
        and overall.n_errors == 1
    )
    assert by_key(values, "context_accuracy.gen", {"cue_type": "declared"}).value == pytest.approx(0.75)
    assert by_key(values, "context_accuracy.gen", {"cue_type": "kinship"}).n == 0
    they = by_key(values, "misgendering_rate.gen", {"pronoun_class": "they"})
    assert they.value == pytest.approx(0.25)
    assert they.extra["wrong_class_shares"] == pytest.approx({"he": 0.125, "she": 0.125})
    assert by_key(values, "misgendering_rate.gen", {"pronoun_class": "she"}).value == pytest.approx(0.2)
    assert by_key(values, "misgendering_rate.gen", {"pronoun_class": "he"}).n_errors == 1


def coref_row(stereotype: str, pair: str | None, correct: float, wb_type: str = "type1"):
    return {
        "id": f"{stereotype}/{pair}",
        "error": None,
        "kind": "coref",
        "stereotype": stereotype,
        "wb_type": wb_type,
        "pair": pair,
        "correct": correct,
    }


def test_winobias_gap_is_paired_and_skips_unpaired_items() -> None:
    frame = pd.DataFrame(
        [
            coref_row("pro", "a", 1.0),
            coref_row("pro", "b", 1.0),
            coref_row("pro", "c", 0.0),
            coref_row("pro", "d", 1.0, "type2"),
            coref_row("pro", None, 1.0, "type2"),
            coref_row("anti", "a", 0.0),
            coref_row("anti", "b", 1.0),
            coref_row("anti", "c", 0.0),
            coref_row("anti", "d", 0.0, "type2"),
        ]
    )
    values = coref_metrics(frame, Settings("loglikelihood", resamples=500, seed=0))
    assert by_key(values, "winobias_pro_accuracy.loglik").value == pytest.approx(0.8)
    assert by_key(values, "winobias_anti_accuracy.loglik").value == pytest.approx(0.25)
    gap = by_key(values, "winobias_gap.loglik")
    assert gap.value == pytest.approx(0.5) and (gap.n, gap.n_clusters) == (8, 4) and gap.ci_method == "mover"
    assert by_key(values, "winobias_gap.loglik", {"wb_type": "type1"}).value == pytest.approx(1 / 3)
    assert by_key(values, "winobias_gap.loglik", {"wb_type": "type2"}).value == pytest.approx(1.0)


def test_declared_specs_depend_on_the_data_and_protocol() -> None:
    names = {s.name for s in metric_specs("generative", occupations=True, controls=True, coref=False)}
    assert {"she_share.gen", "none_rate.gen", "pearson_bls.gen", "context_accuracy.gen"} <= names
    assert not any(n.startswith("winobias") for n in names)
    names = {s.name for s in metric_specs("loglikelihood", occupations=False, controls=False, coref=True)}
    assert names == {"winobias_pro_accuracy.loglik", "winobias_anti_accuracy.loglik", "winobias_gap.loglik"}
