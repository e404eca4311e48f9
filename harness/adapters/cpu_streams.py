"""Parallel CPU streams: several batches of a local model at once, each on a share of the cores.

Why: on a CPU, decoding a batch is a long series of small operations (a 16-row matrix product, a
layer norm, a softmax over a few hundred positions). Most are too small for torch to split well
across threads, so a second torch thread made a GPT-2-small-sized model (86M parameters) only
1.2-1.4x faster on 2 cores, while two batches at once, one thread each, were 1.4-1.5x faster
(``benchmarks/README.md``). torch's operators release the interpreter lock, so Python threads
suffice; the weights are shared and each stream holds only its own batch's activations.

How it runs (:func:`run_in_streams`):

1. :func:`plan_streams` decides how many streams and how many torch threads each gets.
2. Each stream is a daemon thread that sets its own torch thread count (with torch's OpenMP
   backend the count is per thread), then takes batches from a queue until it gets ``None``.
3. The caller puts one batch per stream in the queue, and one more each time a result comes
   back, so the batches started are never more than ``streams`` plus the results received.
   When the caller stops early (a failure, or a progress callback that raises), nothing more is
   queued, and it waits for the batches already running before returning.
"""

from __future__ import annotations

import functools
import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import wait
from dataclasses import dataclass
from typing import Any, TypeVar

from harness.background import BackgroundWorker
from harness.errors import AdapterError

T = TypeVar("T")

#: The most streams ``auto`` picks. Every stream holds one batch's activations and key/value
#: cache, and on many cores memory bandwidth rather than arithmetic bounds the gain; a user who
#: wants more (or fewer) sets ``model.streams``.
AUTO_STREAM_LIMIT = 4

#: The least work per forward pass (parameters x tokens it processes) for which ``auto`` runs
#: batches at once. Below it a batch is mostly interpreter work, and two streams only take turns
#: with the interpreter lock. Measured on 2 cores, greedy decoding of batches of 16: two streams
#: 0.79x as fast at 0.5M parameters, 1.18x at 1.5M, 1.44x at 11M, 1.4-1.5x at 86M.
MIN_STREAM_WORK = 16_000_000


@dataclass(frozen=True)
class StreamPlan:
    """How batches run: ``streams`` at once, each on ``threads_per_stream`` torch threads."""

    streams: int
    threads_per_stream: int


def parse_streams(value: Any) -> int | None:
    """``model.streams`` as a positive count, or None for ``auto``; anything else names the key."""
    text = str(value).strip().lower()
    if text == "auto":
        return None
    if text.isdecimal() and int(text) > 0:
        return int(text)
    raise AdapterError(
        f"model.streams: expected 'auto' or a positive number of parallel batches, got {value!r}"
    )


@functools.cache
def per_thread_counts(torch: Any) -> bool:
    """Whether torch's intra-op thread count is per thread: its OpenMP backend (CPU builds)."""
    return "OpenMP" in torch.__config__.parallel_info()


def plan_streams(requested: int | None, threads: int, batches: int, work: int) -> StreamPlan:
    """The streams for ``batches`` batches on ``threads`` torch threads.

    A requested count is used as asked. ``auto`` (None) gives one stream per thread, up to
    :data:`AUTO_STREAM_LIMIT`, when a forward pass does at least :data:`MIN_STREAM_WORK` of
    ``work`` (parameters x tokens), else one. Never more streams than batches; the threads are
    shared out evenly, at least one each.
    """
    if requested is None:
        requested = min(threads, AUTO_STREAM_LIMIT) if work >= MIN_STREAM_WORK else 1
    streams = max(1, min(requested, batches))
    return StreamPlan(streams, max(1, threads // streams))


def run_in_streams(torch: Any, tasks: Sequence[Callable[[], T]], plan: StreamPlan) -> Iterator[tuple[int, T]]:
    """Run ``tasks`` (each one batch) as ``plan`` says; yield ``(index, result)`` as batches finish.

    With one stream the tasks run in the calling thread, in order. The first task to raise ends
    the run and its exception is raised here. See the module docstring for how streams stop.
    """
    if plan.streams == 1:
        for index, task in enumerate(tasks):
            yield index, task()
        return
    threads = torch.get_num_threads()
    todo: queue.SimpleQueue[tuple[int, Callable[[], T]] | None] = queue.SimpleQueue()
    finished: queue.SimpleQueue[tuple[int, T | None, BaseException | None]] = queue.SimpleQueue()
    # Every stream takes torch's process-wide thread count before setting its own; the caller
    # restores that count once all have (threads that start torch work later get it), then starts them.
    ready, go = threading.Barrier(plan.streams + 1), threading.Event()

    def stream() -> None:
        try:
            if per_thread_counts(torch):
                torch.get_num_threads()
                torch.set_num_threads(plan.threads_per_stream)
        except BaseException as exc:  # the caller raises it
            finished.put((-1, None, exc))
            ready.abort()
            return
        try:
            ready.wait()
        except threading.BrokenBarrierError:  # another stream failed to start, or the caller stopped
            return
        go.wait()
        while (item := todo.get()) is not None:
            index, task = item
            try:
                finished.put((index, task(), None))
            except BaseException as exc:
                finished.put((index, None, exc))
                return

    pending = iter(enumerate(tasks))
    for _ in range(plan.streams):
        todo.put(next(pending, None))
    workers = [BackgroundWorker(f"hf-stream-{n}") for n in range(plan.streams)]
    running = [worker.submit(stream) for worker in workers]
    for worker in workers:
        worker.close()
    try:
        try:
            ready.wait()
        except threading.BrokenBarrierError:
            pass  # a stream failed to start: its error comes first from ``finished``
        else:
            torch.set_num_threads(threads)
            go.set()
        for _ in tasks:
            index, result, error = finished.get()
            if error is not None:
                raise error
            todo.put(next(pending, None))  # the next batch, before the caller works on this result
            yield index, result  # type: ignore[misc]
    finally:
        while True:  # batches queued but not started are dropped
            try:
                todo.get_nowait()
            except queue.Empty:
                break
        for _ in range(plan.streams):
            todo.put(None)
        ready.abort()  # streams still at the barrier (the caller was interrupted) end there
        go.set()
        wait(running)
        torch.set_num_threads(threads)
