"""glibc keeps freed memory for reuse once told to, and a user's own allocator settings win."""

from __future__ import annotations

import subprocess
import sys

import pytest

from harness import allocator

CHURN = """
import resource, sys
if sys.argv[1] == "reuse":
    from harness.allocator import reuse_freed_memory
    assert reuse_freed_memory()
sizes = [(1 + i % 8) * 2**20 for i in range(10)]  # 1-8 MiB, as decoding's tensors
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(30):
    buffers = [bytearray(size) for size in sizes]
    del buffers
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def page_faults(arm: str) -> int:
    """Minor page faults of allocating and freeing 46 MiB thirty times, in a fresh process."""
    result = subprocess.run(
        [sys.executable, "-c", CHURN, arm], capture_output=True, text=True, check=True, env={"PATH": ""}
    )
    return int(result.stdout)


@pytest.mark.skipif(not allocator._glibc(), reason="the setting exists on glibc only")
def test_freed_memory_is_reused_instead_of_faulted_in_again() -> None:
    default, reuse = page_faults("default"), page_faults("reuse")
    # glibc's defaults trim the heap after each round: 30 x 46 MiB of pages faulted in again
    assert default > 30 * 46 * 2**20 // 4096 // 2
    assert reuse < default / 10


@pytest.mark.parametrize("variable", allocator.USER_SETTINGS)
def test_a_users_own_allocator_setting_is_left_alone(variable: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(variable, "1")
    assert allocator.reuse_freed_memory() is False
