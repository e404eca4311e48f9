"""Scores are cached by scorer identity and text, so reruns never run the classifier again."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from harness.errors import ConfigError
from harness.scenario import ScenarioContext
from harness.scorers.base import CachedScorer, Scorer, ScorerParams
from harness.scorers.vader import VaderScorer
from harness.store import ResponseCache
from harness.types import ScorerIdentity


class CountingScorer(Scorer):
    """Scores a text by its length / 10 (NaN for "fail"), counting the texts it was asked about."""

    name = "counting"
    label = "test"

    def __init__(self, version: str = "1") -> None:
        super().__init__(ScorerParams())
        self.version = version
        self.seen: list[str] = []

    @property
    def identity(self) -> ScorerIdentity:
        return ScorerIdentity("counting", self.version, model_hash="abc")

    def score(self, texts: list[str]) -> list[float]:
        self.seen.extend(texts)
        self.failures = {t: "refused" for t in texts if t == "fail"}
        return [math.nan if t == "fail" else len(t) / 10 for t in texts]


def test_known_texts_are_served_from_the_cache_and_failures_are_retried(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path / "cache.sqlite")
    first = CountingScorer()
    scores = CachedScorer(first, cache).score(["abc", "fail", "abcde", "abc"])
    assert scores[0] == 0.3 and math.isnan(scores[1]) and scores[2:] == [0.5, 0.3]
    assert first.seen == ["abc", "fail", "abcde"], "a text is scored once per call"
    second = CountingScorer()
    cached = CachedScorer(second, cache)
    again = cached.score(["abcde", "fail", "abc", "new text"])
    assert again[0] == 0.5 and math.isnan(again[1]) and again[2:] == [0.3, 0.8]
    assert second.seen == ["fail", "new text"], "only the failure and the new text reach the classifier"
    assert cached.failures == {"fail": "refused"}
    assert cached.identity == second.identity
    cache.close()


def test_another_scorer_version_never_reads_these_scores(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path / "cache.sqlite")
    CachedScorer(CountingScorer("1"), cache).score(["abc"])
    retrained = CountingScorer("2")
    CachedScorer(retrained, cache).score(["abc"])
    assert retrained.seen == ["abc"]
    cache.clear()
    fresh = CountingScorer("1")
    CachedScorer(fresh, cache).score(["abc"])
    assert fresh.seen == ["abc"], "clear() empties the score table too"
    cache.close()


def test_a_scenario_gets_its_scorer_cached_only_when_the_cache_is_on(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path / "cache.sqlite")
    cached = ScenarioContext(score_store=cache).scorer("vader", {})
    plain = ScenarioContext().scorer("vader", {})
    assert isinstance(cached, CachedScorer) and isinstance(plain, VaderScorer)
    assert cached.identity == plain.identity
    with pytest.raises(ConfigError, match=r"scenario\.scorer_options"):
        ScenarioContext().scorer("vader", {"no_such_option": 1})
    cache.close()
