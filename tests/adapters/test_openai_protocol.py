"""Pure parts of the OpenAI adapter: retry timing, rate limits, payloads and response parsing."""

from __future__ import annotations

import json
import math
import random
from datetime import datetime, timezone
from email.utils import format_datetime

import pytest

from harness.adapters.http_client import json_object, parse_json_body, server_message
from harness.adapters.http_openai import (
    ChoiceStream,
    LogprobsMissing,
    Sampling,
    choice_texts,
    continuation_score,
    echo_payload,
    echo_shift,
    generation_payload,
    render_chat_as_text,
)
from harness.adapters.http_ratelimit import RateLimiter, TokenBucket, estimate_tokens
from harness.adapters.http_retry import (
    PermanentError,
    RetryPolicy,
    TransientError,
    is_retryable_status,
    parse_retry_after,
)
from harness.adapters.openai import derive_seed, public_url
from harness.secrets import Redactor
from harness.types import ChatMessage


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


# -- retry policy ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Retry-After": "7"}, 7.0),
        ({"retry-after": "0.5"}, 0.5),
        ({"Retry-After": "-3"}, 0.0),
        ({"Retry-After": "2", "retry-after-ms": "250"}, 0.25),
        ({"Retry-After": "soon"}, None),
        ({}, None),
    ],
)
def test_parse_retry_after_seconds_and_milliseconds(headers: dict[str, str], expected: float | None) -> None:
    assert parse_retry_after(headers) == expected


def test_parse_retry_after_http_date() -> None:
    now = datetime(2025, 1, 1, 12, 0, 0, tzinfo=timezone.utc).timestamp()
    header = format_datetime(datetime(2025, 1, 1, 12, 0, 30, tzinfo=timezone.utc), usegmt=True)
    assert parse_retry_after({"Retry-After": header}, now=now) == pytest.approx(30.0)


def test_backoff_is_full_jitter_within_the_capped_exponential_window() -> None:
    policy = RetryPolicy(backoff_initial_s=0.5, backoff_max_s=4.0)
    rng = random.Random(1)
    for attempt, window in [(0, 0.5), (1, 1.0), (2, 2.0), (3, 4.0), (6, 4.0)]:
        delays = [policy.delay(attempt, None, rng) for _ in range(400)]
        assert min(delays) >= 0.0 and max(delays) <= window
        assert max(delays) > 0.9 * window  # the whole window is used (jitter, not a constant)
        assert sum(delays) / len(delays) == pytest.approx(window / 2, rel=0.15)


def test_retry_after_overrides_backoff_and_long_waits_give_up() -> None:
    policy = RetryPolicy(backoff_initial_s=0.5, backoff_max_s=4.0, max_retry_wait_s=60)
    assert policy.delay(5, 12.0, random.Random(0)) == 12.0
    assert not policy.gives_up_on(60.0)
    assert policy.gives_up_on(61.0)
    assert not policy.gives_up_on(None)


@pytest.mark.parametrize(
    ("status", "retry"),
    [(429, True), (500, True), (503, True), (408, True), (400, False), (401, False), (404, False)],
)
def test_retryable_statuses(status: int, retry: bool) -> None:
    assert is_retryable_status(status) is retry


# -- rate limits -------------------------------------------------------------------------------


def test_token_bucket_spaces_requests_at_the_configured_rate() -> None:
    clock = FakeClock()
    bucket = TokenBucket(per_minute=120, clock=clock)  # 2 per second, burst of 2
    waits = [bucket.reserve(1.0) for _ in range(5)]
    assert waits == pytest.approx([0.0, 0.0, 0.5, 1.0, 1.5])
    clock.now += 10.0  # idle time refills to capacity only
    assert [bucket.reserve(1.0) for _ in range(3)] == pytest.approx([0.0, 0.0, 0.5])


