"""Parallel CPU streams: the plan, thread counts, cancellation, and the hf adapter's same answers."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import torch

from harness.adapters import cpu_streams, hf
from harness.adapters.cpu_streams import (
    AUTO_STREAM_LIMIT,
    MIN_STREAM_WORK,
    StreamPlan,
    parse_streams,
    plan_streams,
    run_in_streams,
)
from harness.adapters.hf import HFAdapter, HFParams
from harness.errors import AdapterError
from harness.types import GenerationParams, Request

PROMPTS = ["The quick brown fox", "All that", "A stitch in time saves nine. The early", "The", "One two"]


@pytest.mark.parametrize(("value", "expected"), [("auto", None), ("AUTO", None), (2, 2), ("3", 3)])
def test_streams_setting_is_auto_or_a_positive_count(value: object, expected: int | None) -> None:
    assert parse_streams(value) == expected


@pytest.mark.parametrize("value", ["0", -1, "two", "1.5", "", "²"])
def test_a_bad_streams_setting_names_the_key(value: object) -> None:
    with pytest.raises(AdapterError, match=r"model\.streams: expected 'auto' or a positive number"):
        parse_streams(value)


@pytest.mark.parametrize(
    ("requested", "threads", "batches", "expected"),
    [
        (None, 2, 16, (2, 1)),  # this project's machines: two batches at once, one thread each
        (None, 1, 16, (1, 1)),
        (None, 32, 100, (AUTO_STREAM_LIMIT, 32 // AUTO_STREAM_LIMIT)),
        (None, 4, 3, (3, 1)),  # never more streams than batches
        (3, 2, 10, (3, 1)),  # asked for: more streams than threads, one thread each
        (2, 8, 10, (2, 4)),
        (None, 2, 0, (1, 2)),
    ],
)
def test_stream_plan(requested: int | None, threads: int, batches: int, expected: tuple[int, int]) -> None:
    assert plan_streams(requested, threads, batches, MIN_STREAM_WORK) == StreamPlan(*expected)


def test_auto_keeps_small_models_to_one_stream() -> None:
    assert plan_streams(None, 2, 16, work=MIN_STREAM_WORK - 1) == StreamPlan(1, 2)  # interpreter-bound
    assert plan_streams(None, 2, 16, work=MIN_STREAM_WORK) == StreamPlan(2, 1)
    assert plan_streams(2, 2, 16, work=1) == StreamPlan(2, 1)  # asked for: as asked


def _recording(index: int, seen: list[tuple[int, str, int]]) -> Callable[[], int]:
    def task() -> int:
        torch.ones(1 << 20).sum()  # parallel work first: a thread's count must survive torch's set-up
        seen.append((index, threading.current_thread().name, torch.get_num_threads()))
        return index * 10

    return task


def _threads_of_a_new_thread() -> int:
    counts: list[int] = []
    thread = threading.Thread(target=lambda: counts.append(torch.get_num_threads()))
    thread.start()
    thread.join()
    return counts[0]


@pytest.fixture
def two_threads() -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(before)


@pytest.mark.usefixtures("two_threads")
def test_streams_run_each_batch_once_on_their_share_of_threads() -> None:
    seen: list[tuple[int, str, int]] = []
    during: list[int] = []
    tasks = [_recording(i, seen) for i in range(6)]
    tasks.append(lambda: during.append(_threads_of_a_new_thread()) or 60)
    results = dict(run_in_streams(torch, tasks, StreamPlan(2, 1)))
    assert results == {i: i * 10 for i in range(7)}
    assert sorted(i for i, _, _ in seen) == list(range(6))
    assert all(name.startswith("hf-stream") and threads == 1 for _, name, threads in seen)
    # Threads that start torch work while the streams run, or after, get the caller's count.
    assert during == [2]
    assert _threads_of_a_new_thread() == 2 and torch.get_num_threads() == 2


def test_one_stream_runs_in_order_in_the_calling_thread() -> None:
    seen: list[tuple[int, str, int]] = []
    results = list(run_in_streams(torch, [_recording(i, seen) for i in range(4)], StreamPlan(1, 1)))
    assert results == [(i, i * 10) for i in range(4)]
    assert [name for _, name, _ in seen] == [threading.current_thread().name] * 4


def test_stopping_early_starts_no_more_batches_and_waits_for_the_running_ones() -> None:
    started, finished = [], []

    def task(index: int) -> Callable[[], int]:
        def run() -> int:
            started.append(index)
            finished.append(index)
            return index

        return run

    stream = run_in_streams(torch, [task(i) for i in range(10)], StreamPlan(2, 1))
    next(stream)
    stream.close()  # what a raising progress callback does
    # One batch per stream to begin with, and one more per result received (here one): no more.
    assert len(started) <= 3
    assert sorted(started) == sorted(finished)  # nothing still running once close() returns
    assert not [t for t in threading.enumerate() if t.name.startswith("hf-stream") and t.is_alive()]


def test_a_failing_batch_raises_in_the_caller() -> None:
    def fail() -> int:
        raise RuntimeError("batch failed")

    with pytest.raises(RuntimeError, match="batch failed"):
        list(run_in_streams(torch, [lambda: 1, fail, lambda: 3], StreamPlan(2, 1)))


def test_stream_threads_are_daemons() -> None:
    daemons = list(run_in_streams(torch, [lambda: threading.current_thread().daemon] * 3, StreamPlan(2, 1)))
    assert [daemon for _, daemon in daemons] == [True] * 3


@pytest.fixture(scope="module")
def adapters(tiny_gpt2_dir: Path) -> dict[str, HFAdapter]:
    """One batch per prompt or sample row, so streams finish batches out of order."""
    return {
        streams: HFAdapter(
            HFParams(pretrained=str(tiny_gpt2_dir), batch_size=1, loglikelihood_batch_size=1, streams=streams)
        )
        for streams in ("1", "3")
    }


def test_streams_give_the_same_texts_and_loglikelihoods(adapters: dict[str, HFAdapter]) -> None:
    greedy = [Request("generate", p, GenerationParams(max_new_tokens=6, n=2)) for p in PROMPTS]
    stopped = [Request("generate", p, GenerationParams(max_new_tokens=12, stop=(" ", "e"))) for p in PROMPTS]
    scored = [Request("loglikelihood", p, continuations=(" fox", " dog jumps")) for p in PROMPTS]
    one, three = adapters["1"], adapters["3"]
    for requests in (greedy, stopped):
        assert [c.texts for c in three.generate(requests, seed=0)] == [
            c.texts for c in one.generate(requests, seed=0)
        ]
    # A different thread count changes the order of float additions: equal up to the last bits.
    alone = [c.logprobs for c in one.loglikelihood(scored)]
    assert [c.logprobs for c in three.loglikelihood(scored)] == [pytest.approx(lp, rel=1e-6) for lp in alone]
    # The plan each kind of request ran with, as the manifest records it (``execution``).
    assert three.execution()["loglikelihood"]["streams"] == 3
    assert one.execution() == {
        kind: {"streams": 1, "threads_per_stream": torch.get_num_threads()}
        for kind in ("generate", "loglikelihood")
    }


def test_samples_finishing_out_of_order_keep_their_places(
    adapters: dict[str, HFAdapter], monkeypatch: pytest.MonkeyPatch
) -> None:
    requests = [
        Request("generate", p, GenerationParams(max_new_tokens=8, temperature=1.0, n=3)) for p in PROMPTS
    ]
    in_order = [c.texts for c in adapters["1"].generate(requests, seed=7)]

    def last_batch_first(torch: Any, tasks: Any, plan: StreamPlan) -> Iterator[tuple[int, Any]]:
        for index in reversed(range(len(tasks))):
            yield index, tasks[index]()

    monkeypatch.setattr(hf, "run_in_streams", last_batch_first)
    finished: list[int] = []
    assert [c.texts for c in adapters["1"].generate(requests, seed=7, progress=finished.append)] == in_order
    # One batch per sample row, last row first: a request counts when its first sample (the
    # last to arrive) comes, never before.
    assert finished == [0, 0, 1] * len(PROMPTS)


def test_a_raising_progress_callback_stops_the_streams_while_its_exception_is_kept(
    adapters: dict[str, HFAdapter], monkeypatch: pytest.MonkeyPatch
) -> None:
    adapter, generated, calls = adapters["3"], [], []
    generate_rows = adapter._generate_rows

    def counted(*args: Any) -> Any:
        generated.append(1)
        return generate_rows(*args)

    def progress(finished: int) -> None:
        calls.append(finished)
        raise KeyboardInterrupt

    monkeypatch.setattr(adapter, "_generate_rows", counted)
    requests = [
        Request("generate", f"{p} {n}", GenerationParams(max_new_tokens=4))
        for n in range(12)
        for p in PROMPTS
    ]
    with pytest.raises(KeyboardInterrupt) as kept:  # kept, as the runner keeps it to raise later
        adapter.generate(requests, seed=0, progress=progress)
    assert kept.value is not None and calls == [1]
    # Three streams' first batches and the one queued when the first result came back: no more,
    # however the threads were scheduled; and none still running once generate has returned.
    assert len(generated) <= 4
    assert not [t for t in threading.enumerate() if t.name.startswith("hf-stream") and t.is_alive()]


def test_the_work_passed_to_the_plan_is_parameters_times_tokens_per_pass(
    adapters: dict[str, HFAdapter], monkeypatch: pytest.MonkeyPatch
) -> None:
    adapter, seen = adapters["1"], []

    def recording(requested: int | None, threads: int, batches: int, work: int) -> StreamPlan:
        seen.append(work)
        return StreamPlan(1, threads)

    monkeypatch.setattr(hf, "plan_streams", recording)
    adapter.generate([Request("generate", p, GenerationParams(max_new_tokens=2)) for p in PROMPTS], seed=0)
    scored = [Request("loglikelihood", p, continuations=(" fox",)) for p in PROMPTS]
    adapter.loglikelihood(scored)
    longest = max(len(adapter.tokenizer(p + " fox").input_ids) for p in PROMPTS)
    parameters = sum(p.numel() for p in adapter.model.parameters())
    assert seen == [parameters * 1, parameters * 1 * longest]  # batch sizes of 1 (the fixture)


class _CallerInterrupted(threading.Barrier):
    """A barrier whose wait raises KeyboardInterrupt in the test's thread (Ctrl-C while starting)."""

    def wait(self, timeout: float | None = None) -> int:
        if threading.current_thread() is threading.main_thread():
            raise KeyboardInterrupt
        return super().wait(timeout)


