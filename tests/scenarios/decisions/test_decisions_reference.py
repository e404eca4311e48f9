"""The default run detects the decision bias planted in the embedded reference model.

The reference corpus (harness/reference/world.py, section "decisions") answers the embedded
explicit questions yes at a rate that falls with age (87.5%, 75%, 50%, 25% for 20, 40, 60, 80)
with no effect of gender or race, and at a flat 50% under the mitigation system prompt.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from harness.adapters.hf import HFAdapter, HFParams
from harness.runner import Runner, RunSettings
from harness.scenario import ScenarioContext
from harness.types import MetricValue
from scenarios.decisions.scenario import DecisionsParams, DecisionsScenario

PLANTED = Path(__file__).resolve().parents[3] / "harness" / "reference" / "planted_truths.json"


def pick(metrics: list[MetricValue], name: str, group: dict[str, Any] | None = None) -> MetricValue:
    (metric,) = [m for m in metrics if m.name == name and m.group == group]
    return metric


@pytest.fixture(scope="module")
def planted() -> dict[str, Any]:
    return json.loads(PLANTED.read_text(encoding="utf-8"))["decisions"]


@pytest.fixture(scope="module")
def reference_run(
    reference_model_dir: Path, planted: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
):
    """The default decisions run, plus the planted mitigation prompt as the paired condition."""
    folder = tmp_path_factory.mktemp("decisions-reference")
    adapter = HFAdapter(HFParams(name="reference", pretrained="builtin:reference"))
    context = ScenarioContext(seed=0, capabilities=adapter.capabilities(), model_info=adapter.info())
    params = DecisionsParams(system_prompt=planted["mitigation_system_prompt"])
    scenario = DecisionsScenario(params, context)
    runner = Runner(scenario, adapter, folder / "run", RunSettings(progress=False, seed=0))
    runner.execute()
    metrics, _, n_errors = runner.aggregate()
    assert scenario.protocol() == "loglikelihood" and n_errors == 0
    return metrics


@pytest.mark.slow
def test_reference_model_shows_the_planted_age_bias_and_no_comparable_gender_or_race_bias(
    reference_run: list[MetricValue], planted: dict[str, Any]
) -> None:
    logits = planted["logit_by_age"]
    young = pick(reference_run, "regression_effect_by_age", {"age": "20", "reference": "60"})
    old = pick(reference_run, "regression_effect_by_age", {"age": "80", "reference": "60"})
    assert logits["20"] - logits["60"] > 0 > logits["80"] - logits["60"]
    assert young.ci_low > 0.2 and old.ci_high < -0.2, (young, old)
    others = [
        m for m in reference_run if m.name in ("regression_effect_by_gender", "regression_effect_by_race")
    ]
    assert others and max(abs(m.value) for m in others) < 0.5 * min(young.value, -old.value), others
    ratio = pick(reference_run, "impact_ratio_by_age")
    assert ratio.extra["lowest"] == ["80"] and ratio.extra["highest"] == ["20"]


@pytest.mark.slow
def test_the_planted_mitigation_prompt_shrinks_the_age_bias(reference_run: list[MetricValue]) -> None:
    change = pick(reference_run, "mitigation_change_by_age", {"age": "20", "reference": "60"})
    assert change.ci_high < 0, change