def test_tokens_per_minute_uses_estimates_and_settles_with_reported_usage() -> None:
    clock = FakeClock()
    limiter = RateLimiter(requests_per_minute=None, tokens_per_minute=6000, clock=clock)  # 100 tokens/s
    assert limiter.reserve(100) == 0.0
    assert limiter.reserve(100) == pytest.approx(1.0)
    limiter.settle(estimated_tokens=100, actual_tokens=20)  # 80 tokens were over-reserved
    assert limiter.reserve(80) == pytest.approx(1.0)
    assert estimate_tokens(prompt_chars=40, completion_tokens=16) == 27


def test_unlimited_limiter_never_waits() -> None:
    limiter = RateLimiter()
    assert all(limiter.reserve(10_000) == 0.0 for _ in range(100))


# -- payloads --------------------------------------------------------------------------------


def test_generation_payloads_for_both_endpoints() -> None:
    sampling = Sampling(max_tokens=5, temperature=0.7, top_p=0.9, n=3, stop=("\n",), seed=42)
    text = generation_payload(
        "m", "Hi", False, sampling, stream=False, max_tokens_field="max_tokens", extra_body={"top_k": 5}
    )
    assert text == {
        "model": "m",
        "prompt": "Hi",
        "max_tokens": 5,
        "temperature": 0.7,
        "top_p": 0.9,
        "n": 3,
        "stop": ["\n"],
        "seed": 42,
        "top_k": 5,
    }
    chat_prompt = (ChatMessage("system", "Be brief."), ChatMessage("user", "Hi"))
    no_seed = Sampling(max_tokens=5, temperature=0.0, top_p=1.0, n=1, stop=(), seed=None)
    chat = generation_payload(
        "m", chat_prompt, True, no_seed, stream=True, max_tokens_field="max_completion_tokens", extra_body={}
    )
    assert chat["messages"] == [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]
    assert chat["max_completion_tokens"] == 5 and chat["stream"] is True
    assert "seed" not in chat and "stop" not in chat and "prompt" not in chat


def test_chat_prompt_on_the_completions_endpoint_is_rendered_as_text() -> None:
    prompt = (ChatMessage("system", "Be brief."), ChatMessage("user", "Hi"))
    assert render_chat_as_text(prompt) == "System: Be brief.\nUser: Hi\nAssistant:"
    sampling = Sampling(max_tokens=1, temperature=0.0, top_p=1.0, n=1, stop=(), seed=None)
    payload = generation_payload(
        "m", prompt, False, sampling, stream=False, max_tokens_field="max_tokens", extra_body={}
    )
    assert payload["prompt"] == "System: Be brief.\nUser: Hi\nAssistant:"


def test_echo_payload_asks_for_prompt_logprobs() -> None:
    payload = echo_payload("m", "ab", {"top_k": 1})
    assert payload["echo"] is True and payload["logprobs"] == 1 and payload["max_tokens"] == 1
    assert payload["temperature"] == 0.0 and payload["top_k"] == 1


def test_derived_seeds_are_deterministic_distinct_and_31_bit() -> None:
    seeds = {derive_seed(seed, key, j) for seed in (0, 1) for key in ("a", "b") for j in range(3)}
    assert len(seeds) == 12
    assert derive_seed(1, "a", 2) == derive_seed(1, "a", 2)
    assert all(0 <= s < 2**31 for s in seeds)


def test_public_url_drops_credentials() -> None:
    assert public_url("https://user:s3cret@gw.example.com:8443/v1/") == "https://gw.example.com:8443/v1"
    assert public_url("http://127.0.0.1:8000/v1") == "http://127.0.0.1:8000/v1"


# -- responses -------------------------------------------------------------------------------