@pytest.mark.usefixtures("two_threads")
def test_an_interrupt_while_the_streams_start_runs_nothing_and_leaves_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(cpu_streams.threading, "Barrier", _CallerInterrupted)
    seen: list[tuple[int, str, int]] = []
    with pytest.raises(KeyboardInterrupt):
        list(run_in_streams(torch, [_recording(i, seen) for i in range(4)], StreamPlan(2, 1)))
    assert seen == []
    assert not [t for t in threading.enumerate() if t.name.startswith("hf-stream") and t.is_alive()]
    assert _threads_of_a_new_thread() == 2 and torch.get_num_threads() == 2


def test_a_stream_that_fails_to_start_raises_its_error_instead_of_hanging() -> None:
    class FailingTorch:
        """torch whose per-thread count cannot be set in a stream (OpenMP, as far as it says)."""

        __config__ = torch.__config__
        get_num_threads = staticmethod(torch.get_num_threads)

        @staticmethod
        def set_num_threads(count: int) -> None:
            if threading.current_thread().name.startswith("hf-stream"):
                raise RuntimeError("cannot set threads")
            torch.set_num_threads(count)

    with pytest.raises(RuntimeError, match="cannot set threads"):
        list(run_in_streams(FailingTorch, [lambda: 1, lambda: 2], StreamPlan(2, 1)))


def test_the_adapter_refuses_a_bad_streams_setting(tiny_gpt2_dir: Path) -> None:
    with pytest.raises(AdapterError, match=r"model\.streams: .*got 'many'"):
        HFAdapter(HFParams(pretrained=str(tiny_gpt2_dir), streams="many"))


def test_no_requests_load_no_weights(tiny_gpt2_dir: Path) -> None:
    adapter = HFAdapter(HFParams(pretrained=str(tiny_gpt2_dir)))
    assert adapter.generate([], seed=0) == [] and adapter.loglikelihood([]) == []
    assert adapter._model is None


class _Rotary(torch.nn.Module):
    def __init__(self, rope_type: object) -> None:
        super().__init__()
        self.rope_type = rope_type


@pytest.mark.parametrize(
    ("rope_type", "updated"),
    [
        ("default", False),
        ("linear", False),
        ("dynamic", True),
        ("longrope", True),
        ({"full": "longrope"}, True),
    ],
)
def test_rotary_embeddings_that_change_per_call_keep_one_stream(rope_type: object, updated: bool) -> None:
    model = torch.nn.Sequential(torch.nn.Linear(2, 2), _Rotary(rope_type))
    assert hf._rope_updated_per_call(model) is updated
