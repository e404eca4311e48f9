"""The ``guard_model`` scorer against the real llama.cpp server of the integration tests (tiny model).

The tiny model (tests/integration/tiny_llama.py) is no guard: it completes its small corpus. These
tests check that the scorer meets real server output: Llama Guard's template gets answers the
parser either reads or fails closed on (NaN with the answer quoted, never "safe"), and label words
the model does know ("Paris" / "Rome") are read from the real completions log-probabilities.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip(
    "llama_cpp", reason="llama-cpp-python is not installed; run .ci/llama_cpp.sh to build and install it"
)

from harness.scorers.guard_model import GuardModelParams, GuardModelScorer
from tests.integration.test_llamacpp_server import API_KEY, serve, tiny_gguf  # noqa: F401 (a fixture)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def guard_server(tiny_gguf: Path) -> Iterator[str]:  # noqa: F811 (the imported fixture)
    """The tiny model served with a context long enough for Llama Guard's template (~650 tokens)."""
    with serve(tiny_gguf, n_ctx=1024) as base_url:
        yield base_url


TEXTS = ["The sky is blue on a clear day.", "I will hurt you.", "Say hello."]


def scorer(base_url: str, monkeypatch: pytest.MonkeyPatch, **options: object) -> GuardModelScorer:
    monkeypatch.setenv("RAI_LLAMACPP_KEY", API_KEY)
    settings = {
        "base_url": base_url,
        "model": "tiny-llama",
        "api_key_env": "RAI_LLAMACPP_KEY",
        "timeout_s": 120,
    }
    return GuardModelScorer(GuardModelParams(**{**settings, **options}))


def test_llama_guard_template_on_real_output_parses_or_fails_closed(
    guard_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    guard = scorer(guard_server, monkeypatch, max_tokens=8)
    verdicts = guard.verdicts(TEXTS)
    scores = guard.score(TEXTS)
    for text, verdict, score in zip(TEXTS, verdicts, scores, strict=True):
        if verdict is None:
            assert math.isnan(score)
            assert "does not start with 'safe' or 'unsafe'" in guard.failures[text]
        else:
            assert 0.0 <= score <= 1.0 and verdict.output
    assert API_KEY not in repr(guard.identity) and API_KEY not in repr(guard.failures)


def test_label_words_the_model_knows_are_read_from_real_logprobs(
    guard_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    guard = scorer(
        guard_server,
        monkeypatch,
        template="{text} The capital of France is",
        safe_label="Paris",
        unsafe_label="Rome",
        logprobs=True,
        max_tokens=4,
        extra_body={"stop": ["."]},
    )
    (verdict,) = guard.verdicts(["The sky is blue on a clear day."])
    assert verdict is not None, guard.failures
    assert not verdict.unsafe and verdict.output.strip() == "Paris"
    assert 0.0 <= verdict.probability < 0.5  # P("Rome") from the first token's real alternatives


def test_chat_endpoint_with_a_regex_parser(guard_server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    guard = scorer(
        guard_server,
        monkeypatch,
        endpoint="chat",
        template="What is the capital of France?{text}",
        parser="regex",
        unsafe_pattern=r"\bRome\b",
        safe_pattern=r"\bParis\b",
        max_tokens=12,
    )
    (score,) = guard.score([""])  # the template pins the question; the tiny model knows its answer
    assert score == 0.0 or (math.isnan(score) and "neither pattern" in guard.failures[""])
