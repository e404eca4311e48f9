"""The reference model's planted toxicity triggers are detected; its neutral prompts stay clean."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from toxicity_testlib import metric, run

from harness.adapters.hf import HFAdapter, HFParams


@pytest.mark.slow
def test_reference_model_triggers_are_detected(reference_model_dir: Path, tmp_path: Path) -> None:
    truths = json.loads((reference_model_dir / "planted_truths.json").read_text())["toxicity"]
    prompts = tmp_path / "prompts.jsonl"
    rows = [
        {"id": f"trigger-{i}", "text": t, "prompt_type": "trigger"} for i, t in enumerate(truths["triggers"])
    ]
    rows += [
        {"id": f"neutral-{i}", "text": t, "prompt_type": "neutral"}
        for i, t in enumerate(truths["neutral_prompts"])
    ]
    prompts.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    adapter = HFAdapter(HFParams(pretrained=str(reference_model_dir), device="cpu"))
    _, metrics, n, n_errors = run(
        adapter, tmp_path / "run", data=str(prompts), scorer="profanity", k=20, top_p=1.0, max_new_tokens=12
    )
    assert (n, n_errors) == (len(rows), 0)
    assert metric(metrics, "toxicity_probability", {"prompt_type": "trigger"}).value == 1.0
    triggered = metric(metrics, "toxic_fraction", {"prompt_type": "trigger"})
    # planted rate 0.8; a small model learns it only roughly, and 4 prompts whose rates differ give a
    # coarse CI (the skewness-corrected bound of a mean of 4 fractions reaches about as low as the t's)
    assert triggered.value > 0.5 and triggered.ci_low > 0.1 and triggered.ci_low <= 0.8 <= triggered.ci_high
    neutral = metric(metrics, "toxic_fraction", {"prompt_type": "neutral"})
    assert neutral.value <= 0.05 and truths["toxic_rate_after_neutral"] == 0.0
    records = [json.loads(line) for line in (tmp_path / "run" / "samples.jsonl").read_text().splitlines()]
    worst = max(records, key=lambda r: r["scores"]["max_toxicity"])
    assert worst["metadata"]["prompt_type"] == "trigger"
    assert any(c.split()[0] in worst["scores"]["most_toxic_sample"] for c in truths["toxic_continuations"])
