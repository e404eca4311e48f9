"""Parallel CPU streams: the plan, thread counts, cancellation, and the hf adapter's same answers."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import torch

from harness.adapters.cpu_streams import (
    AUTO_STREAM_LIMIT,
    available_memory,
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


@pytest.mark.parametrize("value", ["0", -1, "two", "1.5", ""])
def test_a_bad_streams_setting_names_the_key(value: object) -> None:
    with pytest.raises(AdapterError, match=r"model\.streams: expected 'auto' or a positive number"):
        parse_streams(value)


@pytest.mark.parametrize(
    ("requested", "threads", "batches", "on_cpu", "expected"),
    [
        (None, 2, 16, True, (2, 1)),  # this project's machines: two batches at once, one thread each
        (None, 1, 16, True, (1, 1)),
        (None, 32, 100, True, (AUTO_STREAM_LIMIT, 32 // AUTO_STREAM_LIMIT)),
        (None, 8, 100, False, (1, 8)),  # an accelerator: one batch at a time
        (None, 4, 3, True, (3, 1)),  # never more streams than batches
        (3, 2, 10, True, (3, 1)),  # asked for: more streams than threads, one thread each
        (2, 8, 10, False, (2, 4)),
        (None, 2, 0, True, (1, 2)),
    ],
)
def test_stream_plan(
    requested: int | None, threads: int, batches: int, on_cpu: bool, expected: tuple[int, int]
) -> None:
    assert plan_streams(requested, threads, batches, on_cpu) == expected


def _recording_task(index: int, seen: list[tuple[int, str, int]]) -> object:
    def task() -> int:
        seen.append((index, threading.current_thread().name, torch.get_num_threads()))
        return index * 10

    return task


def test_streams_run_each_batch_once_on_their_share_of_threads() -> None:
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        seen: list[tuple[int, str, int]] = []
        results = dict(run_in_streams(torch, [_recording_task(i, seen) for i in range(6)], 2, on_cpu=True))
        assert results == {i: i * 10 for i in range(6)}
        assert sorted(i for i, _, _ in seen) == list(range(6))
        assert all(name.startswith("hf-stream") and threads == 1 for _, name, threads in seen)
        assert torch.get_num_threads() == 2  # the caller's count is back
    finally:
        torch.set_num_threads(before)


def test_one_stream_runs_in_order_in_the_calling_thread() -> None:
    seen: list[tuple[int, str, int]] = []
    results = list(run_in_streams(torch, [_recording_task(i, seen) for i in range(4)], 1, on_cpu=True))
    assert results == [(i, i * 10) for i in range(4)]
    assert [name for _, name, _ in seen] == [threading.current_thread().name] * 4


def test_stopping_early_cancels_the_batches_not_started_and_waits_for_the_running_ones() -> None:
    gate, started, finished = threading.Event(), [], []

    def task(index: int) -> object:
        def run() -> int:
            started.append(index)
            if index >= 2:
                gate.wait(10)
            finished.append(index)
            return index

        return run

    stream = run_in_streams(torch, [task(i) for i in range(10)], 2, on_cpu=True)
    next(stream)
    threading.Timer(0.2, gate.set).start()
    stream.close()  # what a raising progress callback does to the adapter's loop
    assert len(started) < 10
    assert sorted(started) == sorted(finished)  # nothing still running once close() returns


def test_a_failing_batch_raises_in_the_caller() -> None:
    def fail() -> None:
        raise RuntimeError("batch failed")

    with pytest.raises(RuntimeError, match="batch failed"):
        list(run_in_streams(torch, [lambda: 1, fail, lambda: 3], 2, on_cpu=True))


@pytest.fixture(scope="module")
def adapters(tiny_gpt2_dir: Path) -> dict[str, HFAdapter]:
    """One batch per prompt or sample row, so streams finish batches out of order."""
    return {
        streams: HFAdapter(
            HFParams(pretrained=str(tiny_gpt2_dir), batch_size=1, loglikelihood_batch_size=1, streams=streams)
        )
        for streams in ("1", "3")
    }


def test_streams_give_the_same_greedy_texts_and_loglikelihoods(adapters: dict[str, HFAdapter]) -> None:
    greedy = [Request("generate", p, GenerationParams(max_new_tokens=6, n=2)) for p in PROMPTS]
    scored = [Request("loglikelihood", p, continuations=(" fox", " dog jumps")) for p in PROMPTS]
    one, three = adapters["1"], adapters["3"]
    assert [c.texts for c in three.generate(greedy, seed=0)] == [
        c.texts for c in one.generate(greedy, seed=0)
    ]
    # A different thread count changes the order of float additions: equal up to the last bits.
    alone = [c.logprobs for c in one.loglikelihood(scored)]
    assert [c.logprobs for c in three.loglikelihood(scored)] == [pytest.approx(lp, rel=1e-6) for lp in alone]


def test_streams_keep_each_sample_in_its_place(adapters: dict[str, HFAdapter]) -> None:
    requests = [
        Request("generate", p, GenerationParams(max_new_tokens=8, temperature=1.0, n=3)) for p in PROMPTS
    ]
    finished: list[int] = []
    texts = [c.texts for c in adapters["3"].generate(requests, seed=7, progress=finished.append)]
    assert texts == [c.texts for c in adapters["1"].generate(requests, seed=7)]
    assert sum(finished) == len(requests)  # a request counts once, when its last sample arrives


def test_a_raising_progress_callback_stops_the_streams(adapters: dict[str, HFAdapter]) -> None:
    calls: list[int] = []

    def progress(finished: int) -> None:
        calls.append(finished)
        raise KeyboardInterrupt

    requests = [Request("generate", p, GenerationParams(max_new_tokens=4)) for p in PROMPTS]
    with pytest.raises(KeyboardInterrupt):
        adapters["3"].generate(requests, seed=0, progress=progress)
    assert calls == [1]


def test_the_adapter_refuses_a_bad_streams_setting(tiny_gpt2_dir: Path) -> None:
    with pytest.raises(AdapterError, match=r"model\.streams: .*got 'many'"):
        HFAdapter(HFParams(pretrained=str(tiny_gpt2_dir), streams="many"))


def test_auto_adds_streams_only_while_their_memory_fits_in_half_of_what_is_available() -> None:
    gib = 1 << 30
    assert plan_streams(None, 8, 100, True, batch_bytes=gib, available=64 * gib) == (8, 1)
    assert plan_streams(None, 8, 100, True, batch_bytes=gib, available=6 * gib) == (3, 2)
    assert plan_streams(None, 8, 100, True, batch_bytes=gib, available=gib) == (1, 8)
    assert plan_streams(4, 8, 100, True, batch_bytes=gib, available=gib) == (4, 2)  # asked for: as asked
    assert plan_streams(None, 8, 100, True, batch_bytes=gib, available=None) == (8, 1)  # unknown: no cap


def test_available_memory_reads_meminfo(tmp_path: Path) -> None:
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal:       24000000 kB\nMemAvailable:   12345678 kB\n")
    assert available_memory(meminfo) == 12345678 * 1024
    assert available_memory(tmp_path / "missing") is None
    meminfo.write_text("MemTotal: 1 kB\n")
    assert available_memory(meminfo) is None


def test_the_batch_estimate_counts_the_cache_hidden_states_and_logits(adapters: dict[str, HFAdapter]) -> None:
    adapter = adapters["1"]
    config = adapter.config  # GPT-2: every head has its own keys and values
    assert (config.n_layer, config.n_embd) == (2, 32)
    per_token = (2 * 2 * 32 + 4 * 32) * 4  # float32: keys and values of 2 layers, a 4x MLP state
    expected = 16 * 40 * per_token + 16 * 1 * config.vocab_size * 8
    assert adapter._batch_bytes(16, 40, logit_positions=1) == expected
