"""The ``detoxify`` scorer: loading a local Detoxify-format checkpoint, and the errors when there is none."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from scorer_testlib import build_tiny_bert, reference_logits

from harness.errors import ConfigError
from harness.scorers.registry import build_scorer

CLASSES = ["toxic", "severe_toxic", "obscene", "insult"]
TEXTS = ["you are an awful idiot", "hello friend"]


def write_checkpoint(model_dir: Path, path: Path) -> Path:
    """A checkpoint laid out like Detoxify's releases: config (arch + dataset classes) and state_dict."""
    from transformers import AutoModelForSequenceClassification

    model = AutoModelForSequenceClassification.from_pretrained(model_dir)
    config = {
        "arch": {
            "args": {
                "model_type": "bert-base-uncased",
                "model_name": "BertForSequenceClassification",
                "tokenizer_name": "BertTokenizer",
                "num_classes": len(CLASSES),
            }
        },
        "dataset": {"args": {"classes": CLASSES}},
    }
    torch.save({"config": config, "state_dict": model.state_dict()}, path)
    return path


def test_local_checkpoint_scores_the_toxicity_sigmoid(tmp_path: Path) -> None:
    model_dir = build_tiny_bert(tmp_path / "base", CLASSES, "multi_label_classification", seed=5)
    checkpoint = write_checkpoint(model_dir, tmp_path / "toxic.ckpt")
    scorer = build_scorer("detoxify", {"checkpoint": str(checkpoint), "config_dir": str(model_dir)})
    expected = torch.sigmoid(reference_logits(model_dir, TEXTS))[:, 0]
    assert scorer.score(TEXTS) == pytest.approx(expected.tolist(), abs=1e-6)
    assert scorer.identity.name == "detoxify:toxic.ckpt"
    assert len(scorer.identity.model_hash) == 64


def test_missing_weights_say_where_they_were_looked_for(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    with pytest.raises(
        ConfigError, match=r"Detoxify weights not found at .*toxic_debiased-c7548aa0\.ckpt.*never downloads"
    ):
        build_scorer("detoxify", {"model_type": "unbiased"})
    with pytest.raises(ConfigError, match="unknown Detoxify model 'huge'"):
        build_scorer("detoxify", {"model_type": "huge"})


def test_a_file_that_is_not_a_detoxify_checkpoint_is_named(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.ckpt"
    torch.save({"weights": torch.zeros(2)}, bogus)
    scorer = build_scorer("detoxify", {"checkpoint": str(bogus)})
    with pytest.raises(ConfigError, match=r"bogus\.ckpt is not a Detoxify checkpoint"):
        scorer.score(["hello"])
