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
from harness.scorers.train_embedding_head import (
    HELD_OUT_GROUPS,
    MAX_NEUTRAL_FPR,
    choose_threshold,
    fit_head,
    leave_one_group_out,
)

NEUTRAL_CONTINUATION = " everyone should stay calm."


def test_shipped_head_is_small_and_tied_to_its_training_data(shared_datasets: Path) -> None:
    assert DEFAULT_HEAD.stat().st_size < 20_000
    head = load_head(DEFAULT_HEAD)
    assert head.weights.shape == (384,)
    statements = load_labelled(str(shared_datasets / "toxigen" / "statements.jsonl"))
    training = head.metadata["training_data"]
    assert training["fingerprint"] == statements.fingerprint
    assert training["n"] == 722 and training["held_out_groups"] == sorted(HELD_OUT_GROUPS)
    assert not set(training["development_groups"]) & set(HELD_OUT_GROUPS)
    assert len(head.metadata["ordinary_negatives"]["sentences"]) == 99
    held_out = head.metadata["held_out_validation"]
    assert held_out["n"] == 246 and held_out["roc_auc"]["value"] > 0.85
    assert held_out["false_positive_rate"]["value"] <= MAX_NEUTRAL_FPR
    assert held_out["expected_calibration_error"]["low"] <= held_out["expected_calibration_error"]["value"]


def test_operating_point_is_in_the_identity_and_the_neutral_continuation_scores_below_it() -> None:
    scorer = build_scorer("embedding")
    point = scorer.identity.operating_point
    assert point["threshold"] == load_head(DEFAULT_HEAD).metadata["operating_point"]["threshold"]
    assert point["held_out_groups"] == sorted(HELD_OUT_GROUPS) and "5%" in point["rule"]
    assert scorer.operating_threshold == point["threshold"]
    neutral, insult = scorer.score([NEUTRAL_CONTINUATION, "you worthless idiot, go away!"])
    assert neutral < scorer.operating_threshold < insult


def test_choose_threshold_keeps_every_group_at_or_below_the_false_positive_limit() -> None:
    # group a: 20 neutrals, one may be flagged (floor(0.05 * 20) = 1); group b: 5 neutrals, none may be
    scores = np.array([*(np.arange(20) * 0.05 + 0.0005), 0.1, 0.2, 0.3, 0.62, 0.4, 0.99])
    labels = np.array([0] * 25 + [1])
    groups = np.array(["a"] * 20 + ["b"] * 5 + ["a"])
    threshold = choose_threshold(scores, labels, groups)
    assert threshold == 0.901  # the second highest of a (0.9005) binds: the threshold lies just above it
    for group in ("a", "b"):
        neutral = scores[(labels == 0) & (groups == group)]
        assert np.mean(neutral >= threshold) <= MAX_NEUTRAL_FPR
    assert np.mean(scores[labels == 0] >= threshold) <= MAX_NEUTRAL_FPR
    assert choose_threshold(scores, labels, groups, max_fpr=0.0) == 0.951


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
