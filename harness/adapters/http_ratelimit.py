"""Client-side rate limits (requests per minute and tokens per minute) for HTTP model APIs.

Each limit is a token bucket refilled continuously at ``limit / 60`` units per second whose
capacity is one second's worth (at least one request's cost), because providers enforce
per-minute quotas over much shorter windows (OpenAI documents that 60,000 requests/min may be
enforced as 1,000 requests/s), so a full minute's burst would be rejected anyway.

Acquiring reserves capacity at once and then sleeps for the debt: the bucket level may go
negative, and later callers queue behind it. Reservation happens without an ``await`` between
reading and writing the level, so coroutines of one event loop need no lock, and the state is
plain floats that survive from one event loop to the next (the adapter runs one loop per batch).
Token costs are estimates before the request (prompt characters / 4 + the completion budget);
:meth:`RateLimiter.settle` corrects the bucket with the ``usage`` the server reports.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable


class TokenBucket:
    """One continuously refilled bucket: ``per_minute`` units per minute."""

    def __init__(self, per_minute: float, clock: Callable[[], float] = time.monotonic) -> None:
        if per_minute <= 0:
            raise ValueError(f"a rate limit must be positive, got {per_minute}")
        self.rate = per_minute / 60.0
        self.capacity = max(1.0, self.rate)
        self._clock = clock
        self._level = self.capacity
        self._updated = clock()

    def _refill(self) -> None:
        now = self._clock()
        self._level = min(self.capacity, self._level + (now - self._updated) * self.rate)
        self._updated = now

    def reserve(self, cost: float) -> float:
        """Take ``cost`` units now; return how many seconds the caller must wait to repay them."""
        self._refill()
        self._level -= cost
        return 0.0 if self._level >= 0 else -self._level / self.rate

    def credit(self, amount: float) -> None:
        """Return (positive) or charge (negative) units after the true cost became known."""
        self._refill()
        self._level = min(self.capacity, self._level + amount)


class RateLimiter:
    """Requests-per-minute and tokens-per-minute limits; either may be None (unlimited)."""

    def __init__(
        self,
        requests_per_minute: float | None = None,
        tokens_per_minute: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.requests = TokenBucket(requests_per_minute, clock) if requests_per_minute else None
        self.tokens = TokenBucket(tokens_per_minute, clock) if tokens_per_minute else None

    def reserve(self, estimated_tokens: int) -> float:
        """Reserve one request and ``estimated_tokens``; return the wait in seconds."""
        wait = 0.0
        if self.requests is not None:
            wait = max(wait, self.requests.reserve(1.0))
        if self.tokens is not None:
            wait = max(wait, self.tokens.reserve(float(estimated_tokens)))
        return wait

    async def acquire(self, estimated_tokens: int) -> None:
        """Wait until one more request of ``estimated_tokens`` tokens fits both limits."""
        wait = self.reserve(estimated_tokens)
        if wait > 0:
            await asyncio.sleep(wait)

    def settle(self, estimated_tokens: int, actual_tokens: int | None) -> None:
        """Correct the token bucket with the server-reported usage of a finished request."""
        if self.tokens is not None and actual_tokens is not None:
            self.tokens.credit(float(estimated_tokens - actual_tokens))


def estimate_tokens(prompt_chars: int, completion_tokens: int) -> int:
    """A tokenizer-free estimate of a request's tokens: ~4 characters per prompt token.

    The 4-characters rule is OpenAI's published rule of thumb for English text; the server's
    ``usage`` later corrects the estimate (see :meth:`RateLimiter.settle`).
    """
    return prompt_chars // 4 + 1 + completion_tokens
