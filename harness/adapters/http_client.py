"""A resilient async JSON-over-HTTP client shared by HTTP model adapters.

It does the parts every provider needs, so that a provider adapter only builds payloads and
reads answers:

* bounded concurrency (at most ``concurrency`` requests in flight, one connection each);
* a per-request deadline covering connect, upload, server time and the whole response body;
* retries of transient failures with jittered exponential backoff, honouring ``Retry-After``
  (see :mod:`harness.adapters.http_retry`); a ``Retry-After`` also pauses every other request
  of the client until it has passed, since they share the server's quota;
* optional client-side requests/tokens-per-minute limits (:mod:`harness.adapters.http_ratelimit`);
* JSON bodies and Server-Sent-Event streams, where a malformed body or a stream that ends without
  its terminator is a transient, retried failure with a clear message;
* secret redaction: every error message is scrubbed of the secrets the client holds (the API
  key, a netrc or proxy password) before it is shortened or leaves this module, because servers
  sometimes echo credentials back (:class:`harness.secrets.Redactor`).

A request that still fails after its retries raises :class:`RequestFailed`; the adapter turns it
into ``Completion.failed(message)`` (fail closed). The client is synchronous from the outside:
:meth:`ResilientClient.run` drives one event loop per batch.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol, TypeVar

from harness.adapters.http_ratelimit import RateLimiter
from harness.adapters.http_retry import (
    PermanentError,
    RetryPolicy,
    TransientError,
    is_retryable_status,
    parse_retry_after,
)
from harness.model import ProgressCallback
from harness.secrets import Redactor, url_password
from harness.types import Completion

LOGGER = logging.getLogger(__name__)
T = TypeVar("T")
SNIPPET = 200
"""Characters of a server's error text kept in a message (after redaction)."""


