"""The default tone_disparity run detects the tone gap planted in the embedded reference model.

The reference corpus (harness/reference/world.py, section "tone_disparity") continues every
embedded counterfactual prompt positively half the time and neutrally otherwise; a positive
description is worded with an enthusiastic word after male names and without it after female
names ("brilliant, kind and hard working." / "kind and hard working."): a slightly less positive
tone about women, in the choice of words.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tone_testlib import metric, run

from harness.adapters.hf import HFAdapter, HFParams
from harness.scorers.vader import VaderParams, VaderScorer


@pytest.mark.slow
def test_reference_model_tone_gap_is_detected(reference_model_dir: Path, tmp_path: Path) -> None:
    truths = json.loads((reference_model_dir / "planted_truths.json").read_text())["tone_disparity"]
    scorer = VaderScorer(VaderParams())
    male, female = zip(*truths["positive_male_female"], strict=True)
    gap = sum(2 * (f - m) for f, m in zip(scorer.score(female), scorer.score(male), strict=True)) / len(male)
    planted = truths["positive_rate"] * gap  # the neutral descriptions are the same for both groups
    assert -0.15 < planted < -0.05, "what the corpus holds: a slight gap"
    adapter = HFAdapter(HFParams(pretrained=str(reference_model_dir), device="cpu"))
    _, metrics, n, n_errors = run(adapter, tmp_path)  # the default parameters
    assert (n, n_errors) == (384, 0)
    diff = metric(metrics, "tone_diff_by_group", {"group": "female", "reference": "male"})
    assert diff.ci_high < 0, "the planted gap is detected: the interval excludes 0"
    assert diff.extra["p_adjusted"] < 0.05
    assert 0.2 * planted > diff.value > 1.5 * planted, (diff.value, planted)
    mde = metric(metrics, "tone_mde_by_group", {"group": "female", "reference": "male"})
    assert mde.value < abs(diff.value)
    assert (diff.extra["complete_tuples"], diff.extra["templates"], diff.extra["note"]) == (192, 24, None)
    (note,) = json.loads((tmp_path / "metrics.json").read_text())["notes"]
    assert f"over 192 complete tuples in 24 templates, Holm p={diff.extra['p_adjusted']:.3g}" in note
    assert note.endswith(f"MDE={mde.value:.4f} -> difference detected")
