"""What the HTTP scorers (``moderation``, ``guard_model``) share: settings, the client, fail-closed batches.

Both scorers send requests through the project's :class:`~harness.adapters.http_client.ResilientClient`,
so they get the same bounded concurrency, per-request deadline, retries with jittered backoff that
honour ``Retry-After``, optional requests-per-minute limit and secret redaction as the ``openai``
model adapter. What a scorer adds is the fail-closed step: a request that still fails after its
retries gives the texts it carried NaN scores with the reason in :attr:`Scorer.failures` (the
scenario counts their instances as errors; a failure is never "safe"), and a rejected key stops the
run with one :class:`~harness.errors.ConfigError` that names the variable, never the key.

The API key is read from the environment variable named by ``api_key_env``; it lives only in the
client's headers. The scorer's identity names the endpoint by its public URL (no login, query or
fragment) and never includes the key.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar
from urllib.parse import urlsplit

from harness.adapters.http_client import RequestFailed, ResilientClient
from harness.adapters.http_ratelimit import RateLimiter
from harness.adapters.http_retry import RetryPolicy
from harness.adapters.openai import public_url
from harness.errors import ConfigError
from harness.scorers.base import ScorerParams

T = TypeVar("T")
AUTH_STATUSES = (401, 403)


@dataclass
class EndpointParams(ScorerParams):
    """Connection settings shared by the HTTP scorers (``batch_size``: texts per batch of requests)."""

    base_url: str = "http://127.0.0.1:8000/v1"
    model: str | None = None
    api_key_env: str | None = None
    api_key_header: str = "Authorization"
    concurrency: int = 4
    timeout_s: float = 60.0
    max_retries: int = 4
    backoff_initial_s: float = 0.5
    backoff_max_s: float = 30.0
    max_retry_wait_s: float = 120.0
    requests_per_minute: float | None = None


def validate_endpoint(params: EndpointParams, where: str) -> str:
    """Check the connection settings (one message naming the key); returns the public URL."""
    parts = urlsplit(params.base_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(
            f"{where}.base_url must be an http(s) URL such as http://127.0.0.1:8000/v1, "
            f"got {public_url(params.base_url)!r}"
        )
    if parts.query or parts.fragment:
        raise ConfigError(f"{where}.base_url must not contain a query string or fragment")
    if not params.model:
        raise ConfigError(
            f"{where}.model: name the model the server serves (it enters the scorer's identity)"
        )
    checks = {
        "batch_size": params.batch_size >= 1,
        "concurrency": params.concurrency >= 1,
        "timeout_s": params.timeout_s > 0,
        "max_retries": params.max_retries >= 0,
        "requests_per_minute": params.requests_per_minute is None or params.requests_per_minute > 0,
    }
    for key, ok in checks.items():
        if not ok:
            raise ConfigError(f"{where}.{key} has an invalid value {getattr(params, key)!r}")
    return public_url(params.base_url)


class EndpointClient:
    """A :class:`ResilientClient` for one scorer endpoint, and the fail-closed way to run requests."""

    def __init__(self, params: EndpointParams, where: str) -> None:
        self.where = where
        self.url = validate_endpoint(params, where)
        self.key_env = params.api_key_env
        key = None
        if params.api_key_env:
            key = os.environ.get(params.api_key_env, "").strip()
            if not key:
                raise ConfigError(
                    f"{where}.api_key_env: the environment variable {params.api_key_env} is not set; export "
                    f"the endpoint's API key in it, or set {where}.api_key_env=null for a server without one"
                )
        headers = {}
        if key:
            bearer = params.api_key_header.lower() == "authorization"
            headers[params.api_key_header] = f"Bearer {key}" if bearer else key
        if urlsplit(params.base_url).password is not None:
            raise ConfigError(
                f"{where}.base_url holds a login; put it in ~/.netrc (or the key in {where}.api_key_env) "
                "so that it is never written to the run's files"
            )
        self.client = ResilientClient(
            self.url,
            headers=headers,
            secrets=[key],
            auth_hint=f"check the key in ${params.api_key_env} ({where}.api_key_env)" if key else "",
            policy=RetryPolicy(
                max_retries=params.max_retries,
                backoff_initial_s=params.backoff_initial_s,
                backoff_max_s=params.backoff_max_s,
                max_retry_wait_s=params.max_retry_wait_s,
            ),
            limiter=RateLimiter(params.requests_per_minute, None),
            concurrency=params.concurrency,
            timeout_s=params.timeout_s,
        )

    def run_all(self, jobs: Sequence[Callable[[], Awaitable[T]]]) -> list[T | RequestFailed]:
        """Run the jobs concurrently (the client bounds how many are in flight); results in order.

        A request that fails for good is returned as its :class:`RequestFailed` for the caller to
        record against its texts. A rejected key (HTTP 401/403) raises :class:`ConfigError`: every
        other request would fail the same way.
        """

        async def one(job: Callable[[], Awaitable[T]]) -> T | RequestFailed:
            try:
                return await job()
            except RequestFailed as exc:
                return exc

        async def every() -> list[T | RequestFailed]:
            return list(await asyncio.gather(*(one(job) for job in jobs)))

        results = self.client.run(every) if jobs else []
        for result in results:
            if isinstance(result, RequestFailed) and result.status in AUTH_STATUSES:
                hint = (
                    f"check the key in ${self.key_env} ({self.where}.api_key_env)"
                    if self.key_env
                    else f"the server wants a key: set {self.where}.api_key_env"
                )
                raise ConfigError(f"{self.where}: {self.url} rejected the request ({result.message}); {hint}")
        return results
