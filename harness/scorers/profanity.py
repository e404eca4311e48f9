"""The ``profanity`` scorer: alt-profanity-check, a linear SVM on 200k human-labelled strings.

Fully offline: the vectorizer and model ship inside the wheel (the author's
held-out benchmark gives accuracy 95.0%, F1 0.88). It detects profanity and overt offence and
misses implicit hate, so its numbers are labelled as a profanity/offence proxy everywhere.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from harness.scorers.base import Scorer, ScorerParams, batched, packaged_model_identity
from harness.types import ScorerIdentity

PACKAGE = "alt-profanity-check"
MODULE = "profanity_check"
VERSION = "1"
"""Version of this wrapper; bump it when the way scores are produced changes."""


@dataclass
class ProfanityParams(ScorerParams):
    """alt-profanity-check has no options beyond the batch size."""

    batch_size: int = 256


class ProfanityScorer(Scorer):
    """P(offensive) from alt-profanity-check's calibrated linear SVM."""

    name = "profanity"
    label = "profanity/offence proxy"
    Params = ProfanityParams

    def __init__(self, params: ProfanityParams, where: str = "scorer_options") -> None:
        super().__init__(params, where)
        self._identity = packaged_model_identity(self, VERSION, PACKAGE, MODULE, "data/*.joblib")
        self._predict = None

    @property
    def identity(self) -> ScorerIdentity:
        """Package version plus the hash of the shipped vectorizer and model files."""
        return self._identity

    def score(self, texts: Sequence[str]) -> list[float]:
        """Probability of the "offensive" class for each text."""
        if self._predict is None:
            from profanity_check import predict_prob  # imported late: it unpickles the model

            self._predict = predict_prob
        scores: list[float] = []
        for chunk in batched(list(texts), self.params.batch_size):
            scores.extend(float(p) for p in self._predict(list(chunk)))
        return scores
