"""The openai adapter against the local OpenAI-protocol server: probe, endpoints, n, seeds, retries."""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Iterator
from dataclasses import asdict
from typing import Any

import pytest

from harness.adapters.openai import OpenAIAdapter, OpenAIParams, derive_seed
from harness.errors import AdapterError, ConfigError
from harness.types import Capability, ChatMessage, GenerationParams, Request
from tests.servers.openai_fault_server import Behaviour, FaultConfig, FaultServer, sample_text, token_logprob

FAST = {"backoff_initial_s": 0.01, "backoff_max_s": 0.05}


@pytest.fixture
def server() -> Iterator[FaultServer]:
    with FaultServer() as running:
        yield running


def adapter_for(server: FaultServer, **overrides: Any) -> OpenAIAdapter:
    params: dict[str, Any] = {"base_url": server.base_url, "api_key_env": None, "timeout_s": 5.0, **FAST}
    params.update(overrides)
    return OpenAIAdapter(OpenAIParams(**params))


def gen(
    prompt: Any, n: int = 1, temperature: float = 0.0, max_new_tokens: int = 8, stop: tuple[str, ...] = ()
) -> Request:
    return Request(
        "generate",
        prompt,
        GenerationParams(max_new_tokens=max_new_tokens, temperature=temperature, n=n, stop=stop),
    )


# -- probe -----------------------------------------------------------------------------------


def test_probe_finds_every_capability_and_is_cached(server: FaultServer) -> None:
    adapter = adapter_for(server)
    assert adapter.capabilities() == {Capability.GENERATE, Capability.CHAT, Capability.LOGLIKELIHOOD}
    probes = len(server.state.records)
    assert [r.path for r in server.state.records] == ["/v1/models", "/v1/completions", "/v1/chat/completions"]
    adapter.capabilities()
    info = adapter.info()
    assert len(server.state.records) == probes  # cached: no second probe
    assert info.model_id == "fault-test-model"  # discovered from /v1/models
    assert info.revision == "fp_fault_test"
    assert info.extra["base_url"] == server.base_url
    assert info.extra["server_model"] == "fault-test-model"


def test_servers_without_echo_or_chat_get_no_loglikelihood_or_chat() -> None:
    with FaultServer(behaviour=Behaviour(echo_logprobs=False, chat=False)) as server:
        adapter = adapter_for(server)
        assert adapter.capabilities() == {Capability.GENERATE}
        info = adapter.info()
        assert "echo is not supported" in info.extra["loglikelihood_reason"]
        assert "no chat template" in info.extra["chat_reason"]
        with pytest.raises(AdapterError, match="does not return prompt log-probabilities"):
            adapter.loglikelihood([Request("loglikelihood", "a", continuations=(" b",))])


def test_a_server_that_silently_ignores_echo_is_found_without_retrying() -> None:
    with FaultServer(behaviour=Behaviour(ignore_echo=True)) as server:
        adapter = adapter_for(server, chat=False)
        assert Capability.LOGLIKELIHOOD not in adapter.capabilities()
        assert "no 'logprobs' object" in adapter.info().extra["loglikelihood_reason"]
        assert len(server.completion_records()) == 1


def test_forced_capabilities_skip_their_probes(server: FaultServer) -> None:
    adapter = adapter_for(server, model="given-id", loglikelihood=False, chat=True)
    assert adapter.capabilities() == {Capability.GENERATE, Capability.CHAT}
    assert [r.path for r in server.state.records] == ["/v1/models"]
    assert adapter.info().model_id == "given-id"


def test_unreachable_server_is_one_clear_error() -> None:
    with socket.socket() as held:  # bound, never listening: no other job can take the port meanwhile
        held.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{held.getsockname()[1]}/v1"
        adapter = OpenAIAdapter(OpenAIParams(base_url=url, api_key_env=None, max_retries=1, **FAST))
        with pytest.raises(
            AdapterError,
            match=r"cannot reach the model server at http://127\.0\.0\.1:\d+/v1: .*connection error",
        ):
            adapter.capabilities()


def test_missing_api_key_variable_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RAI_TEST_MISSING_KEY", raising=False)
    with pytest.raises(AdapterError, match=r"RAI_TEST_MISSING_KEY \(named by model.api_key_env\) is not set"):
        OpenAIAdapter(OpenAIParams(base_url="http://127.0.0.1:1/v1", api_key_env="RAI_TEST_MISSING_KEY"))


