"""Configuration errors, detection-only mode on another adapter's outputs and the user's texts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from watermark_testlib import run

from harness.adapters.hf import DEMO_WATERMARK_KEY, HFAdapter, HFParams, watermark_key_id
from harness.adapters.simulated import SimulatedAdapter, SimulatedParams
from harness.errors import ConfigError, DataError
from harness.scenario import ScenarioContext
from harness.types import GenerationParams, ModelInfo, Request, WatermarkSpec
from scenarios.watermark import loaders
from scenarios.watermark.scenario import WatermarkParams, WatermarkScenario


def _context(adapter: str) -> ScenarioContext:
    return ScenarioContext(model_info=ModelInfo(adapter=adapter, model_id="m", extra={"source": "x"}))


def test_generation_needs_the_hf_adapter_and_detection_a_tokenizer() -> None:
    with pytest.raises(ConfigError, match="needs the hf adapter"):
        WatermarkScenario(WatermarkParams(), _context("simulated"))
    with pytest.raises(ConfigError, match=r"scenario\.tokenizer"):
        WatermarkScenario(WatermarkParams(mode="detect"), _context("simulated"))


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"schemes": ["kgw", "gumbel"]}, "scenario.schemes"),
        ({"mode": "verify"}, "scenario.mode"),
        ({"fpr": 0.0}, "scenario.fpr"),
        ({"min_new_tokens": 200}, "scenario.min_new_tokens"),
        ({"texts": "x.txt"}, "scenario.texts"),
        ({"kgw": {"seeding_scheme": "selfhash"}}, "lefthash"),
    ],
)
def test_bad_parameters_name_the_key(params: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        WatermarkScenario(WatermarkParams(**params), _context("hf"))


def test_user_files_with_mistakes_name_the_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "texts.jsonl"
    bad.write_text('{"text": "fine"}\n{"body": "no text"}\n')
    with pytest.raises(DataError, match=r"texts.jsonl line 2 needs a string field"):
        loaders.load_texts(str(bad), "texts")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match=r"holds no \.txt files"):
        loaders.load_texts(str(tmp_path / "empty"), "texts")
    assert len(loaders.load_texts(None, "human")) == 103


@pytest.mark.slow
def test_detect_mode_finds_the_watermark_in_user_texts_only(
    reference_model_dir: Path, tmp_path: Path
) -> None:
    """Watermarked reference outputs saved as the user's texts are detected; a simulated model's are not."""
    hf = HFAdapter(HFParams(pretrained=str(reference_model_dir), device="cpu", batch_size=64))
    spec = WatermarkSpec(
        "kgw", (("bias", 4.0), ("greenlist_ratio", 0.25)), None, watermark_key_id(DEMO_WATERMARK_KEY)
    )
    params = GenerationParams(max_new_tokens=80, min_new_tokens=80, temperature=1.0)
    prompts = [t.text for t in loaders.prompts_from(loaders.load_texts(None, "human"), 6)][:20]
    outputs = hf.generate([Request("generate", p, params, watermark=spec) for p in prompts], seed=0)
    texts = tmp_path / "mine.jsonl"
    texts.write_text("".join(json.dumps({"id": i, "text": c.texts[0]}) + "\n" for i, c in enumerate(outputs)))
    simulated = SimulatedAdapter(SimulatedParams())
    _, metrics, _, n_errors = run(
        simulated,
        tmp_path / "run",
        mode="detect",
        schemes=["kgw"],
        tokenizer=str(reference_model_dir),
        texts=str(texts),
    )
    assert n_errors == 0
    assert metrics["kgw_detected_share_texts"].value >= 0.9 and metrics["kgw_detected_share_texts"].n == 20
    assert metrics["kgw_detected_share_outputs"].value <= 0.05
    assert metrics["kgw_fpr_at_0.01_human"].ci_low <= 0.01
    notes = json.loads((tmp_path / "run" / "metrics.json").read_text())["notes"]
    assert notes == [
        f"watermark key id {watermark_key_id(DEMO_WATERMARK_KEY)} (the public demonstration key)"
    ]
