"""Batches of a local model run on parallel CPU streams: several batches at once, each on fewer cores.

Why: on a CPU, decoding a batch of 16 prompts is a long series of small operations (a 16-row
matrix product, a layer norm, a softmax over a few hundred positions). Most are too small for
torch to split across threads, and those it splits pay a synchronisation per operation, so a
second torch thread made a GPT-2-small-sized model (86M parameters) only 1.2–1.4× faster on this
project's 2-core machines. Two batches generated at once, each on one thread, keep both cores
busy instead: 1.4–1.5× faster than one batch on two threads (``benchmarks/README.md``). torch's
operators release the interpreter lock, so Python threads suffice; the model's weights are
shared, and each stream holds only its own batch's activations and key/value cache.

Threads: with torch's OpenMP backend (its CPU builds), the intra-op thread count is a per-thread
setting that a thread takes from torch's process-wide default the first time it runs torch code.
Each stream therefore initialises itself, then sets its own count; once every stream has, the
caller restores the process-wide default, so threads that start torch work later (a scorer on
the main thread) still get the caller's count. Other backends keep one process-wide count, so
there ``auto`` runs one batch at a time. The streams are daemon threads (through
:class:`~harness.background.BackgroundWorker`): an interrupted or failed run exits without
waiting for their batches.

Small work: decoding a batch of a model with a few hundred thousand parameters is all
interpreter work (``generate``'s bookkeeping, module calls) and little arithmetic, so two streams
only take turns with the interpreter lock and are slower than one: ``auto`` runs batches one at a
time when a forward pass processes fewer parameter-tokens than :data:`MIN_STREAM_WORK`. A tiny
model's generation falls below it; its log-likelihood batches (every token of 32 sequences in
one pass) usually do not.

Memory: each stream holds a batch's key/value cache and activations, so ``auto`` adds streams
only while their estimated memory fits in half of the memory available to the process (the
system's, or its cgroup's limit when lower): a large model on a many-core CPU, whose batch was
sized to fit, is not made to run out of memory by default.
"""

from __future__ import annotations

import functools
import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import wait
from pathlib import Path
from typing import Any, TypeVar

from harness.background import BackgroundWorker
from harness.errors import AdapterError

T = TypeVar("T")

#: The most streams ``auto`` picks. Each stream reads every weight once per decoding step, so on
#: a machine with many cores, memory bandwidth rather than arithmetic bounds the gain; beyond
#: this many streams the rest of the cores go to each stream's threads. Measured on 2 cores only.
AUTO_STREAM_LIMIT = 8


#: The least work per forward pass (parameters × tokens it processes) for which ``auto`` runs
#: batches at once. Measured on 2 cores, greedy decoding of batches of 16 (16 tokens per step),
#: two streams against one batch at a time: 0.79× as fast at 0.5M parameters (and 1.16× the
#: one-stream loop's time on the 0.37M reference model in benchmark 2), 1.18× at 1.5M, 1.30× at
#: 3.4M, 1.44× at 11M, 1.4–1.5× at 86M. The threshold sits between 0.5M and 1.5M: 1M × 16 tokens.
MIN_STREAM_WORK = 16_000_000


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


def available_memory(
    meminfo: Path = Path("/proc/meminfo"), cgroup: Path = Path("/sys/fs/cgroup")
) -> int | None:
    """Bytes the process can still allocate without swapping, or None where it cannot be read.

    Linux's ``MemAvailable``, lowered to the room left under the process's cgroup (v2) limit
    when there is one: in a container, the host's free memory is not the process's. Read by
    hand: the standard library has no call for it, and psutil is not a dependency for this one
    number.
    """
    try:
        system = next(
            int(line.split()[1]) * 1024
            for line in meminfo.read_text().splitlines()
            if line.startswith("MemAvailable:")
        )
    except (OSError, ValueError, IndexError, StopIteration):
        return None
    try:
        limit = (cgroup / "memory.max").read_text().strip()
        if limit != "max":
            return min(system, int(limit) - int((cgroup / "memory.current").read_text()))
    except (OSError, ValueError):
        pass
    return system


@functools.cache
def per_thread_counts(torch: Any) -> bool:
    """Whether torch's intra-op thread count is per thread: its OpenMP backend (CPU builds)."""
    return "OpenMP" in torch.__config__.parallel_info()


