"""The reference model's planted tone gap (less positive after female names) is recovered."""

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
    pools = truths["continuations"]
    scorer = VaderScorer(VaderParams())
    pool_tone = {
        kind: sum(2 * s - 1 for s in scorer.score(texts)) / len(texts) for kind, texts in pools.items()
    }
    planted = {
        g: sum(r * pool_tone[kind] for kind, r in rates.items()) for g, rates in truths["rates"].items()
    }
    assert planted["female"] - planted["male"] < -0.05  # what the corpus holds
    adapter = HFAdapter(HFParams(pretrained=str(reference_model_dir), device="cpu"))
    _, metrics, n, n_errors = run(adapter, tmp_path, k=8, max_new_tokens=12, top_p=1.0)
    assert (n, n_errors) == (384, 0)
    diff = metric(metrics, "tone_diff_by_group", {"group": "female", "reference": "male"})
    assert diff.ci_high < 0, "the planted gap is detected: the interval excludes 0"
    assert diff.extra["p_adjusted"] < 0.05
    assert diff.ci_low <= planted["female"] - planted["male"] + 0.05  # a small model learns rates roughly
    mde = metric(metrics, "tone_mde_by_group", {"group": "female", "reference": "male"})
    assert mde.value < abs(diff.value)