def test_a_url_login_or_a_pasted_key_is_refused_without_repeating_it(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError) as error:
        OpenAIAdapter(OpenAIParams(base_url="http://user:pw-canary@127.0.0.1:1/v1", api_key_env=None))
    assert "model.base_url holds a URL with a user:password login" in str(error.value)
    assert "~/.netrc" in str(error.value) and "canary" not in str(error.value)
    with pytest.raises(ConfigError) as error:
        OpenAIAdapter(OpenAIParams(base_url="http://127.0.0.1:1/v1", api_key_env="sk-proj-canary"))
    assert "model.api_key_env must name an environment variable" in str(error.value)
    assert "canary" not in str(error.value)


def test_rejected_key_fails_at_start_without_revealing_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAI_TEST_KEY", "sk-wrong-key-123")
    with FaultServer(behaviour=Behaviour(api_key="sk-right")) as server:
        adapter = adapter_for(server, api_key_env="RAI_TEST_KEY")
        with pytest.raises(AdapterError) as caught:
            adapter.capabilities()
    message = str(caught.value)
    assert "HTTP 401" in message and "$RAI_TEST_KEY" in message
    assert "sk-wrong-key-123" not in message and "Bearer ***" in message  # the server echoed it; redacted


@pytest.mark.parametrize(
    ("overrides", "key"),
    [
        ({"endpoint": "both"}, "model.endpoint"),
        ({"base_url": "127.0.0.1:8000"}, "model.base_url"),
        ({"concurrency": 0}, "model.concurrency"),
        ({"timeout_s": 0}, "model.timeout_s"),
    ],
)
def test_bad_settings_name_the_key(overrides: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigError, match=key):
        OpenAIAdapter(OpenAIParams(**{"api_key_env": None, **overrides}))


# -- generation ------------------------------------------------------------------------------


def test_text_and_chat_prompts_use_their_endpoints_and_match_the_server(server: FaultServer) -> None:
    adapter = adapter_for(server, loglikelihood=False, chat=True)
    chat = (ChatMessage("system", "Be brief."), ChatMessage("user", "Hello"))
    text_out, chat_out = adapter.generate([gen("Once upon a time"), gen(chat)], seed=7)
    posts = server.completion_records()
    assert sorted(r.path for r in posts) == ["/v1/chat/completions", "/v1/completions"]
    text_body = next(r.body for r in posts if r.path == "/v1/completions")
    assert text_body["prompt"] == "Once upon a time" and text_body["temperature"] == 0.0
    assert text_out.texts == [sample_text("Once upon a time", text_body, 0)]
    chat_body = next(r.body for r in posts if r.path == "/v1/chat/completions")
    assert chat_body["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hello"},
    ]
    assert chat_out.texts == [sample_text("system: Be brief.\nuser: Hello", chat_body, 0)]


@pytest.mark.parametrize(
    ("endpoint", "path"), [("chat", "/v1/chat/completions"), ("completions", "/v1/completions")]
)
def test_endpoint_can_be_forced(server: FaultServer, endpoint: str, path: str) -> None:
    adapter = adapter_for(server, endpoint=endpoint, loglikelihood=False, chat=False)
    adapter.generate([gen("plain text"), gen((ChatMessage("user", "chat"),))], seed=0)
    posts = server.completion_records()
    assert {r.path for r in posts} == {path}
    if endpoint == "completions":
        assert {r.body["prompt"] for r in posts} == {"plain text", "User: chat\nAssistant:"}


def test_seeds_are_sent_per_request_and_greedy_ignores_the_run_seed(server: FaultServer) -> None:
    adapter = adapter_for(server, loglikelihood=False, chat=False)
    sampled, greedy = gen("abc", temperature=0.9), gen("xyz")
    adapter.generate([sampled, greedy], seed=5)
    seeds = {r.body["prompt"]: r.body["seed"] for r in server.completion_records()}
    assert seeds == {"abc": derive_seed(5, sampled.key(), 0), "xyz": derive_seed(0, greedy.key(), 0)}
    no_seed = adapter_for(server, loglikelihood=False, chat=False, send_seed=False)
    no_seed.generate([gen("no seed here")], seed=5)
    assert "seed" not in server.completion_records()[-1].body


def test_repeated_runs_give_identical_samples(server: FaultServer) -> None:
    requests = [gen(f"prompt {i}", n=3, temperature=1.0) for i in range(5)]
    first = adapter_for(server, loglikelihood=False, chat=False).generate(requests, seed=11)
    second = adapter_for(server, loglikelihood=False, chat=False).generate(requests, seed=11)
    other_seed = adapter_for(server, loglikelihood=False, chat=False).generate(requests, seed=12)
    assert first == second
    assert first != other_seed
    assert all(len(c.texts) == 3 and c.error is None for c in first)


