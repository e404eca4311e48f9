"""The hf adapter's watermark hook: recorded by identity, deterministic, and keys unchanged without it."""

from __future__ import annotations

from pathlib import Path

from harness.adapters.hf import DEMO_WATERMARK_KEY, HFAdapter, HFParams, watermark_key_id
from harness.types import GenerationParams, Request, WatermarkSpec
from scenarios.watermark.detection import build_detector

SPEC = WatermarkSpec(
    "kgw", (("bias", 4.0), ("greenlist_ratio", 0.25)), None, watermark_key_id(DEMO_WATERMARK_KEY)
)


def test_requests_without_a_watermark_keep_their_json_form() -> None:
    plain = Request("generate", "Once", GenerationParams(max_new_tokens=4))
    assert "watermark" not in plain.payload() and "min_new_tokens" not in plain.payload()["params"]
    marked = Request("generate", "Once", GenerationParams(max_new_tokens=4, min_new_tokens=4), watermark=SPEC)
    assert marked.payload()["watermark"]["key_id"] == SPEC.key_id and marked.key() != plain.key()
    assert DEMO_WATERMARK_KEY not in str(marked.payload())


def test_watermarked_sampling_is_seeded_and_carries_the_watermark(reference_model_dir: Path) -> None:
    adapter = HFAdapter(HFParams(pretrained=str(reference_model_dir), device="cpu"))
    params = GenerationParams(max_new_tokens=60, min_new_tokens=60, temperature=1.0, n=2)
    requests = [Request("generate", "The nurse walked in", params, watermark=SPEC)] * 2
    first, again = adapter.generate(requests, seed=0)
    plain = adapter.generate([Request("generate", "The nurse walked in", params)], seed=0)[0]
    assert first.texts == again.texts and first.texts != plain.texts
    assert first.texts == adapter.generate(requests[:1], seed=0)[0].texts
    detector = build_detector(SPEC, adapter.config, adapter.tokenizer.all_special_ids)
    ids = adapter.tokenizer(first.texts + plain.texts, add_special_tokens=False).input_ids
    p_values = [scan.p_value() for scan in detector.scan_many(ids)]
    assert max(p_values[:2]) < 0.01 and min(p_values[2:]) > max(p_values[:2])
