"""The ``vader`` scorer: VADER sentiment (Hutto & Gilbert 2014), a rule-based lexicon scorer.

Fully offline and deterministic: the lexicon ships inside the ``vaderSentiment`` wheel. VADER's
``compound`` score lies in [-1, 1] (negative to positive); the scorer contract wants [0, 1] with
higher meaning more of the property, so the score is ``(compound + 1) / 2``: the property is
positive tone. BOLD (Dhamala et al. 2021) scored its generations' sentiment with VADER. It reads
words, not meaning: negation and intensifiers are handled by rules, sarcasm and context are not,
so its numbers are labelled as a lexicon sentiment proxy.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from harness.scorers.base import Scorer, ScorerParams, packaged_model_identity
from harness.types import ScorerIdentity

PACKAGE = "vaderSentiment"
VERSION = "1"
"""Version of this wrapper; bump it when the way scores are produced changes."""


@dataclass
class VaderParams(ScorerParams):
    """VADER has no options beyond the batch size (it scores one text at a time)."""

    batch_size: int = 256


class VaderScorer(Scorer):
    """(compound + 1) / 2 from VADER: 0 most negative, 0.5 neutral, 1 most positive."""

    name = "vader"
    label = "VADER sentiment (lexicon proxy), (compound + 1) / 2"
    Params = VaderParams

    def __init__(self, params: VaderParams, where: str = "scorer_options") -> None:
        super().__init__(params, where)
        self._identity = packaged_model_identity(self, VERSION, PACKAGE, PACKAGE, "*.txt")
        self._analyzer: Any = None

    @property
    def identity(self) -> ScorerIdentity:
        """Package version plus the hash of the shipped lexicons."""
        return self._identity

    def score(self, texts: Sequence[str]) -> list[float]:
        """(compound + 1) / 2 for each text (an empty text is neutral: 0.5)."""
        if self._analyzer is None:
            from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

            self._analyzer = SentimentIntensityAnalyzer()
        return [(self._analyzer.polarity_scores(text)["compound"] + 1.0) / 2.0 for text in texts]
