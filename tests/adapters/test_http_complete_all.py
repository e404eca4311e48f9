"""complete_all: a bounded number of workers, results in job order, failures recorded per job."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from harness.adapters.http_client import RequestFailed, complete_all
from harness.types import Completion


def _jobs(count: int, fail: set[int]) -> tuple[list[Callable[[], Awaitable[Completion]]], dict[str, int]]:
    """Jobs that finish in reverse order of starting, tracking how many run at once."""
    running = {"now": 0, "most": 0}

    def job(index: int) -> Callable[[], Awaitable[Completion]]:
        async def run() -> Completion:
            running["now"] += 1
            running["most"] = max(running["most"], running["now"])
            await asyncio.sleep(0.001 * (count - index))
            running["now"] -= 1
            if index in fail:
                raise RequestFailed(f"job {index} failed for good", transient=False)
            return Completion(texts=[f"answer {index}"])

        return run

    return [job(i) for i in range(count)], running


def test_at_most_limit_jobs_run_at_once_and_results_keep_job_order() -> None:
    jobs, running = _jobs(40, fail={3, 17})
    finished: list[int] = []
    results = asyncio.run(complete_all(jobs, finished.append, limit=6))
    assert running["most"] == 6
    assert [r.texts for i, r in enumerate(results) if i not in {3, 17}] == [
        [f"answer {i}"] for i in range(40) if i not in {3, 17}
    ]
    assert [results[3].error, results[17].error] == ["job 3 failed for good", "job 17 failed for good"]
    assert finished == [1] * 40


def test_without_a_limit_every_job_starts_at_once() -> None:
    jobs, running = _jobs(12, fail=set())
    results = asyncio.run(complete_all(jobs))
    assert running["most"] == 12 and len(results) == 12
    assert asyncio.run(complete_all([], limit=4)) == []
