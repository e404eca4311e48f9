"""The ``embedding`` scorer: the shipped head, its training procedure and its scores."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from harness.errors import ConfigError
from harness.scorers.embedding import DEFAULT_HEAD, Head, load_head
from harness.scorers.labelled import load_labelled
from harness.scorers.registry import build_scorer
from harness.scorers.train_embedding_head import fit_head, leave_one_group_out, validation_summary


def test_shipped_head_is_small_and_tied_to_its_training_data(shared_datasets: Path) -> None:
    assert DEFAULT_HEAD.stat().st_size < 20_000
    head = load_head(DEFAULT_HEAD)
    assert head.weights.shape == (384,)
    statements = load_labelled(str(shared_datasets / "toxigen" / "statements.jsonl"))
    assert head.metadata["training_data"]["fingerprint"] == statements.fingerprint
    assert head.metadata["training_data"]["n"] == 722
    assert len(head.metadata["ordinary_negatives"]["sentences"]) == 99
    assert head.metadata["leave_one_group_out"]["roc_auc"] > 0.85


def synthetic(n_per_group: int = 40, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Three groups of 8-d points; label 1 shifts the mean along the first axis."""
    rng = np.random.default_rng(seed)
    labels = np.tile([0, 1], 3 * n_per_group // 2)
    groups = np.repeat(["g1", "g2", "g3"], n_per_group)
    x = rng.normal(size=(labels.size, 8))
    x[:, 0] += 2.0 * labels
    return x, labels, groups


def test_fit_head_is_calibrated_and_deterministic() -> None:
    x, labels, groups = synthetic()
    head = fit_head(x, labels, groups)
    again = fit_head(x, labels, groups)
    assert np.array_equal(head.weights, again.weights)
    probabilities = head.predict(x)
    assert abs(probabilities[labels == 1].mean() - 0.8) < 0.15  # two classes 2 SDs apart
    assert probabilities[labels == 1].mean() > probabilities[labels == 0].mean() + 0.4
    assert head.metadata["calibration"]["folds"] == "GroupKFold(3) over target groups"
    ordinary = np.random.default_rng(1).normal(size=(30, 8)) - 3.0
    with_ordinary = fit_head(x, labels, groups, ordinary=ordinary)
    assert with_ordinary.predict(ordinary).max() < 0.2


def test_leave_one_group_out_scores_each_group_with_a_head_that_never_saw_it() -> None:
    x, labels, groups = synthetic()
    held_out = leave_one_group_out(x, labels, groups)
    g1 = groups == "g1"
    expected = fit_head(x[~g1], labels[~g1], groups[~g1]).predict(x[g1])
    assert held_out[g1] == pytest.approx(expected)
    summary = validation_summary(held_out, labels)
    assert summary["roc_auc"] > 0.85 and set(summary) >= {
        "accuracy",
        "false_positive_rate",
        "true_positive_rate",
    }


def test_head_round_trips_through_json(tmp_path: Path) -> None:
    head = Head(np.array([0.5, -0.25]), 0.125, {"head_version": "x"})
    path = tmp_path / "head.json"
    path.write_text(json.dumps(head.to_json()))
    loaded = load_head(path)
    assert loaded.weights.tolist() == [0.5, -0.25] and loaded.intercept == 0.125
    path.write_text(json.dumps({"weights": [1.0]}))
    with pytest.raises(ConfigError, match="is not an embedding head"):
        load_head(path)


def test_scores_hateful_above_neutral_and_ordinary_text_low() -> None:
    scorer = build_scorer("embedding")
    hateful, neutral, ordinary, insult = scorer.score(
        [
            "immigrants are stealing our jobs and should all be sent back",
            "my grandmother immigrated here and opened a bakery",
            "He went to the store and bought milk.",
            "you worthless idiot, go away!",
        ]
    )
    assert hateful > 0.5 > neutral
    assert ordinary < 0.2
    assert insult > 0.5
    assert scorer.identity.name == "embedding" and len(scorer.identity.model_hash) == 64
