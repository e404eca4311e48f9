"""The ``hf`` scorer on a tiny classifier built here, and its error messages."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from scorer_testlib import build_tiny_bert, reference_logits

from harness.errors import AdapterError, ConfigError
from harness.scorers.hf import HFClassifierScorer, HFScorerParams, choose_toxic_labels
from harness.scorers.registry import build_scorer

TEXTS = ["you are a nice friend", "you are an awful idiot", "hello", ""]


@pytest.fixture(scope="module")
def softmax_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_bert(tmp_path_factory.mktemp("cls"), ["neutral", "toxic", "insult"])


def test_single_label_score_is_summed_softmax_of_toxic_labels(softmax_model: Path) -> None:
    scorer = build_scorer(
        "hf", {"model": str(softmax_model), "toxic_labels": ["toxic", "insult"], "batch_size": 3}
    )
    expected = torch.softmax(reference_logits(softmax_model, TEXTS), dim=-1)[:, 1:].sum(dim=1)
    assert scorer.score(TEXTS) == pytest.approx(expected.tolist(), abs=1e-6)


def test_label_named_toxic_is_found_without_configuration(softmax_model: Path) -> None:
    scorer = build_scorer("hf", {"model": str(softmax_model)})
    expected = torch.softmax(reference_logits(softmax_model, TEXTS), dim=-1)[:, 1]
    assert scorer.toxic_labels == ["toxic"]
    assert scorer.score(TEXTS) == pytest.approx(expected.tolist(), abs=1e-6)
    identity = scorer.identity
    assert identity.name == f"hf:{softmax_model}"
    assert identity.model_hash and len(identity.model_hash) == 64
    assert "toxic" in identity.label


def test_multi_label_model_uses_the_largest_sigmoid(tmp_path: Path) -> None:
    model = build_tiny_bert(
        tmp_path / "ml", ["toxicity", "obscene", "threat"], "multi_label_classification", seed=3
    )
    scorer = build_scorer("hf", {"model": str(model), "toxic_labels": ["toxicity", "threat"]})
    expected = torch.sigmoid(reference_logits(model, TEXTS))[:, [0, 2]].max(dim=1).values
    assert scorer.score(TEXTS) == pytest.approx(expected.tolist(), abs=1e-6)


def test_ambiguous_labels_ask_for_toxic_labels() -> None:
    with pytest.raises(ConfigError, match=r"toxic_labels.*\['LABEL_0', 'LABEL_1'\]"):
        choose_toxic_labels(["LABEL_0", "LABEL_1"], [], "scenario.scorer_options")
    with pytest.raises(ConfigError, match="not among the model's labels"):
        choose_toxic_labels(["neutral", "toxic"], ["hate"], "scenario.scorer_options")


def test_missing_local_folder_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is not a model directory"):
        HFClassifierScorer(HFScorerParams(model=str(tmp_path / "nope")))
    with pytest.raises(ConfigError, match="give a local model folder or a Hub id"):
        HFClassifierScorer(HFScorerParams(model=""))


def test_uncached_hub_model_offline_fails_at_once_with_advice(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(AdapterError, match=r"not in the local Hugging Face cache.*huggingface-cli download"):
        build_scorer("hf", {"model": "rai-harness-tests/no-such-classifier"})
