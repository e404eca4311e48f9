"""The ``openai`` adapter: any server that speaks the OpenAI HTTP protocol.

OpenAI itself, vLLM, TGI, llama.cpp (``llama-cpp-python[server]`` or ``llama-server``), Ollama and
in-house gateways all accept ``POST {base_url}/completions`` and ``POST {base_url}/chat/completions``.
Text prompts go to the completions endpoint and chat prompts to the chat endpoint
(``model.endpoint`` can force one of them).

At start the adapter *probes* the server once and caches the answer for its lifetime:

* ``GET /models`` checks that the server is reachable and the key accepted (a bad key or an
  unreachable server is one clear :class:`~harness.errors.AdapterError`, not a run of failures),
  and names the model when ``model.model`` is not set;
* a ``/completions`` request with ``echo`` and ``logprobs`` decides whether ``loglikelihood`` is
  offered (scenarios fall back to their generative protocol otherwise);
* a one-token chat request decides whether chat is offered.

A probe that the server refuses (an error status, an answer without log-probabilities) decides
"no". A probe that still fails transiently after its retries (an outage) decides nothing: it is
an :class:`~harness.errors.AdapterError`, never a silent "no" that would switch the protocol.

Requests run concurrently (at most ``model.concurrency`` in flight), with a per-request deadline,
retries with jittered exponential backoff that honour ``Retry-After``, and optional client-side
requests/tokens-per-minute limits (see :mod:`harness.adapters.http_client`). What still fails after
its retries becomes ``Completion.failed(message)`` (fail closed).

k samples use the ``n`` field. A server that returns fewer choices than asked (llama.cpp ignores
``n``) is detected on the first such answer, and from then on samples are separate requests,
each with its own seed. Seeds are sent per request (``seed``), derived from the run seed, the
request's content hash (or its shared ``sample_seed``) and the sample index, so repeated runs
are reproducible on servers that honour seeds; greedy requests use run seed 0, matching the
response cache's keys.

The API key is read from the environment variable named by ``model.api_key_env``, a Basic login
from ``~/.netrc``; a login in ``model.base_url`` or a key pasted into ``model.api_key_env`` is
refused (:mod:`harness.secrets`). The key is held only in the HTTP client's headers and scrubbed
from every error message; it never enters the parameters, :meth:`OpenAIAdapter.info`, logs or
results.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import urlsplit

from harness.adapters.http_client import RequestFailed, ResilientClient, complete_all
from harness.adapters.http_openai import (
    ChoiceStream,
    ContinuationScore,
    LogprobsMissing,
    Sampling,
    chat_messages,
    choice_texts,
    continuation_score,
    echo_payload,
    generation_payload,
    prompt_as_text,
    provenance,
)
from harness.adapters.http_ratelimit import RateLimiter, estimate_tokens
from harness.adapters.http_retry import PermanentError, RetryPolicy
from harness.errors import AdapterError, ConfigError
from harness.model import AdapterParams, ModelAdapter, ProgressCallback, cut_at_stop
from harness.secrets import check_config
from harness.types import Capability, Completion, ModelInfo, Request, stable_hash

LOGGER = logging.getLogger(__name__)
ENDPOINTS = ("auto", "completions", "chat")
PROBE_CONTEXT = "The quick brown fox"
PROBE_CONTINUATION = " jumps over the lazy dog."


@dataclass
class OpenAIParams(AdapterParams):
    """Settings of the ``openai`` adapter (``conf/model/openai.yaml`` lists every one).

    ``loglikelihood``, ``chat`` and ``server_n`` are None to let the probe decide, or a boolean
    to force the answer (skipping that probe).
    """

    name: str = "openai"
    model: str | None = None
    base_url: str = "https://api.openai.com/v1"
    api_key_env: str | None = "OPENAI_API_KEY"
    api_key_header: str = "Authorization"
    endpoint: str = "auto"
    stream: bool = False
    concurrency: int = 8
    timeout_s: float = 60.0
    max_retries: int = 6
    backoff_initial_s: float = 0.5
    backoff_max_s: float = 30.0
    max_retry_wait_s: float = 120.0
    requests_per_minute: float | None = None
    tokens_per_minute: float | None = None
    loglikelihood: bool | None = None
    chat: bool | None = None
    server_n: bool | None = None
    send_seed: bool = True
    max_tokens_field: str = "max_tokens"
    extra_body: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ProbeResult:
    """What the start-up probe learned about the server (cached for the adapter's lifetime)."""

    model_id: str
    loglikelihood: bool
    loglikelihood_reason: str
    chat: bool
    chat_reason: str
    server: dict[str, str]


def derive_seed(seed: int, request_key: str, sample: int) -> int:
    """A per-request seed in [0, 2**31) from the run seed, request hash and sample index."""
    return int(stable_hash([seed, request_key, sample])[:8], 16) & 0x7FFFFFFF


def public_url(base_url: str) -> str:
    """The base URL without user name, password, query or fragment (safe for provenance)."""
    parts = urlsplit(base_url)
    host = parts.hostname or ""
    if ":" in host:  # an IPv6 literal keeps its brackets
        host = f"[{host}]"
    if parts.port:
        host = f"{host}:{parts.port}"
    return f"{parts.scheme}://{host}{parts.path.rstrip('/')}"


def _validate(params: OpenAIParams) -> None:
    if params.endpoint not in ENDPOINTS:
        raise ConfigError(f"model.endpoint must be one of {', '.join(ENDPOINTS)}, got {params.endpoint!r}")
    parts = urlsplit(params.base_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(
            "model.base_url must be an http(s) URL such as http://127.0.0.1:8000/v1, "
            f"got {public_url(params.base_url)!r}"
        )
    if parts.query or parts.fragment:
        raise ConfigError("model.base_url must not contain a query string or fragment")
    check_config({"model": asdict(params)})
    checks = {
        "concurrency": params.concurrency >= 1,
        "timeout_s": params.timeout_s > 0,
        "max_retries": params.max_retries >= 0,
        "backoff_initial_s": params.backoff_initial_s >= 0,
        "backoff_max_s": params.backoff_max_s >= 0,
        "max_retry_wait_s": params.max_retry_wait_s >= 0,
        "requests_per_minute": params.requests_per_minute is None or params.requests_per_minute > 0,
        "tokens_per_minute": params.tokens_per_minute is None or params.tokens_per_minute > 0,
    }
    for key, ok in checks.items():
        if not ok:
            raise ConfigError(
                f"model.{key} has an invalid value {getattr(params, key)!r}: see docs/openai_adapter.md"
            )


def _read_api_key(params: OpenAIParams) -> str | None:
    if not params.api_key_env:
        return None
    key = os.environ.get(params.api_key_env)
    if not key:
        raise AdapterError(
            f"the environment variable {params.api_key_env} (named by model.api_key_env) is not set. "
            "Export it with your API key, or pass model.api_key_env=null for a server without authentication."
        )
    return key


class OpenAIAdapter(ModelAdapter):
    """Adapter for OpenAI-compatible HTTP servers (see the module docstring)."""

    Params = OpenAIParams

    def __init__(self, params: OpenAIParams) -> None:
        super().__init__(params)
        self.params: OpenAIParams = params
        _validate(params)
        api_key = _read_api_key(params)
        headers = {}
        if api_key is not None:
            bearer = params.api_key_header.lower() == "authorization"
            headers[params.api_key_header] = f"Bearer {api_key}" if bearer else api_key
        self.public_url = public_url(params.base_url)
        self.client = ResilientClient(
            self.public_url,
            headers=headers,
            secrets=[api_key],
            policy=RetryPolicy(
                max_retries=params.max_retries,
                backoff_initial_s=params.backoff_initial_s,
                backoff_max_s=params.backoff_max_s,
                max_retry_wait_s=params.max_retry_wait_s,
            ),
            limiter=RateLimiter(params.requests_per_minute, params.tokens_per_minute),
            concurrency=params.concurrency,
            timeout_s=params.timeout_s,
            auth_hint=f"check the key in ${params.api_key_env} (model.api_key_env)"
            if params.api_key_env
            else "the server wants a key: set model.api_key_env to the variable that holds it",
        )
        self._probe: ProbeResult | None = None
        self._server_n = params.server_n
        self._fingerprints: set[str] = set()

    # -- probe -----------------------------------------------------------------------------------

    def probe(self) -> ProbeResult:
        """Probe the server once (see the module docstring) and return the cached result."""
        if self._probe is None:
            self._probe = self.client.run(self._probe_async)
            LOGGER.info(
                "openai adapter: %s model=%s loglikelihood=%s (%s) chat=%s (%s)",
                self.public_url,
                self._probe.model_id,
                self._probe.loglikelihood,
                self._probe.loglikelihood_reason,
                self._probe.chat,
                self._probe.chat_reason,
            )
        return self._probe

    async def _probe_async(self) -> ProbeResult:
        server: dict[str, str] = {}
        listed = await self._list_models()
        model_id = self.params.model or (listed[0] if listed else None)
        if not model_id:
            raise AdapterError(
                f"model.model is not set and {self.public_url}/models lists no model; pass model.model=<id>"
            )
        if listed and model_id not in listed:
            LOGGER.warning(
                "openai adapter: model %r is not among the models %s/models lists (%s); "
                "requests may fail with 404 if the name is wrong",
                model_id,
                self.public_url,
                ", ".join(listed[:10]),
            )
        if self.params.loglikelihood is not None:
            loglik, loglik_reason = self.params.loglikelihood, "set by model.loglikelihood"
        elif self.params.endpoint == "chat":
            loglik, loglik_reason = (
                False,
                "model.endpoint=chat (log-probabilities need the completions endpoint)",
            )
        else:
            loglik, loglik_reason = await self._probe_loglikelihood(model_id, server)
        if self.params.endpoint == "completions":
            chat, chat_reason = False, "model.endpoint=completions"
        elif self.params.chat is not None:
            chat, chat_reason = self.params.chat, "set by model.chat"
        else:
            chat, chat_reason = await self._probe_chat(model_id, server)
        return ProbeResult(model_id, loglik, loglik_reason, chat, chat_reason, server)

    async def _list_models(self) -> list[str]:
        def parse(body: dict[str, Any]) -> list[str]:
            data = body.get("data")
            if not isinstance(data, list):
                return []
            return [str(item["id"]) for item in data if isinstance(item, dict) and "id" in item]

        try:
            return await self.client.get_json("/models", parse)
        except RequestFailed as exc:
            if exc.status in (401, 403):
                raise AdapterError(
                    f"the server at {self.public_url} rejected the credentials: {exc.message}"
                ) from None
            if exc.transient:
                raise AdapterError(
                    f"cannot reach the model server at {self.public_url}: {exc.message}. "
                    "Start the server or fix model.base_url (it includes the /v1 prefix)."
                ) from None
            if exc.status == 404 and not self.public_url.endswith("/v1"):
                LOGGER.warning(
                    "openai adapter: %s/models is not found; base_url usually ends in /v1", self.public_url
                )
            return []  # the server has no model list; model.model names the model

    async def _probe_loglikelihood(self, model_id: str, server: dict[str, str]) -> tuple[bool, str]:
        def parse(body: dict[str, Any]) -> ContinuationScore:
            server.update(provenance(body))
            try:
                return continuation_score(body, PROBE_CONTEXT, PROBE_CONTINUATION)
            except LogprobsMissing as exc:
                raise PermanentError(exc.message) from None

        payload = echo_payload(model_id, PROBE_CONTEXT + PROBE_CONTINUATION, self.params.extra_body)
        try:
            await self.client.post_json(
                "/completions", payload, parse, estimate_tokens(len(PROBE_CONTEXT) * 2, 1)
            )
        except RequestFailed as exc:
            if exc.transient:
                raise self._undecided("log-likelihood", "model.loglikelihood", exc) from None
            return False, f"probe failed: {exc.message}"
        return True, "probe: /completions returns echoed prompt log-probabilities"

    async def _probe_chat(self, model_id: str, server: dict[str, str]) -> tuple[bool, str]:
        def parse(body: dict[str, Any]) -> list[str]:
            server.update(provenance(body))
            return choice_texts(body, chat=True)

        payload = {
            **self.params.extra_body,
            "model": model_id,
            "messages": chat_messages("Say hello."),
            self.params.max_tokens_field: 1,
            "temperature": 0.0,
        }
        try:
            await self.client.post_json("/chat/completions", payload, parse, estimate_tokens(10, 1))
        except RequestFailed as exc:
            if exc.transient:
                raise self._undecided("chat", "model.chat", exc) from None
            return False, f"probe failed: {exc.message}"
        return True, "probe: /chat/completions answers"

    def _undecided(self, capability: str, key: str, failure: RequestFailed) -> AdapterError:
        """A probe that failed after its retries: the server may well offer ``capability``.

        Deciding "no" would switch a scenario to another protocol (a resumed run to a protocol
        other than its recorded one) because of an outage, so the run stops instead.
        """
        return AdapterError(
            f"the {capability} probe of {self.public_url} could not decide, the server failed after "
            f"retries ({failure.message}); rerun when it answers, or set {key}=true|false to skip the probe"
        )

    # -- contract --------------------------------------------------------------------------------

    def capabilities(self) -> frozenset[Capability]:
        """Generation always; chat and log-likelihood as the probe (or the config) decided."""
        probe = self.probe()
        caps = {Capability.GENERATE}
        if probe.chat:
            caps.add(Capability.CHAT)
        if probe.loglikelihood:
            caps.add(Capability.LOGLIKELIHOOD)
        return frozenset(caps)

    def info(self) -> ModelInfo:
        """Provenance: the public base URL, the model id and what the server reports about itself.

        ``revision`` is the server's ``system_fingerprint`` (OpenAI's identifier of the backend
        configuration) when the probe saw one. The cache identity (``extra.behaviour``) covers
        the URL, the model, the endpoint mode and ``extra_body``: what decides the outputs.
        """
        probe = self.probe()
        fingerprint = probe.server.get("system_fingerprint")
        behaviour = stable_hash(
            [self.public_url, probe.model_id, self.params.endpoint, self.params.extra_body]
        )
        return ModelInfo(
            adapter="openai",
            model_id=probe.model_id,
            revision=fingerprint,
            extra={
                "behaviour": behaviour,
                "name": self.params.name,
                "base_url": self.public_url,
                "endpoint": self.params.endpoint,
                "server_model": probe.server.get("model"),
                "system_fingerprints_seen": sorted(
                    self._fingerprints | ({fingerprint} if fingerprint else set())
                ),
                "loglikelihood": probe.loglikelihood,
                "loglikelihood_reason": probe.loglikelihood_reason,
                "chat": probe.chat,
                "chat_reason": probe.chat_reason,
                "server_n": self._server_n,
            },
        )

    def generate(
        self, requests: Sequence[Request], seed: int, progress: ProgressCallback | None = None
    ) -> list[Completion]:
        """Sample ``n`` texts per request over HTTP; failures become ``Completion.failed``."""
        model_id = self.probe().model_id
        return self.client.run(
            lambda: complete_all(
                [lambda r=r: self._generate_one(model_id, r, seed) for r in requests],
                progress,
                self.client.job_limit,
            )
        )

    def loglikelihood(
        self, requests: Sequence[Request], progress: ProgressCallback | None = None
    ) -> list[Completion]:
        """Log-probabilities of each continuation via echoed prompt log-probabilities."""
        probe = self.probe()
        if not probe.loglikelihood:
            raise AdapterError(
                f"the server at {self.public_url} does not return prompt log-probabilities "
                f"({probe.loglikelihood_reason}); use the scenario's generative protocol, or set "
                "model.loglikelihood=true if the server supports echo with logprobs"
            )
        return self.client.run(
            lambda: complete_all(
                [lambda r=r: self._score_one(probe.model_id, r) for r in requests],
                progress,
                self.client.job_limit,
            )
        )

    def close(self) -> None:
        """Log the request statistics (attempts, retries, failures by reason) and ``n`` support."""
        LOGGER.info(
            "openai adapter: %s; transient failures by reason: %s; server honours n: %s",
            self.client.stats,
            dict(self.client.transient_reasons),
            self._server_n,
        )

    # -- generation ------------------------------------------------------------------------------

    def _is_chat(self, request: Request) -> bool:
        if self.params.endpoint == "auto":
            return request.is_chat
        return self.params.endpoint == "chat"

    async def _generate_one(self, model_id: str, request: Request, seed: int) -> Completion:
        params = request.params
        run_seed = 0 if params.temperature == 0 else seed
        key = request.sampling_key()
        if params.n > 1 and self._server_n is not False:
            texts = await self._sample(model_id, request, params.n, derive_seed(run_seed, key, 0))
            if len(texts) < params.n:
                if self._server_n is None:
                    LOGGER.info(
                        "openai adapter: the server returned %d of %d choices (it ignores 'n'); "
                        "sending samples as separate requests from now on",
                        len(texts),
                        params.n,
                    )
                self._server_n = False
            elif self._server_n is None:
                self._server_n = True
            texts = texts[: params.n]
        else:
            texts = []
        missing = range(len(texts), params.n)
        more = await asyncio.gather(
            *(self._sample(model_id, request, 1, derive_seed(run_seed, key, j)) for j in missing)
        )
        texts.extend(sample[0] for sample in more)
        return Completion(texts=[cut_at_stop(text, params.stop) for text in texts])

    async def _sample(self, model_id: str, request: Request, n: int, seed: int) -> list[str]:
        chat = self._is_chat(request)
        params = request.params
        sampling = Sampling(
            max_tokens=params.max_new_tokens,
            temperature=params.temperature,
            top_p=params.top_p,
            n=n,
            stop=params.stop,
            seed=seed if self.params.send_seed else None,
        )
        payload = generation_payload(
            model_id,
            request.prompt,
            chat,
            sampling,
            stream=self.params.stream,
            max_tokens_field=self.params.max_tokens_field,
            extra_body=self.params.extra_body,
        )
        path = "/chat/completions" if chat else "/completions"
        estimated = estimate_tokens(len(prompt_as_text(request.prompt)), params.max_new_tokens * n)
        if self.params.stream:
            return await self.client.post_stream(path, payload, lambda: ChoiceStream(chat), estimated)

        def parse(body: dict[str, Any]) -> list[str]:
            self._note(body)
            return choice_texts(body, chat)

        return await self.client.post_json(path, payload, parse, estimated)

    def _note(self, body: dict[str, Any]) -> None:
        fingerprint = provenance(body).get("system_fingerprint")
        if fingerprint:
            self._fingerprints.add(fingerprint)

    # -- log-likelihood --------------------------------------------------------------------------

    async def _score_one(self, model_id: str, request: Request) -> Completion:
        context = prompt_as_text(request.prompt)
        scores = await asyncio.gather(
            *(self._score_continuation(model_id, context, c) for c in request.continuations)
        )
        return Completion(
            logprobs=[s.logprob for s in scores],
            token_counts=[s.token_count for s in scores],
            greedy=[s.greedy for s in scores],
        )

    async def _score_continuation(self, model_id: str, context: str, continuation: str) -> ContinuationScore:
        def parse(body: dict[str, Any]) -> ContinuationScore:
            self._note(body)
            return continuation_score(body, context, continuation)

        payload = echo_payload(model_id, context + continuation, self.params.extra_body)
        estimated = estimate_tokens(len(context) + len(continuation), 1)
        return await self.client.post_json("/completions", payload, parse, estimated)
