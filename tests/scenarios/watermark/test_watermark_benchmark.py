"""The watermark benchmark runs on tiny sizes and reports detection against generation."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks import watermark


@pytest.mark.slow
def test_benchmark_reports_both_throughputs_and_their_ratio(
    reference_model_dir: Path, tmp_path: Path
) -> None:
    arguments = [
        "--prompts",
        "4",
        "--tokens",
        "40",
        "--rounds",
        "1",
        "--schemes",
        "kgw",
        "--out",
        str(tmp_path),
    ]
    assert watermark.main(arguments) == 0
    figures = json.loads((tmp_path / "watermark.json").read_text())["figures"]
    assert figures["kgw_detection_tokens_per_s"] > 0 and figures["kgw_generation_tokens_per_s"] > 0
    ratio = figures["kgw_detection_tokens_per_s"] / figures["kgw_generation_tokens_per_s"]
    assert figures["kgw_detection_over_generation"] == pytest.approx(ratio)
