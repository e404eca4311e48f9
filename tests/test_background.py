"""The runner's generation worker: one daemon thread, calls in order, errors handed back."""

from __future__ import annotations

import threading

import pytest

from harness.background import BackgroundWorker


def test_calls_run_in_order_on_one_daemon_thread_and_errors_reach_the_caller() -> None:
    worker = BackgroundWorker("test-worker")
    seen: list[tuple[int, str, bool]] = []

    def record(value: int) -> int:
        thread = threading.current_thread()
        seen.append((value, thread.name, thread.daemon))
        return value * 10

    def fail() -> None:
        raise ValueError("broken call")

    futures = [worker.submit(record, i) for i in range(5)]
    failing = worker.submit(fail)
    assert [f.result(timeout=10) for f in futures] == [0, 10, 20, 30, 40]
    with pytest.raises(ValueError, match="broken call"):
        failing.result(timeout=10)
    assert seen == [(i, "test-worker", True) for i in range(5)]
    worker.close()


def test_a_cancelled_call_never_runs() -> None:
    worker = BackgroundWorker("test-worker")
    gate = threading.Event()
    ran: list[str] = []
    blocking = worker.submit(gate.wait, 10)
    skipped = worker.submit(ran.append, "skipped")
    assert skipped.cancel()
    gate.set()
    assert blocking.result(timeout=10) is True
    worker.submit(ran.append, "after").result(timeout=10)
    assert ran == ["after"]
    worker.close()
