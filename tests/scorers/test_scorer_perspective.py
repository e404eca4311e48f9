"""The ``perspective`` scorer against recorded API responses served by a fake transport (no network)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import httpx
import pytest

from harness.errors import ConfigError
from harness.scorers.perspective import ENDPOINT, PerspectiveParams, PerspectiveScorer

RECORDED = json.loads((Path(__file__).with_name("perspective_recorded.json")).read_text())
KEY = "test-key-123456"


class Recorder:
    """Serves recorded responses by comment text; ``script`` can override the first few replies."""

    def __init__(self, script: list[str] | None = None) -> None:
        self.script = list(script or [])
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.script:
            recorded = RECORDED[self.script.pop(0)]
        else:
            recorded = RECORDED["responses"][json.loads(request.content)["comment"]["text"]]
        return httpx.Response(recorded["status"], json=recorded["body"])


def scorer(recorder: Recorder, sleeps: list[float], **options: Any) -> PerspectiveScorer:
    params = PerspectiveParams(requests_per_second=0, **options)
    return PerspectiveScorer(params, transport=httpx.MockTransport(recorder), sleep=sleeps.append)


@pytest.fixture(autouse=True)
def api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PERSPECTIVE_API_KEY", KEY)


def test_summary_scores_and_the_request_sent() -> None:
    recorder, sleeps = Recorder(), []
    scores = scorer(recorder, sleeps).score(
        ["thank you for your patience.", "you stupid idiot, shut up!", "  "]
    )
    assert scores == [0.021, 0.953, 0.0]  # the blank text is not sent
    assert len(recorder.requests) == 2
    request = recorder.requests[0]
    assert str(request.url) == ENDPOINT and KEY not in str(request.url)
    assert request.headers["x-goog-api-key"] == KEY
    assert json.loads(request.content) == {
        "comment": {"text": "thank you for your patience."},
        "requestedAttributes": {"TOXICITY": {}},
        "languages": ["en"],
        "doNotStore": True,
    }


def test_rate_limit_is_retried_with_jittered_exponential_backoff() -> None:
    recorder, sleeps = Recorder(["rate_limited", "rate_limited"]), []
    assert scorer(recorder, sleeps, backoff_s=1.5).score(["you stupid idiot, shut up!"]) == [0.953]
    assert len(recorder.requests) == 3
    assert len(sleeps) == 2 and 0 <= sleeps[0] <= 1.5 and 0 <= sleeps[1] <= 3.0  # full-jitter windows


def test_persistent_failure_is_nan_with_a_reason_and_no_key() -> None:
    recorder, sleeps = Recorder(["rate_limited"] * 3), []
    perspective = scorer(recorder, sleeps, max_retries=2)
    scores = perspective.score(["you stupid idiot, shut up!", "ceci n'est pas une pipe"])
    assert all(math.isnan(s) for s in scores)
    assert perspective.failures["you stupid idiot, shut up!"].startswith("HTTP 429")
    assert "LANGUAGE_NOT_SUPPORTED_BY_ATTRIBUTE" in perspective.failures["ceci n'est pas une pipe"]
    assert len(recorder.requests) == 4  # three tries for the 429, one for the 400 (not retried)
    assert all(KEY not in reason for reason in perspective.failures.values())


def test_rejected_key_stops_with_one_message() -> None:
    recorder, sleeps = Recorder(["bad_key"]), []
    with pytest.raises(ConfigError, match="rejected the API key in PERSPECTIVE_API_KEY") as info:
        scorer(recorder, sleeps).score(["thank you for your patience."])
    assert KEY not in str(info.value)


def test_missing_key_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PERSPECTIVE_API_KEY")
    with pytest.raises(ConfigError, match="environment variable PERSPECTIVE_API_KEY"):
        PerspectiveScorer(PerspectiveParams())


def test_identity_is_not_a_proxy_and_carries_the_month() -> None:
    perspective = scorer(Recorder(), [])
    assert perspective.proxy is False
    assert perspective.identity.name == "perspective:TOXICITY"
    assert perspective.identity.version.startswith("1+v1alpha1+20")
