"""Batches of a local model run on parallel CPU streams: several batches at once, each on fewer cores.

Why: on a CPU, decoding a batch of 16 prompts is a long series of small operations (a 16-row
matrix product, a layer norm, a softmax over a few hundred positions). Most are too small for
torch to split across threads, and those it splits pay a synchronisation per operation, so a
second torch thread made a GPT-2-small-sized model (86M parameters) only 1.2–1.4× faster on this
project's 2-core machines. Two batches generated at once, each on one thread, keep both cores
busy instead: 1.35× faster than one batch on two threads, with the same texts
(``benchmarks/README.md``). torch's operators release the interpreter lock, so Python threads
suffice; the model's weights are shared, and each stream holds only its own batch's activations
and key/value cache.

torch's intra-op thread count is per calling thread (OpenMP's ``nthreads`` setting), so each
stream sets its own; the caller's count, which torch also keeps as the default for threads it has
not seen, is restored afterwards.

Each stream holds a batch's key/value cache and activations, so ``auto`` adds streams only while
their estimated memory fits in half of the memory the system reports available: a large model on
a many-core CPU, whose batch was sized to fit, is not made to run out of memory by default.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import Any, TypeVar

from harness.errors import AdapterError

T = TypeVar("T")

#: The most streams ``auto`` picks. Each stream reads every weight once per decoding step, so on
#: a machine with many cores, memory bandwidth rather than arithmetic bounds the gain; beyond
#: this many streams the rest of the cores go to each stream's threads. Measured on 2 cores only.
AUTO_STREAM_LIMIT = 8


def parse_streams(value: Any) -> int | None:
    """``model.streams`` as a positive count, or None for ``auto``; anything else names the key."""
    text = str(value).strip().lower()
    if text == "auto":
        return None
    if text.isdigit() and int(text) > 0:
        return int(text)
    raise AdapterError(
        f"model.streams: expected 'auto' or a positive number of parallel batches, got {value!r}"
    )


def available_memory(meminfo: Path = Path("/proc/meminfo")) -> int | None:
    """Bytes of memory the system can give without swapping (Linux's ``MemAvailable``), else None.

    Read by hand: the standard library has no portable call for it, and psutil is not a
    dependency for this one number.
    """
    try:
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def plan_streams(
    requested: int | None,
    threads: int,
    batches: int,
    on_cpu: bool,
    batch_bytes: int = 0,
    available: int | None = None,
) -> tuple[int, int]:
    """(streams, torch threads per stream) for ``batches`` batches and the caller's ``threads``.

    ``auto`` (None) gives one stream per thread on a CPU, up to :data:`AUTO_STREAM_LIMIT` and to as
    many batches of ``batch_bytes`` as fit in half of the ``available`` memory, and one stream on
    an accelerator, where one batch already fills the device. A requested count is used as
    asked. There are never more streams than batches, and the threads are shared out evenly (at
    least one each).
    """
    if requested is not None:
        wanted = requested
    elif not on_cpu:
        wanted = 1
    else:
        wanted = min(threads, AUTO_STREAM_LIMIT)
        if batch_bytes > 0 and available is not None:
            wanted = min(wanted, available // (2 * batch_bytes))
    streams = max(1, min(wanted, batches))
    return streams, max(1, threads // streams)


def run_in_streams(
    torch: Any, tasks: Sequence[Callable[[], T]], requested: int | None, on_cpu: bool, batch_bytes: int = 0
) -> Iterator[tuple[int, T]]:
    """Run ``tasks`` (each one batch) on parallel streams; yield ``(index, result)`` as each finishes.

    ``batch_bytes`` estimates the memory of the largest batch (see :func:`plan_streams`).

    Tasks start in the given order (callers put the longest batches first, so the streams finish
    together). With one stream they run in the calling thread, in order. When the consumer stops
    early (a failure, or a progress callback that raises), tasks not yet started are cancelled
    and the running ones are waited for before the exception propagates.
    """
    threads = torch.get_num_threads()
    memory = available_memory() if requested is None and batch_bytes > 0 else None
    streams, per_stream = plan_streams(requested, threads, len(tasks), on_cpu, batch_bytes, memory)
    if streams == 1:
        for index, task in enumerate(tasks):
            yield index, task()
        return

    def in_stream(task: Callable[[], T]) -> T:
        if torch.get_num_threads() != per_stream:
            torch.set_num_threads(per_stream)
        return task()

    try:
        with ThreadPoolExecutor(streams, thread_name_prefix="hf-stream") as pool:
            futures = {pool.submit(in_stream, task): index for index, task in enumerate(tasks)}
            try:
                for future in as_completed(futures):
                    yield futures[future], future.result()
            finally:
                for future in futures:
                    future.cancel()
    finally:
        torch.set_num_threads(threads)