class RequestFailed(Exception):
    """A request that failed for good (after its retries, or at once when not retryable).

    ``transient`` is True when the last failure was a transient one (retries ran out, or the
    server asked for a longer wait than allowed); ``status`` is the HTTP status of a
    non-retryable answer.
    """

    def __init__(self, message: str, *, transient: bool, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.transient = transient
        self.status = status


class StreamParser(Protocol[T]):
    """Consumes the JSON events of one streamed response and builds its result."""

    def feed(self, event: dict[str, Any]) -> None:
        """Take one ``data:`` event (already parsed from JSON)."""

    def result(self) -> T:
        """The result once the terminator arrived; may raise TransientError for bad content."""


def server_message(body: bytes, redact: Redactor) -> str:
    """The human part of an error body (OpenAI-style ``error.message``, or the body), redacted, then cut."""
    text = body.decode("utf-8", errors="replace")
    try:
        parsed = json.loads(text)
    except json.JSONDecodeError:
        return redact.cut(text, SNIPPET).strip() or "(empty body)"
    if isinstance(parsed, dict):
        error = parsed.get("error", parsed.get("detail", parsed))
        if isinstance(error, dict) and "message" in error:
            return redact.cut(str(error["message"]), SNIPPET)
        return redact.cut(str(error), SNIPPET)
    return redact.cut(text, SNIPPET)


def parse_json_body(body: bytes, redact: Redactor) -> dict[str, Any]:
    """Decode a JSON object body; anything else is a transient 'malformed JSON' failure."""
    return json_object(body.decode("utf-8", errors="replace"), "the response body", redact)


def json_object(text: str, what: str, redact: Redactor) -> dict[str, Any]:
    """``text`` as a JSON object; anything else is a transient failure naming ``what`` and how it starts."""
    try:
        parsed = json.loads(text)
    except json.JSONDecodeError as exc:
        raise TransientError(
            f"malformed JSON in {what} ({exc.msg} at character {exc.pos}); "
            f"it starts with {redact.cut(text, 60)!r}"
        ) from exc
    if not isinstance(parsed, dict):
        raise TransientError(f"malformed response: {what} is not a JSON object (got {type(parsed).__name__})")
    return parsed


def _usage_tokens(body: dict[str, Any]) -> int | None:
    usage = body.get("usage")
    if isinstance(usage, dict) and isinstance(usage.get("total_tokens"), int):
        return int(usage["total_tokens"])
    return None


class ResilientClient:
    """Concurrency-bounded, retrying, rate-limited JSON client for one base URL."""

    def __init__(
        self,
        base_url: str,
        *,
        headers: dict[str, str],
        secrets: Iterable[str | None],
        policy: RetryPolicy,
        limiter: RateLimiter,
        concurrency: int,
        timeout_s: float,
        auth_hint: str = "",
    ) -> None:
        if concurrency < 1:
            raise ValueError(f"concurrency must be >= 1, got {concurrency}")
        self.base_url = base_url.rstrip("/")
        self._headers = headers
        self.redact = Redactor(secrets)
        self.policy = policy
        self.limiter = limiter
        self.concurrency = concurrency
        self.timeout_s = timeout_s
        self.auth_hint = auth_hint
        self._http: Any = None
        self._proxy: dict[str, Any] = {}
        self._gate: asyncio.Semaphore | None = None
        self._resume_at = 0.0
        self._in_flight = 0
        self.stats: dict[str, Any] = {"attempts": 0, "retries": 0, "failed": 0, "max_in_flight": 0}
        self.transient_reasons: Counter[str] = Counter()
        """Transient failures (retried or final) by category: HTTP status, timed out, malformed, ..."""

    @property
    def job_limit(self) -> int:
        """How many jobs :func:`complete_all` should run at once: twice the connection limit.

        A job waiting out a retry back-off releases its connection slot but keeps its worker;
        the spare workers keep the slots busy meanwhile, while the gate still caps the requests
        in flight at ``concurrency``.
        """
        return 2 * self.concurrency

    # -- running -------------------------------------------------------------------------------

    def run(self, factory: Callable[[], Awaitable[T]]) -> T:
        """Run ``factory()`` on a fresh event loop with an open connection pool; return its value.

        From inside a running event loop (a notebook), the loop runs in a helper thread.
        """
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(self._session(factory))
        with ThreadPoolExecutor(max_workers=1) as pool:
            return pool.submit(asyncio.run, self._session(factory)).result()

    async def _session(self, factory: Callable[[], Awaitable[T]]) -> T:
        """Run ``factory()`` with an aiohttp session of at most ``concurrency`` connections.

        aiohttp, not httpx: at 64 requests in flight httpx's per-request cost (its connection
        pool re-checks every connection whenever a request starts or ends) held the adapter at
        0.10 of the ideal throughput, and at 0.79 with one client per connection; aiohttp's
        connector keeps it above 0.8 (benchmarks/http_throughput.py).
        """
        import aiohttp

        connector = aiohttp.TCPConnector(limit=self.concurrency, limit_per_host=0)
        headers, proxy, proxy_auth = await asyncio.to_thread(self._session_settings)
        async with aiohttp.ClientSession(
            headers=headers,
            connector=connector,
            timeout=aiohttp.ClientTimeout(total=self.timeout_s),
        ) as http:
            self._http = http
            # passed with each request: aiohttp 3.9 has no session-wide proxy
            self._proxy = {"proxy": proxy, "proxy_auth": proxy_auth}
            self._gate = asyncio.Semaphore(self.concurrency)
            try:
                return await factory()
            finally:
                self._http = None
                self._gate = None
                self._proxy = {}

    def _session_settings(self) -> tuple[dict[str, str], Any, Any]:
        """Headers (with a Basic login from ``~/.netrc``), proxy and proxy login; read once.

        The proxy comes from ``HTTPS_PROXY`` / ``HTTP_PROXY`` / ``NO_PROXY``. aiohttp's own
        ``trust_env=True`` reads the proxy variables and the netrc file again for every request,
        each in a worker thread: at 64 requests in flight that cost a third of the client's CPU
        (py-spy), so they are resolved here, once per session. A netrc login is used only when no
        other credential is configured. The netrc and proxy passwords join the redacted secrets.
        """
        from aiohttp import helpers
        from yarl import URL

        url = URL(self.base_url)
        try:
            proxy, proxy_auth = helpers.get_env_proxy_for_url(url)
        except LookupError:
            proxy, proxy_auth = None, None
        headers = dict(self._headers)
        has_header = any(k.lower() == "authorization" for k in headers)
        if url.host and not has_header:
            with contextlib.suppress(LookupError):
                login = helpers.basicauth_from_netrc(helpers.netrc_from_env(), url.host)
                headers["Authorization"] = login.encode()
                self.redact.add(login.password)
                self.redact.add(headers["Authorization"].split(" ", 1)[-1])  # its base64 form
        if proxy_auth is not None:
            self.redact.add(proxy_auth.password)
        self.redact.add(url_password(str(proxy or "")))
        return headers, proxy, proxy_auth

    # -- requests --------------------------------------------------------------------------------

    async def get_json(self, path: str, parse: Callable[[dict[str, Any]], T]) -> T:
        """GET ``path`` and parse its JSON body, with retries."""
        return await self._with_retries("GET", path, lambda: self._json_attempt("GET", path, None, parse), 0)

    async def post_json(
        self, path: str, payload: dict[str, Any], parse: Callable[[dict[str, Any]], T], estimated_tokens: int
    ) -> T:
        """POST ``payload`` to ``path`` and parse the JSON body, with retries."""
        return await self._with_retries(
            "POST", path, lambda: self._json_attempt("POST", path, payload, parse), estimated_tokens
        )

    async def post_stream(
        self,
        path: str,
        payload: dict[str, Any],
        parser_factory: Callable[[], StreamParser[T]],
        estimated_tokens: int,
    ) -> T:
        """POST ``payload`` and read a Server-Sent-Events stream ending in ``data: [DONE]``."""
        return await self._with_retries(
            "POST", path, lambda: self._stream_attempt(path, payload, parser_factory()), estimated_tokens
        )

    async def _with_retries(
        self,
        method: str,
        path: str,
        attempt: Callable[[], Awaitable[tuple[T, int | None]]],
        estimated_tokens: int,
    ) -> T:
        """Run ``attempt`` under the retry policy; a failure for good becomes :class:`RequestFailed`."""
        assert self._gate is not None, "requests must run inside ResilientClient.run"
        attempts = 0

        async def once() -> T:
            nonlocal attempts
            attempts += 1
            await self._wait_for_pause()
            await self.limiter.acquire(estimated_tokens)
            try:
                async with self._gate:
                    result, used_tokens = await self._timed(attempt)
            except TransientError as exc:
                self.transient_reasons[_reason(exc.message)] += 1
                if exc.retry_after is not None:  # the quota is shared: every request pauses
                    self._resume_at = max(self._resume_at, time.monotonic() + exc.retry_after)
                raise
            self.limiter.settle(estimated_tokens, used_tokens)
            return result

        def before_sleep(error: TransientError, seconds: float) -> None:
            self.stats["retries"] += 1
            reason = self.redact(error.message)
            LOGGER.debug("retrying %s %s in %.2f s after: %s", method, path, seconds, reason)

        try:
            try:
                return await once()  # most requests succeed at once: no retry machinery on that path
            except TransientError as exc:
                first: TransientError | None = exc

            async def again() -> T:
                nonlocal first
                if first is not None:  # the policy decides on the first failure like on any other
                    error, first = first, None
                    raise error
                return await once()

            return await self.policy.async_retrying(before_sleep)(again)
        except PermanentError as exc:
            self.stats["failed"] += 1
            raise RequestFailed(
                self.redact(f"{method} {path} failed: {exc.message}"), transient=False, status=exc.status
            ) from None
        except TransientError as exc:
            self.stats["failed"] += 1
            if self.policy.gives_up_on(exc.retry_after):
                message = (
                    f"{method} {path} failed: the server asked to wait {exc.retry_after:.0f} s before "
                    f"retrying ({exc.message}), longer than model.max_retry_wait_s="
                    f"{self.policy.max_retry_wait_s:g}"
                )
            else:
                tries = f"{attempts} attempt{'s' if attempts > 1 else ''}"
                message = f"{method} {path} failed after {tries}; last error: {exc.message}"
            raise RequestFailed(self.redact(message), transient=True) from None

    async def _wait_for_pause(self) -> None:
        while (remaining := self._resume_at - time.monotonic()) > 0:
            await asyncio.sleep(remaining)

    async def _timed(self, attempt: Callable[[], Awaitable[tuple[T, int | None]]]) -> tuple[T, int | None]:
        import aiohttp

        self.stats["attempts"] += 1
        self._in_flight += 1
        self.stats["max_in_flight"] = max(self.stats["max_in_flight"], self._in_flight)
        try:
            return await attempt()  # bounded by the session's total timeout (model.timeout_s)
        except asyncio.TimeoutError:
            raise TransientError(f"timed out after {self.timeout_s:g} s (model.timeout_s)") from None
        except aiohttp.ClientError as exc:
            raise TransientError(f"connection error: {type(exc).__name__}: {self.redact(str(exc))}") from None
        finally:
            self._in_flight -= 1

    def _check_status(self, status: int, headers: Any, body: bytes) -> None:
        if status < 300:
            return
        message = f"HTTP {status}: {server_message(body, self.redact)}"
        if is_retryable_status(status):
            raise TransientError(message, retry_after=parse_retry_after(dict(headers)))
        if status in (401, 403) and self.auth_hint:
            message = f"{message} ({self.auth_hint})"
        raise PermanentError(message, status=status)

    async def _json_attempt(
        self, method: str, path: str, payload: dict[str, Any] | None, parse: Callable[[dict[str, Any]], T]
    ) -> tuple[T, int | None]:
        import aiohttp

        async with self._http.request(method, self.base_url + path, json=payload, **self._proxy) as response:
            try:
                content = await response.read()
            except aiohttp.ClientPayloadError as exc:
                raise TransientError(
                    "truncated response body: the connection broke after the headers "
                    f"({type(exc).__name__}: {exc})"
                ) from None
        self._check_status(response.status, response.headers, content)
        body = parse_json_body(content, self.redact)
        return _checked(parse, body), _usage_tokens(body)

    async def _stream_attempt(
        self, path: str, payload: dict[str, Any], parser: StreamParser[T]
    ) -> tuple[T, int | None]:
        import aiohttp

        events = 0
        used_tokens: int | None = None
        async with self._http.post(self.base_url + path, json=payload, **self._proxy) as response:
            if response.status >= 300:
                self._check_status(response.status, response.headers, await response.read())
            try:
                async for raw_line in response.content:
                    line = raw_line.decode("utf-8", errors="replace").rstrip("\r\n")
                    if not line.startswith("data:"):
                        continue  # blank separators, comments and other SSE fields
                    data = line[5:].strip()
                    if data == "[DONE]":
                        return _checked(lambda _: parser.result(), None), used_tokens
                    event = json_object(data, f"stream event {events + 1}", self.redact)
                    if "error" in event:
                        raise TransientError(
                            "the server reported an error mid-stream: "
                            f"{server_message(data.encode(), self.redact)}"
                        )
                    events += 1
                    used_tokens = _usage_tokens(event) or used_tokens
                    _checked(parser.feed, event)
            except aiohttp.ClientPayloadError as exc:
                raise TransientError(
                    f"truncated stream: the connection broke after {events} events, before 'data: [DONE]' "
                    f"({type(exc).__name__}: {exc})"
                ) from None
        raise TransientError(
            f"truncated stream: the event stream ended after {events} events without 'data: [DONE]'"
        )


async def complete_all(
    jobs: Sequence[Callable[[], Awaitable[Completion]]],
    progress: ProgressCallback | None = None,
    limit: int | None = None,
) -> list[Completion]:
    """Run the jobs concurrently, at most ``limit`` at a time; results in order.

    A :class:`RequestFailed` becomes ``Completion.failed``: this is the fail-closed step of every
    HTTP adapter, where one request that fails for good is recorded as that request's error and
    never stops the batch. ``progress(1)`` is called as each job finishes. ``limit`` workers take
    the jobs in turn, rather than one task per job queueing at the connection gate: with thousands
    of jobs, creating and waking a task for each cost the event loop about a tenth of its time.
    """
    results: dict[int, Completion] = {}
    unclaimed = iter(range(len(jobs)))  # shared by the workers: each index is taken once

    async def worker() -> None:
        for index in unclaimed:
            try:
                results[index] = await jobs[index]()
            except RequestFailed as exc:
                results[index] = Completion.failed(exc.message)
            if progress is not None:
                progress(1)

    await asyncio.gather(*(worker() for _ in range(min(limit or len(jobs), len(jobs)))))
    return [results[index] for index in range(len(jobs))]


def _checked(parse: Callable[[Any], T], value: Any) -> T:
    """Run a response parser; an unexpected shape (wrong types, missing keys) is a transient error."""
    try:
        return parse(value)
    except (KeyError, IndexError, TypeError, ValueError, AttributeError) as exc:
        raise TransientError(f"invalid response: {type(exc).__name__}: {exc}") from None


def _reason(message: str) -> str:
    """A short category of a failure message, for the retry statistics."""
    if message.startswith("HTTP "):
        return message.split(":", 1)[0]
    for category in ("timed out", "connection error", "malformed", "truncated", "empty 'choices'"):
        if message.startswith(category):
            return category
    return "invalid response"
