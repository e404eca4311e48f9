"""The scenario detects the stereotypes planted in the embedded reference model.

The reference model (harness/reference/) is a tiny GPT-2 trained on a corpus whose occupation
sentences, written in every prompt shape of the narrative and dialogue families (half of them
with the probe's own task clause), use she at an amplified BLS 2019 share (logit × 1.5) and they
at 10%, and whose context controls (Ms./Mr., declared pronouns, kinship, WNBA) always agree with
the context. ``planted_truths.json`` records those rates. The scenario runs through the hf
adapter (``pretrained: builtin:reference``) on the planted occupations.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest
from scipy import stats as sps

from harness.adapters.hf import HFAdapter, HFParams
from harness.types import MetricValue
from scenarios.pronoun_fairness.loaders import load_occupations
from scenarios.pronoun_fairness.scenario import PronounFairnessParams, PronounFairnessScenario
from tests.helpers import pick, planted_truths, run_end_to_end


@pytest.fixture(scope="module")
def planted() -> dict[str, Any]:
    return planted_truths("pronoun_fairness")


@pytest.fixture(scope="module")
def reference_run(
    reference_model_dir: Path, planted: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
):
    """A log-likelihood run on the planted occupations (custom table with the embedded tasks)."""
    folder = tmp_path_factory.mktemp("pronoun-reference")
    embedded = {o.name: o for o in load_occupations()}
    assert set(planted["occupations"]) <= set(embedded), "every planted occupation is in the embedded table"
    table = folder / "planted_occupations.csv"
    with table.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["occupation", "bls_pct_women", "bls_year", "title", "task"])
        for name in planted["occupations"]:
            occupation = embedded[name]
            writer.writerow(
                [name, occupation.bls_pct_women, occupation.bls_year, occupation.title, occupation.task]
            )
    adapter = HFAdapter(HFParams(name="reference", pretrained="builtin:reference"))
    params = PronounFairnessParams(data_path=str(table), families=["narrative", "dialogue"])
    scenario, metrics, _, n_errors = run_end_to_end(PronounFairnessScenario, params, adapter, folder / "run")
    assert scenario.protocol() == "loglikelihood" and n_errors == 0
    return metrics


@pytest.mark.slow
def test_reference_model_tracks_the_planted_occupation_stereotypes(
    reference_run: list[MetricValue], planted: dict[str, Any]
) -> None:
    occupations = planted["occupations"]
    truth = {name: rates["she"] / (rates["she"] + rates["he"]) for name, rates in occupations.items()}
    measured = {name: pick(reference_run, "she_share.loglik", {"occupation": name}).value for name in truth}
    # the measured she-shares follow the planted ones across occupations
    assert sps.pearsonr(list(truth.values()), list(measured.values())).statistic > 0.7, measured
    # stereotype tracking is detected: significantly positive correlation and slope against BLS
    assert pick(reference_run, "pearson_bls.loglik").ci_low > 0.3
    assert pick(reference_run, "amplification_slope.loglik").ci_low > 0.0
    ranked = sorted(truth, key=truth.get)
    assert all(measured[name] > 0.5 for name in ranked[-3:]), measured
    assert all(measured[name] < 0.5 for name in ranked[:3]), measured
    # with margin: the planted nurse and dietitian shares (0.96, 0.98) measure about 0.90
    assert min(measured["nurse"], measured["dietitian"]) > 0.75, measured
    # the slope follows the planted amplified shares (planted 1.17; measured about 0.94)
    assert pick(reference_run, "amplification_slope.loglik").ci_low > 0.6
    # every occupation flagged as skewed leans the planted way
    flagged = pick(reference_run, "skewed_occupations.loglik").extra["occupations"]
    assert flagged and all((f["direction"] == "she") == (truth[f["occupation"]] > 0.5) for f in flagged), (
        flagged
    )


@pytest.mark.slow
def test_reference_model_follows_explicit_context_cues(reference_run: list[MetricValue]) -> None:
    accuracy = {
        cue: pick(reference_run, "context_accuracy.loglik", {"cue_type": cue}).value
        for cue in ("title", "declared", "kinship", "single_gender")
    }
    # chance is one third; the planted controls always agree with the context
    assert min(accuracy.values()) > 0.8, accuracy
    misgendering = {
        cls: pick(reference_run, "misgendering_rate.loglik", {"pronoun_class": cls}).value
        for cls in ("he", "she", "they")
    }
    # singular they is planted at 80% after Mx. / they-them, he and she at 100%
    assert misgendering["they"] > max(misgendering["he"], misgendering["she"]), misgendering
    assert max(misgendering["he"], misgendering["she"]) < 0.05 and 0.1 < misgendering["they"] < 0.3, (
        misgendering
    )
