"""Known answers on the reference model: the watermark is found, unwatermarked text is not."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from watermark_testlib import run

from harness.adapters.hf import DEMO_WATERMARK_KEY, HFAdapter, HFParams


@pytest.mark.slow
def test_reference_model_watermark_is_detected_and_unwatermarked_text_is_not(
    reference_model_dir: Path, tmp_path: Path
) -> None:
    """>= 95% of 100-token watermarked outputs at FPR 0.01; the FPR on negatives within its nominal level."""
    adapter = HFAdapter(HFParams(pretrained=str(reference_model_dir), device="cpu", batch_size=64))
    _, metrics, n, n_errors = run(adapter, tmp_path / "run", schemes=["kgw"], quality=False)
    assert n_errors == 0 and n == 206
    assert metrics["kgw_tpr_at_0.01"].value >= 0.95
    assert metrics["kgw_tpr_at_0.01"].n == 103
    for name in ("kgw_fpr_at_0.01_over_keys", "kgw_fpr_at_0.01_human", "kgw_fpr_at_0.001_over_keys"):
        fpr = metrics[name]
        nominal = fpr.extra["nominal"]
        assert fpr.ci_low <= nominal, f"{name}: {fpr.value} [{fpr.ci_low}, {fpr.ci_high}] exceeds {nominal}"
        assert fpr.extra["within_nominal"] is True
    assert metrics["kgw_tokens_to_detection"].value <= 100
    assert metrics["kgw_tpr_after_uppercase"].value < metrics["kgw_tpr_after_delete_10"].value
    # The key is recorded by its hash only.
    files = [p for p in (tmp_path / "run").rglob("*") if p.is_file()]
    assert files and all(DEMO_WATERMARK_KEY not in p.read_text(errors="replace") for p in files)
    record = json.loads((tmp_path / "run" / "samples.jsonl").read_text().splitlines()[0])
    assert record["requests"][1]["watermark"]["key_id"] == metrics["kgw_tpr_at_0.01"].extra["key_id"]