def plan_streams(
    requested: int | None,
    threads: int,
    batches: int,
    work: int = MIN_STREAM_WORK,
    batch_bytes: int = 0,
    available: int | None = None,
) -> tuple[int, int]:
    """(streams, torch threads per stream) on a CPU, for ``batches`` batches and ``threads`` threads.

    ``auto`` (None) gives one stream per thread, up to :data:`AUTO_STREAM_LIMIT` and to as many
    batches of ``batch_bytes`` as fit in half of the ``available`` memory, when a forward pass
    does at least :data:`MIN_STREAM_WORK` of ``work`` (parameters × tokens), else one; a
    requested count is used as asked. There are never more streams than batches, and the
    threads are shared out evenly (at least one each).
    """
    wanted = requested if requested is not None else min(threads, AUTO_STREAM_LIMIT)
    if requested is None and work < MIN_STREAM_WORK:
        wanted = 1
    if requested is None and batch_bytes > 0 and available is not None:
        wanted = min(wanted, available // (2 * batch_bytes))
    streams = max(1, min(wanted, batches))
    return streams, max(1, threads // streams)


def run_in_streams(
    torch: Any,
    tasks: Sequence[Callable[[], T]],
    requested: int | None,
    work: int = MIN_STREAM_WORK,
    batch_bytes: Callable[[], int] = lambda: 0,
) -> Iterator[tuple[int, T]]:
    """Run ``tasks`` (each one batch, on the CPU) on parallel streams; yield ``(index, result)``.

    Results come as batches finish. Tasks start in the given order (callers put the longest
    batches first, so the streams finish together). ``work`` is a forward pass's parameters ×
    tokens, and ``batch_bytes`` estimates the largest batch's memory (called only when ``auto``
    needs it). With one stream the tasks run in the calling thread, in order. The first task to
    raise ends the run: its exception is raised here. When the consumer stops early (a failure,
    or a progress callback that raises), batches not yet started are dropped and the running
    ones are waited for, in the consumer's thread.
    """
    threads = torch.get_num_threads()
    if requested is None and not per_thread_counts(torch):
        requested = 1
    # Memory is read only where it can decide: auto, more than one batch, enough work per pass.
    needs_memory = requested is None and len(tasks) > 1 and work >= MIN_STREAM_WORK
    memory = available_memory() if needs_memory else None
    streams, per_stream = plan_streams(
        requested, threads, len(tasks), work, batch_bytes() if memory is not None else 0, memory
    )
    if streams == 1:
        for index, task in enumerate(tasks):
            yield index, task()
        return
    todo: queue.SimpleQueue[tuple[int, Callable[[], T]]] = queue.SimpleQueue()
    for item in enumerate(tasks):
        todo.put(item)
    finished: queue.SimpleQueue[tuple[int, T | None, BaseException | None]] = queue.SimpleQueue()
    stop, go, ready = threading.Event(), threading.Event(), threading.Barrier(streams + 1)

    def stream() -> None:
        try:
            if per_thread_counts(torch):
                torch.get_num_threads()  # take the process-wide default now, so it is not taken later
                torch.set_num_threads(per_stream)
        except BaseException as exc:  # the consumer raises it; the barrier lets everyone go
            finished.put((-1, None, exc))
            ready.abort()
            return
        try:
            ready.wait()
        except threading.BrokenBarrierError:  # another stream failed to start, or the caller stopped
            return
        go.wait()  # until the caller has restored the process-wide default
        while not stop.is_set():
            try:
                index, task = todo.get_nowait()
            except queue.Empty:
                return
            try:
                finished.put((index, task(), None))
            except BaseException as exc:  # handed to the consumer, who raises it
                finished.put((index, None, exc))
                return

    workers = [BackgroundWorker(f"hf-stream-{n}") for n in range(streams)]
    running = [worker.submit(stream) for worker in workers]
    for worker in workers:
        worker.close()
    try:
        try:
            ready.wait()
        except threading.BrokenBarrierError:
            pass  # a stream failed to start: its error comes first from ``finished``
        else:
            torch.set_num_threads(threads)  # the process-wide default again, for threads not yet seen
            go.set()
        for _ in tasks:
            index, result, error = finished.get()
            if error is not None:
                raise error
            yield index, result  # type: ignore[misc]
    finally:
        stop.set()
        ready.abort()  # streams still at the barrier (the caller was interrupted) end there
        go.set()
        wait(running)
        torch.set_num_threads(threads)  # also when interrupted before the restore above
