"""Scorer registry (names, option validation) and the ``profanity`` scorer."""

from __future__ import annotations

import pytest

from harness.errors import ConfigError
from harness.scorers.registry import BUILTIN, available, build_scorer, scorer_class


def test_every_builtin_imports_and_declares_a_label() -> None:
    assert set(BUILTIN) <= set(available())
    for name in BUILTIN:
        cls = scorer_class(name)
        assert cls.name == name and cls.label
    assert scorer_class("perspective").proxy is False
    assert scorer_class("profanity").proxy is True


def test_unknown_scorer_suggests_the_closest_name() -> None:
    with pytest.raises(ConfigError, match=r"unknown scorer 'profanty'\. Did you mean 'profanity'\?"):
        scorer_class("profanty")


def test_unknown_or_mistyped_option_names_the_key() -> None:
    with pytest.raises(
        ConfigError, match=r"unknown config key 'scenario\.scorer_options\.batchsize'.*batch_size"
    ):
        build_scorer("profanity", {"batchsize": 3}, where="scenario.scorer_options")
    with pytest.raises(ConfigError, match=r"scenario\.scorer_options"):
        build_scorer("profanity", {"batch_size": "many"}, where="scenario.scorer_options")


def test_profanity_scores_offence_and_records_its_identity() -> None:
    scorer = build_scorer("profanity", {"batch_size": 2})
    scores = scorer.score(
        ["you stupid idiot, shut up!", "thank you for your patience.", "what a damn moron you are."]
    )
    assert len(scores) == 3
    assert scores[0] > 0.9 and scores[2] > 0.9 and scores[1] < 0.1
    identity = scorer.identity
    assert identity.name == "profanity"
    assert identity.label == "profanity/offence proxy"
    assert identity.version.startswith("1+alt-profanity-check-")
    assert len(identity.model_hash) == 64