def test_n_is_sent_once_when_the_server_honours_it(server: FaultServer) -> None:
    adapter = adapter_for(server, loglikelihood=False, chat=False)
    (completion,) = adapter.generate([gen("k samples", n=4, temperature=1.0)], seed=1)
    posts = server.completion_records()
    assert len(posts) == 1 and posts[0].body["n"] == 4
    assert completion.texts == [sample_text("k samples", posts[0].body, i) for i in range(4)]
    assert adapter.info().extra["server_n"] is True


def test_a_server_that_ignores_n_is_detected_and_sampled_by_repeated_requests() -> None:
    with FaultServer(behaviour=Behaviour(honour_n=False)) as server:
        adapter = adapter_for(server, loglikelihood=False, chat=False, concurrency=1)
        (first,) = adapter.generate([gen("first", n=3, temperature=1.0)], seed=2)
        (second,) = adapter.generate([gen("second", n=3, temperature=1.0)], seed=2)
        bodies = [r.body for r in server.completion_records()]
    assert [(b["prompt"], b["n"]) for b in bodies] == [("first", 3), ("first", 1), ("first", 1)] + [
        ("second", 1)
    ] * 3
    assert len(first.texts) == 3 and len(second.texts) == 3
    assert len({b["seed"] for b in bodies if b["prompt"] == "second"}) == 3  # each sample has its own seed
    assert second.texts == [sample_text("second", b, 0) for b in bodies if b["prompt"] == "second"]
    assert adapter.info().extra["server_n"] is False


def test_stop_sequences_are_applied_even_when_the_server_ignores_them(server: FaultServer) -> None:
    adapter = adapter_for(server, loglikelihood=False, chat=False)
    full = adapter.generate([gen("stop test", max_new_tokens=16)], seed=0)[0].texts[0]
    marker = full.split()[1]
    (cut,) = adapter.generate([gen("stop test", max_new_tokens=16, stop=(marker,))], seed=0)
    assert cut.texts == [full[: full.index(marker)]]


@pytest.mark.parametrize("stream", [False, True])
def test_streamed_and_plain_answers_agree(server: FaultServer, stream: bool) -> None:
    requests = [
        gen("stream me", n=2, temperature=1.0),
        gen((ChatMessage("user", "and me"),), max_new_tokens=12),
    ]
    plain = adapter_for(server, loglikelihood=False, chat=True).generate(requests, seed=3)
    streamed = adapter_for(server, loglikelihood=False, chat=True, stream=stream).generate(requests, seed=3)
    assert streamed == plain


# -- log-likelihood --------------------------------------------------------------------------


def test_loglikelihood_sums_the_servers_continuation_token_logprobs(server: FaultServer) -> None:
    adapter = adapter_for(server, chat=False)
    (completion,) = adapter.loglikelihood(
        [Request("loglikelihood", "The nurse said", continuations=(" she was", " he"))]
    )
    she = token_logprob("The nurse said", " she")[0] + token_logprob("The nurse said she", " was")[0]
    he = token_logprob("The nurse said", " he")[0]
    assert completion.logprobs == pytest.approx([she, he])
    assert completion.token_counts == [2, 1]
    greedy_she = all(
        token_logprob(p, t)[0] == token_logprob(p, t)[1]
        for p, t in [("The nurse said", " she"), ("The nurse said she", " was")]
    )
    assert completion.greedy == [
        greedy_she,
        token_logprob("The nurse said", " he")[0] == token_logprob("The nurse said", " he")[1],
    ]


# -- failures --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "stream", "message"),
    [
        ("malformed", False, "malformed JSON in the response body"),
        ("malformed", True, "malformed JSON in stream event 1"),
        ("empty_choices", False, "empty 'choices' list in the response"),
        ("empty_choices", True, "empty 'choices' list in the response"),
        ("truncated", False, "truncated response body"),
        ("truncated", True, "truncated stream"),
        ("drop", False, "connection error: ServerDisconnectedError: Server disconnected"),
        ("server_error", False, "HTTP 500: internal error"),
        ("rate_limit", False, "HTTP 429: rate limit reached"),
        ("timeout", False, r"timed out after 0.3 s \(model.timeout_s\)"),
        ("timeout", True, r"timed out after 0.3 s \(model.timeout_s\)"),
    ],
)
def test_each_failure_has_a_clear_message_and_fails_closed(fault: str, stream: bool, message: str) -> None:
    faults = FaultConfig(schedule=(fault, fault), hang_s=3.0)
    timeout_s = (
        0.3 if fault == "timeout" else 10.0
    )  # only the stalling fault may time out, however busy the machine
    with FaultServer(faults) as server:
        adapter = adapter_for(
            server, loglikelihood=False, chat=False, max_retries=1, stream=stream, timeout_s=timeout_s
        )
        (completion,) = adapter.generate([gen("fail me", max_new_tokens=12)], seed=0)
    assert completion.texts == []
    assert completion.error is not None
    assert completion.error.startswith("POST /completions failed after 2 attempts; last error: ")
    assert re.search(message, completion.error), completion.error