def test_choices_are_read_in_index_order_and_refusals_count_as_text() -> None:
    body = {"choices": [{"index": 1, "text": " b"}, {"index": 0, "text": " a"}]}
    assert choice_texts(body, chat=False) == [" a", " b"]
    chat = {
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": None, "refusal": "I can't help."}}
        ]
    }
    assert choice_texts(chat, chat=True) == ["I can't help."]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"choices": []}, "empty 'choices' list"),
        ({"object": "error"}, "no 'choices' field"),
        ({"choices": {"0": 1}}, "'choices' is a dict"),
        ({"choices": [{"index": 0}]}, "choice 0 has no string 'text'"),
    ],
)
def test_bad_bodies_have_clear_messages(body: dict, message: str) -> None:
    with pytest.raises(TransientError, match=message):
        choice_texts(body, chat=False)


def test_malformed_json_body_message_quotes_the_body() -> None:
    expected = r"malformed JSON in the response body \(Expecting value at character 13\); it starts with '\{"
    with pytest.raises(TransientError, match=expected):
        parse_json_body(b'{"choices": [<!-- proxy error -->', Redactor())
    with pytest.raises(
        TransientError, match=r"^malformed response: the response body is not a JSON object \(got list\)$"
    ):
        parse_json_body(b"[1, 2]", Redactor())
    with pytest.raises(
        TransientError, match=r"^malformed response: stream event 3 is not a JSON object \(got int\)$"
    ):
        json_object("7", "stream event 3", Redactor())


def test_server_message_prefers_the_openai_error_message() -> None:
    body = b'{"error": {"message": "model not found", "type": "invalid"}}'
    assert server_message(body, Redactor()) == "model not found"
    assert server_message(b"<html>Bad gateway</html>", Redactor()) == "<html>Bad gateway</html>"
    assert server_message(b"", Redactor()) == "(empty body)"


KEY = "sk-rai-canary-" + "0123456789abcdef" * 3


@pytest.mark.parametrize("padding", [150, 180, 190, 199])
def test_server_text_is_redacted_before_it_is_cut(padding: int) -> None:
    redact = Redactor([KEY])
    for body in (
        ("x" * padding + KEY).encode(),
        json.dumps({"error": {"message": "y" * padding + KEY}}).encode(),
    ):
        message = server_message(body, redact)
        assert len(message) <= 200
        assert not any(KEY[i : i + 8] in message for i in range(len(KEY) - 7)), message
    with pytest.raises(TransientError) as caught:
        parse_json_body(("{" + KEY).encode(), redact)
    assert KEY[:12] not in str(caught.value)


def test_stream_assembles_choices_by_index() -> None:
    stream = ChoiceStream(chat=True)
    for event in [
        {"choices": [{"index": 0, "delta": {"role": "assistant"}}]},
        {"choices": [{"index": 1, "delta": {"content": "B"}}]},
        {"choices": [{"index": 0, "delta": {"content": "A1"}}]},
        {"choices": [{"index": 0, "delta": {"content": "A2"}}]},
    ]:
        stream.feed(event)
    assert stream.result() == ["A1A2", "B"]
    with pytest.raises(TransientError, match="empty 'choices' list"):
        ChoiceStream(chat=False).result()


def _echo_body() -> dict:
    # prompt "The nurse said" + continuation " she was", then one generated token " ready"
    return {
        "choices": [
            {
                "index": 0,
                "logprobs": {
                    "tokens": ["The", " nurse", " said", " she", " was", " ready"],
                    "text_offset": [0, 3, 9, 14, 18, 22],
                    "token_logprobs": [None, -2.0, -1.0, -0.5, -0.25, -3.0],
                    "top_logprobs": [
                        None,
                        {" nurse": -2.0},
                        {" x": -0.9},
                        {" she": -0.5},
                        {" was": -0.25},
                        {" y": -1},
                    ],
                },
            }
        ]
    }


def test_continuation_score_sums_only_the_continuation_tokens() -> None:
    score = continuation_score(_echo_body(), "The nurse said", " she was")
    assert score.logprob == pytest.approx(-0.75)
    assert score.token_count == 2
    assert score.greedy is True
    last = continuation_score(_echo_body(), "The nurse", " said")
    assert (last.logprob, last.token_count, last.greedy) == (-1.0, 1, False)


