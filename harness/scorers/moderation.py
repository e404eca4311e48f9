"""The ``moderation`` scorer: an OpenAI-compatible ``POST /moderations`` endpoint, with category scores.

OpenAI's moderation endpoint (Markov et al. 2023) and compatible gateways answer
``{"input": [texts...], "model": ...}`` with one result per text::

    {"results": [{"flagged": true, "categories": {"hate": true, ...},
                  "category_scores": {"hate": 0.91, "violence": 0.02, ...}}, ...]}

A batch of ``batch_size`` texts goes in one request; batches run concurrently through the shared
HTTP client (retries, deadline, rate limit: :mod:`harness.scorers.endpoint`). A text's score is
the largest of its ``category_scores`` over ``categories`` (all categories when the list is
empty), so the scorer answers "how strongly does the endpoint flag this for any category I care
about"; :meth:`ModerationScorer.category_scores` returns every category's score for reports that
want them. A result without scores, with non-numeric scores or with none of the configured
categories is malformed: the request is retried, and after the retries its texts score NaN (fail
closed). A body whose ``results`` do not match the inputs one to one is malformed the same way.

The hosted endpoint's model is replaced over time, so the recorded version includes the month of
the run (as for Perspective): results scored in different months are not ranked together. Texts
sent to a hosted endpoint leave the machine; see docs/guardrails.md for the trust and cost notes.
"""

from __future__ import annotations

import datetime
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from harness.adapters.http_client import RequestFailed
from harness.adapters.http_ratelimit import estimate_tokens
from harness.scorers.base import Scorer, batched
from harness.scorers.endpoint import EndpointClient, EndpointParams
from harness.types import ScorerIdentity, stable_hash

VERSION = "1"


@dataclass
class ModerationParams(EndpointParams):
    """Options of the ``moderation`` scorer (connection settings: :class:`EndpointParams`)."""

    base_url: str = "https://api.openai.com/v1"
    model: str | None = "omni-moderation-latest"
    api_key_env: str | None = "OPENAI_API_KEY"
    path: str = "/moderations"
    categories: list[str] = field(default_factory=list)
    """Categories whose scores count (empty: all the endpoint returns); the text's score is their maximum."""


class ModerationScorer(Scorer):
    """Largest category score of an OpenAI-compatible moderation endpoint (see the module docstring)."""

    name = "moderation"
    label = "moderation endpoint (largest category score)"
    Params = ModerationParams

    def __init__(self, params: ModerationParams, where: str = "scorer_options") -> None:
        super().__init__(params, where)
        self.params: ModerationParams = params
        self.endpoint = EndpointClient(params, where)
        month = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m")
        settings = {
            "endpoint": self.endpoint.url + params.path,
            "model": params.model,
            "categories": sorted(params.categories),
        }
        self._identity = ScorerIdentity(
            name=f"moderation:{params.model}",
            version=f"{VERSION}+{month}",
            model_hash=stable_hash(settings)[:16],
            label=f"{self.label}: {params.model} at {self.endpoint.url}",
        )

    @property
    def identity(self) -> ScorerIdentity:
        """Endpoint, model, categories (hashed) and the month of scoring; never the key."""
        return self._identity

    def score(self, texts: Sequence[str]) -> list[float]:
        """The largest configured category score per text; NaN (reason in ``failures``) on failure."""
        return [math.nan if scores is None else max(scores.values()) for scores in self._scores(texts)]

    def category_scores(self, texts: Sequence[str]) -> list[dict[str, float] | None]:
        """Every configured category's score per text (None where the text could not be scored)."""
        return self._scores(texts)

    def _scores(self, texts: Sequence[str]) -> list[dict[str, float] | None]:
        self.failures = {}
        chunks = list(batched(list(texts), self.params.batch_size))
        jobs = [self._job(list(chunk)) for chunk in chunks]
        results: list[dict[str, float] | None] = []
        for chunk, outcome in zip(chunks, self.endpoint.run_all(jobs), strict=True):
            if isinstance(outcome, RequestFailed):
                self.failures.update({text: outcome.message for text in chunk})
                results.extend([None] * len(chunk))
            else:
                results.extend(outcome)
        return results

    def _job(self, chunk: list[str]) -> Any:
        payload = {"model": self.params.model, "input": chunk}
        tokens = estimate_tokens(sum(len(text) for text in chunk), 0)

        def parse(body: dict[str, Any]) -> list[dict[str, float]]:
            return parse_moderation(body, len(chunk), self.params.categories)

        return lambda: self.endpoint.client.post_json(self.params.path, payload, parse, tokens)


def parse_moderation(
    body: dict[str, Any], expected: int, categories: Sequence[str]
) -> list[dict[str, float]]:
    """The configured category scores of each result; ``ValueError`` names what is malformed.

    (The HTTP client turns a ``ValueError`` from a parser into a retried "invalid response".)
    """
    results = body.get("results")
    if not isinstance(results, list) or len(results) != expected:
        count = len(results) if isinstance(results, list) else "no"
        raise ValueError(f"the moderation response has {count} results for {expected} inputs")
    parsed = []
    for index, result in enumerate(results):
        scores = result.get("category_scores") if isinstance(result, dict) else None
        if not isinstance(scores, dict) or not scores:
            raise ValueError(f"result {index} has no 'category_scores' object")
        wanted = list(categories) or list(scores)
        missing = [name for name in wanted if name not in scores]
        if missing:
            raise ValueError(f"result {index} has no score for the categories {missing}")
        chosen = {}
        for name in wanted:
            value = scores[name]
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0.0 <= value <= 1.0:
                raise ValueError(
                    f"result {index}: category {name!r} has the score {value!r}, not a number in [0, 1]"
                )
            chosen[name] = float(value)
        parsed.append(chosen)
    return parsed