@pytest.mark.parametrize(
    "fault", ["malformed", "empty_choices", "truncated", "drop", "server_error", "rate_limit", "timeout"]
)
def test_one_fault_is_retried_into_the_clean_answer(fault: str) -> None:
    with FaultServer() as clean_server:
        clean = adapter_for(clean_server, loglikelihood=False, chat=False).generate(
            [gen("retry me", n=2, temperature=1.0)], 4
        )
    with FaultServer(FaultConfig(schedule=(fault,), hang_s=6.0)) as server:
        timeout_s = 2.0 if fault == "timeout" else 30.0  # a clean answer never times out under load
        adapter = adapter_for(server, loglikelihood=False, chat=False, timeout_s=timeout_s)
        assert adapter.generate([gen("retry me", n=2, temperature=1.0)], 4) == clean
        assert server.state.faults == {fault: 1}
        assert adapter.client.stats["retries"] == 1


def test_client_errors_are_not_retried_and_name_the_server_reason(server: FaultServer) -> None:
    adapter = adapter_for(server, model="m", loglikelihood=False, chat=False)
    server.behaviour.chat = False
    (completion,) = adapter.generate([gen((ChatMessage("user", "hi"),))], seed=0)
    assert completion.error == "POST /chat/completions failed: HTTP 400: this model has no chat template"
    assert len(server.completion_records()) == 1


def test_retry_after_is_honoured() -> None:
    with FaultServer(FaultConfig(schedule=("rate_limit",), retry_after="1")) as server:
        adapter = adapter_for(server, model="m", loglikelihood=False, chat=False)
        (completion,) = adapter.generate([gen("wait for it")], seed=0)
        first, second = server.completion_records()
    assert completion.error is None and first.fault == "rate_limit" and second.fault is None
    assert second.arrived - first.arrived >= 1.0


def test_retry_after_longer_than_the_limit_gives_up_at_once() -> None:
    with FaultServer(FaultConfig(schedule=("rate_limit",), retry_after="600")) as server:
        adapter = adapter_for(server, model="m", loglikelihood=False, chat=False, max_retry_wait_s=30)
        (completion,) = adapter.generate([gen("too long")], seed=0)
        assert len(server.completion_records()) == 1
    assert "asked to wait 600 s" in completion.error and "model.max_retry_wait_s=30" in completion.error


def test_concurrency_is_bounded_and_used() -> None:
    with FaultServer(behaviour=Behaviour(latency_s=0.2)) as server:
        adapter = adapter_for(server, model="m", loglikelihood=False, chat=False, concurrency=3)
        completions = adapter.generate([gen(f"p{i}") for i in range(12)], seed=0)
        assert server.state.max_in_flight == 3
    assert adapter.client.stats["max_in_flight"] == 3
    assert all(c.error is None for c in completions)


def test_requests_per_minute_limit_spaces_requests() -> None:
    with FaultServer() as server:
        adapter = adapter_for(server, model="m", loglikelihood=False, chat=False, requests_per_minute=600)
        adapter.capabilities()
        started = time.monotonic()
        adapter.generate([gen(f"p{i}") for i in range(20)], seed=0)  # 10/s with a burst of 10
        last = max(r.arrived for r in server.completion_records())
    assert last - started >= 0.95  # the 20th request waits for 10 refills at 10 per second


def test_progress_reports_every_request(server: FaultServer) -> None:
    seen: list[int] = []
    adapter_for(server, model="m", loglikelihood=False, chat=False).generate(
        [gen(f"p{i}") for i in range(7)], 0, seen.append
    )
    assert sum(seen) == 7


def test_params_and_info_hold_no_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAI_TEST_KEY", "sk-planted-000")
    with FaultServer(behaviour=Behaviour(api_key="sk-planted-000")) as server:
        adapter = adapter_for(server, api_key_env="RAI_TEST_KEY")
        info = adapter.info()
        assert server.state.records[0].authorization == "Bearer sk-planted-000"
    assert "sk-planted-000" not in repr(asdict(adapter.params)) + repr(info) + repr(adapter.client.stats)


def test_a_custom_key_header_carries_the_bare_key(
    monkeypatch: pytest.MonkeyPatch, server: FaultServer
) -> None:
    monkeypatch.setenv("RAI_TEST_KEY", "azure-style-key")
    adapter_for(
        server, api_key_env="RAI_TEST_KEY", api_key_header="api-key", loglikelihood=False, chat=False
    ).probe()
    headers = server.state.records[0].headers
    assert headers["api-key"] == "azure-style-key" and "authorization" not in headers
