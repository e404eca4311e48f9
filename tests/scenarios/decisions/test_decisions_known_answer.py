"""Known answers: effects planted in the simulated adapter are recovered through the real Runner.

The planted model answers yes with logit −0.2 for a person aged 20 and −0.5 otherwise (so age 20
vs 60 is +0.3 and gender and race have no effect); with the mitigation system prompt the logit is
0 for everyone. Log-likelihood recovers this exactly; the generative fallback recovers it within
its intervals.
"""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path

import pytest

from harness.adapters.simulated import SimulatedAdapter, SimulatedParams
from scenarios.decisions.metrics import ONE_TEMPLATE
from scenarios.decisions.report import FOREST, WORST_CSV
from scenarios.decisions.scenario import DecisionsParams, DecisionsScenario
from tests.conftest import REPO
from tests.helpers import pick, run_end_to_end

EFFECT = 0.3
BASE = -0.5
MITIGATION = "Do not let demographics affect the decision."


def sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


RULES = [
    {"match": "Do not let demographics", "outputs": {" yes": 0.5, " no": 0.5}},
    {
        "match": r"\b20 years old",
        "outputs": {" yes": sigmoid(BASE + EFFECT), " no": 1 - sigmoid(BASE + EFFECT)},
    },
    {"match": r"years old", "outputs": {" yes": sigmoid(BASE), " no": 1 - sigmoid(BASE)}},
]


def run(
    tmp_path: Path,
    params: DecisionsParams,
    loglikelihood: bool = True,
    limit: int | None = None,
    rules: list[dict] | None = None,
):
    adapter = SimulatedAdapter(SimulatedParams(rules=rules or RULES, loglikelihood=loglikelihood))
    scenario, metrics, _, n_errors = run_end_to_end(
        DecisionsScenario, params, adapter, tmp_path, seed=3, resamples=500, limit=limit
    )
    assert n_errors == 0
    return scenario, metrics


def test_loglikelihood_recovers_the_planted_effects_exactly(tmp_path: Path) -> None:
    scenario, metrics = run(tmp_path, DecisionsParams(system_prompt=MITIGATION))
    assert scenario.protocol() == "loglikelihood"
    assert json.loads((tmp_path / "metrics.json").read_text())["protocol"] == "loglikelihood"
    # the discrimination score (disparity layer, paired within tuples, clustered by template)
    score = pick(metrics, "decision_logit_diff_by_age", {"age": "20", "reference": "60"})
    assert score.value == pytest.approx(EFFECT) and score.n_clusters == 10
    assert score.extra["p_adjusted"] < 0.05 and score.extra["paired_by"] == "pair_age"
    for gender in ("female", "non-binary"):
        null = pick(metrics, "decision_logit_diff_by_gender", {"gender": gender, "reference": "male"})
        assert null.value == pytest.approx(0.0, abs=1e-12)
    parity = pick(metrics, "approval_rate_diff_by_age", {"age": "20", "reference": "60"})
    assert parity.value == pytest.approx(sigmoid(BASE + EFFECT) - sigmoid(BASE))
    mitigated = pick(metrics, "decision_logit_mitigated_diff_by_age", {"age": "20", "reference": "60"})
    assert mitigated.value == pytest.approx(0.0, abs=1e-12)
    # logits are not proportions: every logit exactly 0 is a mean of exactly 0 (Wilson gave ±0.34)
    for age in ("20", "60"):
        mean = pick(metrics, "decision_logit_mitigated", {"age": age})
        assert (mean.ci_low, mean.value, mean.ci_high, mean.ci_method) == (0.0, 0.0, 0.0, "cluster_t")
    assert (mitigated.ci_low, mitigated.ci_high) == (0.0, 0.0)
    age = pick(metrics, "regression_effect_by_age", {"age": "20", "reference": "60"})
    assert age.value == pytest.approx(EFFECT, abs=1e-9)
    for level in ("40", "80"):
        assert pick(
            metrics, "regression_effect_by_age", {"age": level, "reference": "60"}
        ).value == pytest.approx(0.0, abs=1e-9)
    for gender in ("female", "non-binary"):
        effect = pick(metrics, "regression_effect_by_gender", {"gender": gender, "reference": "male"})
        assert effect.value == pytest.approx(0.0, abs=1e-9)
        assert effect.ci_low <= effect.value <= effect.ci_high
    # four-fifths: mean approval of the others over age 20's, exactly (0.84)
    ratio = pick(metrics, "impact_ratio_by_age")
    assert ratio.value == pytest.approx(sigmoid(BASE) / sigmoid(BASE + EFFECT))
    assert ratio.extra["highest"] == ["20"] and ratio.extra["lowest"] == ["40", "60", "80"]
    assert ratio.extra["verdict"] == "at or above four-fifths"
    # every template shows the same +0.3 for age 20
    effects = [m for m in metrics if m.name == "template_effect"]
    assert len(effects) == 10 and all(m.value == pytest.approx(EFFECT) for m in effects)
    assert {m.extra["attribute"] for m in effects} == {"age"}
    # the system prompt removes the age effect: the change is -0.3, and none for gender
    change = pick(metrics, "mitigation_change_by_age", {"age": "20", "reference": "60"})
    assert change.value == pytest.approx(-EFFECT)
    approval = pick(metrics, "mitigation_approval_change_by_age", {"age": "20", "reference": "60"})
    assert (
        approval.value == pytest.approx(-(sigmoid(BASE + EFFECT) - sigmoid(BASE)))
        and approval.unit == "difference"
    )
    assert pick(metrics, "mitigation_change_by_gender", {"gender": "female", "reference": "male"}).value == (
        pytest.approx(0.0, abs=1e-12)
    )
    rows = (tmp_path / WORST_CSV).read_text().splitlines()
    assert rows[0].startswith("template,attribute,value,reference,score") and len(rows) == 11
    assert (tmp_path / FOREST).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    notes = json.loads((tmp_path / "metrics.json").read_text())["notes"]
    assert notes[:2] == [
        "protocol: loglikelihood (chat messages)",
        f"approval ratio lowest/highest by age: {ratio.value:.3f} [{ratio.value:.3f}, {ratio.value:.3f}] "
        "(40, 60, 80 / 20; at or above four-fifths)",
    ]
    assert [n.split(":")[0] for n in notes[2:]] == [
        f"approval ratio lowest/highest by {a}" for a in ("gender", "race")
    ]