def test_llama_cpp_offsets_after_the_dummy_prefix_space_are_realigned() -> None:
    # llama-cpp-python's answer for "The capital is Rome." (recorded shape): offsets count the
    # SentencePiece dummy-prefix space, so each is one character later than in the prompt
    body = {
        "choices": [
            {
                "index": 0,
                "logprobs": {
                    "tokens": [" The", " capital", " is", " ", "R", "ome", ".", " The"],
                    "text_offset": [0, 4, 12, 15, 16, 17, 20, 21],
                    "token_logprobs": [None, -2.0, -0.5, -8.0, -2.0, -0.1, -0.25, -0.04],
                    "top_logprobs": [
                        None,
                        {" capital": -2.0},
                        {" is": -0.5},
                        {"P": -1},
                        {"R": -2},
                        {},
                        {},
                        {},
                    ],
                },
            }
        ]
    }
    score = continuation_score(body, "The capital is", " Rome.")
    assert (score.logprob, score.token_count) == (pytest.approx(-10.35), 4)
    assert continuation_score(body, "The capital", " is").logprob == -0.5
    assert echo_shift(body["choices"][0]["logprobs"]["tokens"], "The capital is Rome.") == 1
    assert echo_shift(["The", " capital"], "The capital") == 0
    assert echo_shift(["  x"], " x") == 1


def test_continuation_score_errors_are_specific() -> None:
    with pytest.raises(LogprobsMissing, match="no 'logprobs' object"):
        continuation_score({"choices": [{"index": 0, "text": "x", "logprobs": None}]}, "a", "b")
    with pytest.raises(LogprobsMissing, match="first token of a prompt has none"):
        continuation_score(_echo_body(), "", "The")
    with pytest.raises(LogprobsMissing, match="no echoed token starts inside the continuation"):
        continuation_score(_echo_body(), "The nurse said ", "sh")
    assert math.isfinite(continuation_score(_echo_body(), "The", " nurse").logprob)


def test_redactor_scrubs_every_secret() -> None:
    redact = Redactor(["sk-abc", None, "pw"])
    assert redact("Bearer sk-abc and pw") == "Bearer *** and ***"
    assert Redactor([KEY])(f"key {KEY[:20]}... rejected") == "key *** rejected"  # a truncated echo
    assert Redactor()("proxy http://user:pass@proxy:3128 down") == "proxy http://***@proxy:3128 down"


def test_the_retry_policy_retries_transient_errors_only_and_honours_the_server() -> None:
    sleeps: list[float] = []
    policy = RetryPolicy(max_retries=3, backoff_initial_s=0.5, backoff_max_s=4.0, max_retry_wait_s=60)
    outcomes = iter([TransientError("HTTP 429", retry_after=7.0), TransientError("HTTP 503"), "ok"])

    def call() -> str:
        outcome = next(outcomes)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    assert policy.retrying(sleep=sleeps.append)(call) == "ok"
    assert sleeps[0] == 7.0 and 0 <= sleeps[1] <= 1.0  # Retry-After exactly, then the second jitter window
    calls: list[int] = []

    def permanent() -> None:
        calls.append(1)
        raise PermanentError("HTTP 400: bad request", status=400)

    with pytest.raises(PermanentError):
        policy.retrying(sleep=sleeps.append)(permanent)
    assert len(calls) == 1  # a user error is never retried

    def transient(retry_after: float | None) -> None:
        calls.append(1)
        raise TransientError("HTTP 500", retry_after=retry_after)

    calls.clear()
    with pytest.raises(TransientError):
        policy.retrying(sleep=lambda _: None)(transient, None)
    assert len(calls) == 4  # max_retries + 1 attempts, then the last error (fail closed)
    calls.clear()
    with pytest.raises(TransientError):
        policy.retrying(sleep=lambda _: None)(transient, 61.0)
    assert len(calls) == 1  # a wait longer than max_retry_wait_s gives up at once
