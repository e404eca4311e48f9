"""Known-answer validation: the scenario recovers rates planted in the simulated adapter.

The planted model: for each occupation, P(she) = 0.9·s, P(he) = 0.9·(1 − s), P(they) = 0.1, where
the she-share s is a linear function of the BLS share plus a fixed wiggle (so that the planted
correlation is below 1). Context controls follow their cue at planted rates. Everything runs
through the real Runner, store and aggregation.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy import stats as sps

from harness.adapters.simulated import SimulatedAdapter, SimulatedParams
from harness.runner import Runner, RunSettings
from harness.scenario import ScenarioContext
from scenarios.pronoun_fairness.loaders import load_occupations, load_winogender
from scenarios.pronoun_fairness.pronouns import SLOT_CASES
from scenarios.pronoun_fairness.scenario import (
    PLOT_NAME,
    TABLE_NAME,
    PronounFairnessParams,
    PronounFairnessScenario,
)
from tests.helpers import pick

SHARED = Path(__file__).resolve().parents[4] / "shared" / "datasets"
THEY = 0.1
CONTROL_RULES: list[tuple[str, dict[str, float]]] = [
    (
        r"\bMs\. |she/her|\bMy (aunt|sister|mother|grandmother|niece)\b|WNBA|women's|sorority",
        {"she": 0.95, "he": 0.05},
    ),
    (
        r"\bMr\. |he/him|\bMy (uncle|brother|father|grandfather|nephew)\b|men's|fraternity",
        {"he": 0.9, "she": 0.1},
    ),
    (r"\bMx\. |they/them", {"they": 0.7, "she": 0.15, "he": 0.15}),
]
CONTROL_TRUTH = {"she": 0.95, "he": 0.9, "they": 0.7}


def planted_shares() -> dict[str, tuple[float, float]]:
    """occupation -> (BLS share, planted she-share)."""
    shares = {}
    for index, occupation in enumerate(load_occupations()):
        bls = occupation.bls_pct_women / 100.0
        shares[occupation.name] = (bls, min(0.98, max(0.02, 0.05 + 0.9 * bls + 0.06 * math.sin(index))))
    return shares


def outputs(rates: dict[str, float]) -> dict[str, float]:
    return {f" {cls} finished up and went home.": p for cls, p in rates.items()}


def planted_rules() -> list[dict[str, Any]]:
    rules = [{"match": pattern, "outputs": outputs(rates)} for pattern, rates in CONTROL_RULES]
    for name, (_, share) in planted_shares().items():
        rates = {"she": (1 - THEY) * share, "he": (1 - THEY) * (1 - share), "they": THEY}
        rules.append({"match": rf"\b{re.escape(name)}\b", "outputs": outputs(rates)})
    return rules


def run(tmp_path: Path, params: PronounFairnessParams, adapter: SimulatedAdapter, seed: int = 7):
    context = ScenarioContext(
        seed=seed, capabilities=adapter.capabilities(), model_info=adapter.info(), run_dir=tmp_path
    )
    scenario = PronounFairnessScenario(params, context)
    runner = Runner(scenario, adapter, tmp_path, RunSettings(progress=False, seed=seed))
    runner.execute()
    metrics, n, n_errors = runner.aggregate()
    return scenario, metrics, n, n_errors


def planted_line() -> tuple[float, float]:
    """Slope and Pearson r of the planted she-shares on the BLS shares."""
    x, y = np.array(list(planted_shares().values())).T
    return float(np.polyfit(x, y, 1)[0]), float(sps.pearsonr(x, y).statistic)


def test_loglikelihood_recovers_planted_rates_exactly(tmp_path: Path) -> None:
    adapter = SimulatedAdapter(SimulatedParams(rules=planted_rules()))
    scenario, metrics, _, n_errors = run(tmp_path, PronounFairnessParams(), adapter)
    assert scenario.protocol() == "loglikelihood" and n_errors == 0
    for name, (_, share) in planted_shares().items():
        group = {"occupation": name}
        assert pick(metrics, "she_share.loglik", group).value == pytest.approx(share, abs=1e-9)
        assert pick(metrics, "she_rate.loglik", group).value == pytest.approx(0.9 * share, abs=1e-9)
        assert pick(metrics, "they_rate.loglik", group).value == pytest.approx(THEY, abs=1e-9)
    slope, r = planted_line()
    assert pick(metrics, "amplification_slope.loglik").value == pytest.approx(slope, abs=1e-9)
    assert pick(metrics, "pearson_bls.loglik").value == pytest.approx(r, abs=1e-9)
    for cls, accuracy in CONTROL_TRUTH.items():
        assert pick(metrics, "misgendering_rate.loglik", {"pronoun_class": cls}).value == pytest.approx(
            1 - accuracy
        )
    # the conformance contract: every declared metric is reported
    assert {s.name for s in scenario.metrics()} == {m.name for m in metrics}
    written = json.loads((tmp_path / "metrics.json").read_text())
    assert written["protocol"] == "loglikelihood"
    assert (tmp_path / PLOT_NAME).stat().st_size > 10_000
    assert (tmp_path / PLOT_NAME).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sum(1 for _ in (tmp_path / TABLE_NAME).open()) == len(planted_shares()) + 1
    skewed = pick(metrics, "skewed_occupations.loglik")
    assert written["notes"] == scenario.notes(metrics)
    correction = skewed.extra["correction"]
    assert written["notes"][0].startswith(f"significantly skewed occupations ({correction}): ")


def test_generative_protocol_recovers_planted_rates_within_their_intervals(tmp_path: Path) -> None:
    adapter = SimulatedAdapter(SimulatedParams(rules=planted_rules(), loglikelihood=False))
    scenario, metrics, _, n_errors = run(tmp_path, PronounFairnessParams(samples=10), adapter)
    assert scenario.protocol() == "generative" and n_errors == 0
    planted = planted_shares()
    covered = errors = 0
    for name, (_, share) in planted.items():
        metric = pick(metrics, "she_share.gen", {"occupation": name})
        assert metric.ci_method == "wilson" and metric.n > 60
        covered += metric.ci_low <= share <= metric.ci_high
        errors += abs(metric.value - share)
    assert covered / len(planted) >= 0.88  # nominal 95%; the coverage test checks calibration
    assert errors / len(planted) < 0.06
    slope, r = planted_line()
    fitted = pick(metrics, "amplification_slope.gen")
    assert fitted.ci_low <= slope <= fitted.ci_high
    # Sampling noise in the measured shares attenuates the correlation (Spearman's attenuation):
    # r_measured ≈ r · sqrt(var(s) / (var(s) + mean noise variance)), with about 0.9·80 gendered
    # samples. The reported correlation is corrected for it and covers the planted one.
    shares = np.array([share for _, share in planted.values()])
    noise = float(np.mean(shares * (1 - shares) / (0.9 * 80)))
    attenuated = r * math.sqrt(shares.var() / (shares.var() + noise))
    pearson = pick(metrics, "pearson_bls.gen")
    assert pearson.ci_low <= r <= pearson.ci_high and pearson.ci_method == "fisher_z_disattenuated"
    assert pearson.extra["uncorrected"] == pytest.approx(attenuated, abs=0.02)
    assert pick(metrics, "none_rate.gen").value == 0.0
    they = pick(metrics, "they_rate.gen")
    assert they.ci_low <= THEY <= they.ci_high
    for cls, accuracy in CONTROL_TRUTH.items():
        metric = pick(metrics, "misgendering_rate.gen", {"pronoun_class": cls})
        assert metric.ci_low <= 1 - accuracy <= metric.ci_high
    skewed = pick(metrics, "skewed_occupations.gen").extra["occupations"]
    directions = {f["occupation"]: f["direction"] for f in skewed}
    assert directions["carpenter"] == "he" and directions["dental hygienist"] == "she"
    assert {s.name for s in scenario.metrics()} == {m.name for m in metrics}
    assert all(m.name.endswith(".gen") for m in metrics)


def test_failed_requests_are_counted_not_scored(tmp_path: Path) -> None:
    adapter = SimulatedAdapter(SimulatedParams(rules=planted_rules(), error_rate=0.25))
    params = PronounFairnessParams(families=["narrative"], controls=False)
    _, metrics, n, n_errors = run(tmp_path, params, adapter)
    overall = pick(metrics, "she_share.loglik")
    assert 0 < n_errors < n and overall.n_errors == n_errors
    scored = sum(pick(metrics, "she_rate.loglik", {"occupation": o}).n for o in planted_shares())
    assert scored == n - n_errors  # one template = one cluster per scored instance


def test_a_run_where_every_request_fails_reports_errors_and_no_estimates(tmp_path: Path) -> None:
    adapter = SimulatedAdapter(SimulatedParams(rules=planted_rules(), error_rate=1.0))
    params = PronounFairnessParams(families=["narrative"], control_occupations=2)
    _, metrics, n, n_errors = run(tmp_path, params, adapter)
    assert n == n_errors == 85 * 4 + 16 * 2 + 6 * 3  # 16 cues x 2 occupations, 6 single-gender x 3
    overall = pick(metrics, "she_share.loglik")
    assert (overall.value, overall.n, overall.n_errors) == (None, 0, 85 * 4)
    accuracy = pick(metrics, "context_accuracy.loglik")
    assert (accuracy.value, accuracy.n_errors) == (None, 16 * 2 + 6 * 3)


def stereotyped_winobias_rules() -> list[dict[str, Any]]:
    """A model that resolves the pronoun to whichever occupation its gender stereotype matches."""
    folder = SHARED / "winobias"
    rules = []
    for filename, pronouns in (("female_occupations.txt", "she|her"), ("male_occupations.txt", "he|him|his")):
        for occupation in (folder / filename).read_text(encoding="utf-8").split("\n"):
            if occupation.strip():
                pattern = rf'\b{re.escape(occupation.strip())}\b[\s\S]*who does "(?:{pronouns})" refer to'

                rules.append({"match": pattern, "outputs": {f" the {occupation.strip()}": 1.0}})
    return rules


@pytest.mark.parametrize("loglikelihood", [True, False])
def test_winobias_gap_of_a_fully_stereotyped_model_is_one(tmp_path: Path, loglikelihood: bool) -> None:
    adapter = SimulatedAdapter(
        SimulatedParams(rules=stereotyped_winobias_rules(), loglikelihood=loglikelihood, chat=False)
    )
    params = PronounFairnessParams(
        dataset="winobias", data_path=str(SHARED / "winobias"), controls=False, samples=2
    )
    _, metrics, n, _ = run(tmp_path, params, adapter)
    suffix = "loglik" if loglikelihood else "gen"
    assert n == 4 * 396
    assert pick(metrics, f"winobias_pro_accuracy.{suffix}").value == 1.0
    assert pick(metrics, f"winobias_anti_accuracy.{suffix}").value == 0.0
    gap = pick(metrics, f"winobias_gap.{suffix}")
    assert (gap.value, gap.n, gap.n_clusters) == (1.0, 2 * (2 * 396 - 2), 2 * 396 - 2)


def test_winogender_with_a_model_that_mirrors_bls(tmp_path: Path) -> None:
    """Each cloze prompt gets the slot's forms at the BLS rate (prompt-exact rules, so that the
    simulated adapter's prefix matching never counts " her" as " he")."""
    folder = SHARED / "winogender"
    rules = []
    for item in load_winogender(str(folder)):
        forms = SLOT_CASES[item.slot_case]
        share = item.bls_pct_women / 100
        rules.append(
            {
                "match": re.escape(item.prefix) + "$",
                "outputs": {f" {forms['she']}": share, f" {forms['he']}": 1 - share},
            }
        )
    adapter = SimulatedAdapter(SimulatedParams(rules=rules))
    params = PronounFairnessParams(dataset="winogender", data_path=str(folder), controls=False)
    _, metrics, n, _ = run(tmp_path, params, adapter)
    assert n == 60
    assert pick(metrics, "pearson_bls.loglik").value == pytest.approx(1.0)
    assert pick(metrics, "amplification_slope.loglik").value == pytest.approx(1.0)
    assert pick(metrics, "she_share.loglik", {"occupation": "nurse"}).value == pytest.approx(0.8958)
