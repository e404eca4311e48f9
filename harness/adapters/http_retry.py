"""The one retry policy of every HTTP client (model APIs, scorer APIs, citation resolvers), on tenacity.

Transient failures (HTTP 408, 409, 429 and 5xx, timeouts, dropped connections and malformed
responses) are retried with capped exponential backoff and *full jitter*: the wait before retry
``a`` (0-based) is uniform in ``[0, min(backoff_max_s, backoff_initial_s * 2**a)]`` (Brooker,
"Exponential Backoff And Jitter", AWS Architecture Blog, 2015). Jitter spreads the retries of
many concurrent requests so that they do not hit a recovering server in lock-step.

When the server says how long to wait (``Retry-After`` in seconds or as an HTTP date, or
OpenAI's ``retry-after-ms``), that wait is used instead, because the server knows its own
rate-limit window; a wait longer than ``max_retry_wait_s`` ends the request with an error rather
than stalling the whole run.

A client classifies each failure as :class:`TransientError` (retried) or :class:`PermanentError`
(raised at once: a bad request, an unknown model, a rejected key) and runs its attempts under
:meth:`RetryPolicy.retrying` (synchronous) or :meth:`RetryPolicy.async_retrying`; tenacity does
the looping, stopping and sleeping, so every client retries the same way.
"""

from __future__ import annotations

import asyncio
import email.utils
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import tenacity

RETRYABLE_STATUS = frozenset({408, 409, 429})
"""Client-error statuses that are transient (timeout, conflict, rate limit); 5xx are added by rule."""


def is_retryable_status(status: int) -> bool:
    """True for statuses worth retrying: 408, 409, 429 and every 5xx."""
    return status in RETRYABLE_STATUS or status >= 500


class TransientError(Exception):
    """A failure that may go away on retry; ``retry_after`` is the server's requested wait (s)."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after


class PermanentError(Exception):
    """A failure that retrying cannot fix (bad request, unknown model, rejected credentials)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def parse_retry_after(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """The wait a response asks for, in seconds, or None when it gives none.

    ``retry-after-ms`` (milliseconds, sent by OpenAI) wins over ``Retry-After``, which is either
    delay-seconds or an HTTP date (RFC 9110, section 10.2.3). Negative waits become zero.
    """
    lowered = {key.lower(): value for key, value in headers.items()}
    millis = lowered.get("retry-after-ms")
    if millis is not None:
        try:
            return max(0.0, float(millis) / 1000.0)
        except ValueError:
            pass
    value = lowered.get("retry-after")
    if value is None:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


@dataclass(frozen=True)
class RetryPolicy:
    """How many times to retry and how long to wait (see the module docstring)."""

    max_retries: int = 6
    backoff_initial_s: float = 0.5
    backoff_max_s: float = 30.0
    max_retry_wait_s: float = 120.0
    rng: random.Random = field(default_factory=random.Random, compare=False, repr=False)
    """Source of the jitter; jitter only changes timing, never results."""

    def delay(self, attempt: int, retry_after: float | None, rng: random.Random | None = None) -> float:
        """Seconds to wait before retry number ``attempt`` (0-based).

        The server's ``retry_after`` is honoured exactly when given; otherwise full jitter over
        the capped exponential window.
        """
        if retry_after is not None:
            return retry_after
        window = min(self.backoff_max_s, self.backoff_initial_s * (2.0**attempt))
        return (rng or self.rng).uniform(0.0, window)

    def gives_up_on(self, retry_after: float | None) -> bool:
        """True when the server asks for a longer wait than the run is willing to spend."""
        return retry_after is not None and retry_after > self.max_retry_wait_s

    def _arguments(self, before_sleep: Callable[[TransientError, float], None] | None) -> dict[str, Any]:
        """tenacity's settings for this policy: retry transient errors only, re-raise the last one."""

        def last_error(state: tenacity.RetryCallState) -> TransientError:
            error = state.outcome.exception() if state.outcome is not None else None
            assert isinstance(error, TransientError)
            return error

        def wait(state: tenacity.RetryCallState) -> float:
            return self.delay(state.attempt_number - 1, last_error(state).retry_after)

        def server_wait_too_long(state: tenacity.RetryCallState) -> bool:
            return self.gives_up_on(last_error(state).retry_after)

        def notify(state: tenacity.RetryCallState) -> None:
            if before_sleep is not None and state.next_action is not None:
                before_sleep(last_error(state), state.next_action.sleep)

        return {
            "retry": tenacity.retry_if_exception_type(TransientError),
            "stop": tenacity.stop_after_attempt(self.max_retries + 1) | server_wait_too_long,
            "wait": wait,
            "before_sleep": notify,
            "reraise": True,
        }

    def retrying(
        self,
        sleep: Callable[[float], None] = time.sleep,
        before_sleep: Callable[[TransientError, float], None] | None = None,
    ) -> tenacity.Retrying:
        """A tenacity controller for synchronous attempts (``for attempt in policy.retrying(): ...``).

        The last :class:`TransientError` is re-raised when the retries run out or the server asks
        for too long a wait; a :class:`PermanentError` (or any other exception) is raised at once.
        ``before_sleep(error, seconds)`` is called before each wait.
        """
        return tenacity.Retrying(sleep=sleep, **self._arguments(before_sleep))

    def async_retrying(
        self, before_sleep: Callable[[TransientError, float], None] | None = None
    ) -> tenacity.AsyncRetrying:
        """The same controller for coroutines (``async for attempt in policy.async_retrying(): ...``)."""
        return tenacity.AsyncRetrying(sleep=asyncio.sleep, **self._arguments(before_sleep))
