"""One daemon thread that runs submitted calls in order: the runner's generation worker.

Written here rather than taken from ``concurrent.futures.ThreadPoolExecutor``, whose threads are
not daemons: when a run fails or is interrupted while a window is generating, the interpreter
would wait for that generation to finish before exiting (minutes of GPU work, or a window of
billable API requests, after the user pressed Ctrl-C), and a live worker thread would also send
the CLI down its slow exit path. The standard library has no daemon executor.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

T = TypeVar("T")


class BackgroundWorker:
    """Runs calls one at a time, in submission order, on a single daemon thread."""

    def __init__(self, name: str) -> None:
        self._calls: queue.SimpleQueue[tuple[Future[Any], Callable[..., Any], tuple[Any, ...]] | None] = (
            queue.SimpleQueue()
        )
        self._thread = threading.Thread(target=self._serve, name=name, daemon=True)
        self._thread.start()

    def submit(self, call: Callable[..., T], *args: Any) -> Future[T]:
        """Queue ``call(*args)``; its result or exception arrives through the returned future."""
        future: Future[T] = Future()
        self._calls.put((future, call, args))
        return future

    def close(self) -> None:
        """Let the thread end after the calls already queued (returns at once)."""
        self._calls.put(None)

    def _serve(self) -> None:
        while (item := self._calls.get()) is not None:
            future, call, args = item
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(call(*args))
            except BaseException as exc:  # handed to the caller, who re-raises it
                future.set_exception(exc)
