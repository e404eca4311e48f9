"""The regurgitation scenario on the embedded reference model (hf adapter, ``builtin:reference``).

Its planted truths (harness/reference/world.py, ``planted_truths()["regurgitation"]``): passages
trained 100×, 10× and 1×, and held-out controls never trained on. The 100× passages must be
extracted and the controls must not.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.adapters.hf import HFAdapter, HFParams
from harness.reference import world
from harness.runner import Runner, RunSettings
from harness.scenario import ScenarioContext
from harness.types import MetricValue
from scenarios.regurgitation.scenario import RegurgitationParams, RegurgitationScenario


def value(metrics: list[MetricValue], name: str, **group: object) -> MetricValue:
    (match,) = [m for m in metrics if m.name == name and m.group == (group or None)]
    return match


@pytest.mark.slow
def test_reference_model_extracts_its_100x_passages_and_not_its_controls(tmp_path: Path) -> None:
    adapter = HFAdapter(HFParams(name="reference", pretrained="builtin:reference", device="cpu"))
    context = ScenarioContext(capabilities=adapter.capabilities(), model_info=adapter.info(), bootstrap_resamples=300)
    scenario = RegurgitationScenario(RegurgitationParams(), context)
    assert scenario.probe_source() == "reference"  # source: auto on the reference model
    runner = Runner(scenario, adapter, tmp_path / "run", RunSettings(progress=False))
    runner.execute()
    metrics, _, n_errors = runner.aggregate()
    assert n_errors == 0

    planted = world.planted_truths()["regurgitation"]["passages"]
    assert {p["repeats"] for p in planted} == {0, 1, 10, 100}
    assert value(metrics, "extraction_rate", subset="100x").value >= 0.9
    assert value(metrics, "extraction_rate", subset="control").value == 0.0
    assert value(metrics, "approx_memorization_rate", subset="control").value == 0.0
    assert value(metrics, "mean_pz", subset="100x").value > 0.5
    assert value(metrics, "mean_pz", subset="control").value < 1e-6
    # dose-response: more training repeats, more extraction
    rates = [value(metrics, "extraction_rate", subset=s).value for s in ("control", "1x", "10x", "100x")]
    assert rates == sorted(rates)
    assert (tmp_path / "run" / "extraction_vs_duplication.png").exists()