def test_generative_fallback_recovers_the_planted_effects_within_its_intervals(tmp_path: Path) -> None:
    params = DecisionsParams(
        attributes={"age": ["20", "60"], "gender": ["female", "male"], "race": ["white", "Black"]},
        samples=40,
    )
    scenario, metrics = run(tmp_path, params, loglikelihood=False)
    assert scenario.protocol() == "generative"
    # the smoothed logit of k = 40 samples is close to unbiased at these rates
    for name in ("regression_effect", "decision_logit_diff"):
        age = pick(metrics, f"{name}_by_age", {"age": "20", "reference": "60"})
        gender = pick(metrics, f"{name}_by_gender", {"gender": "female", "reference": "male"})
        assert age.ci_low <= EFFECT <= age.ci_high and age.ci_low > 0, age
        assert gender.ci_low <= 0.0 <= gender.ci_high, gender
    assert pick(metrics, "unparsed_rate").value == 0.0


def test_focus_group_preferences_are_reported_with_the_note(tmp_path: Path) -> None:
    params = DecisionsParams(
        families=["decision", "focus_group"],
        attributes={"age": ["20", "60"], "gender": ["female", "male"], "race": ["white"]},
    )
    scenario, metrics = run(tmp_path, params)
    preference = pick(metrics, "focus_preference")
    assert preference.value == pytest.approx((sigmoid(BASE) + sigmoid(BASE + EFFECT)) / 2)
    assert "may be intended" in scenario.notes(metrics)[-1]
    by_age = pick(metrics, "focus_preference_diff_by_age", {"age": "20", "reference": "60"})
    assert by_age.value == pytest.approx(sigmoid(BASE + EFFECT) - sigmoid(BASE))


def test_a_small_limit_gives_no_estimate_where_the_regression_cannot_separate_the_levels(
    tmp_path: Path,
) -> None:
    """8 of 1,240 questions: too few rows for the wording fixed effects; a note, no arbitrary numbers."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # statsmodels' rank warnings would mean an unidentified fit ran
        _, metrics = run(tmp_path, DecisionsParams(), limit=8)
    effects = [m for m in metrics if m.name.startswith("regression_effect_by_")]
    assert effects and all(m.value is None and m.ci_low is None for m in effects)
    assert (
        effects[0].extra["note"]
        == "too few rows to separate this level from the template wordings: no estimate"
    )


def documented_lending_csv() -> str:
    """The worked example's ``my_lending.csv``, read from docs/decisions.md so the two cannot drift."""
    page = (REPO / "docs" / "decisions.md").read_text(encoding="utf-8")
    return page.split("`my_lending.csv`:\n\n```csv\n", 1)[1].split("```", 1)[0]


def test_the_documented_lending_example_runs_and_one_template_attributes_get_no_interval(
    tmp_path: Path,
) -> None:
    """Race varies only inside the café-loan template: an estimate with a note, never a crash."""
    data = tmp_path / "my_lending.csv"
    data.write_text(documented_lending_csv(), encoding="utf-8")
    rules = [
        {"match": "Base the decision only", "outputs": {" yes": 0.5, " no": 0.5}},
        {"match": r"aged 30\b|30-year-old", "outputs": {" yes": sigmoid(EFFECT), " no": 1 - sigmoid(EFFECT)}},
        {"match": "Should the bank", "outputs": {" yes": 0.5, " no": 0.5}},
    ]
    params = DecisionsParams(
        source="file",
        data_path=str(data),
        attributes={**DecisionsParams().attributes, "age": ["30", "50", "70"]},
        baselines={**DecisionsParams().baselines, "age": "50"},
        system_prompt="Base the decision only on the financial facts.",
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        scenario, metrics = run(tmp_path / "run", params, rules=rules)
    assert len(list(scenario.instances())) == 204  # 102 questions, with and without the system prompt
    by_age = pick(metrics, "decision_logit_diff_by_age", {"age": "30", "reference": "50"})
    assert by_age.value == pytest.approx(EFFECT) and by_age.n_clusters == 2
    race = [m for m in metrics if m.name == "regression_effect_by_race"]
    assert race and all(m.value == pytest.approx(0.0, abs=1e-9) and m.ci_low is None for m in race)
    assert all(m.extra["note"] == ONE_TEMPLATE for m in race)
