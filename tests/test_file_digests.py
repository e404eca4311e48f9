"""File digests: the remembered digest equals a fresh one and follows every change of the files."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from harness import file_digests
from harness.file_digests import MEMO_FILE, file_digest, remembered_digest


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("RAI_HARNESS_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


@pytest.fixture
def hash_calls(monkeypatch: pytest.MonkeyPatch) -> list[list[Path]]:
    calls: list[list[Path]] = []
    real = file_digests.file_digest

    def counting(paths: list[Path]) -> str:
        calls.append(list(paths))
        return real(paths)

    monkeypatch.setattr(file_digests, "file_digest", counting)
    return calls


def weights(tmp_path: Path) -> list[Path]:
    (tmp_path / "a.bin").write_bytes(b"\x00" * 1000 + b"a")
    (tmp_path / "b.bin").write_bytes(b"b" * 3)
    return [tmp_path / "b.bin", tmp_path / "a.bin"]


def test_file_digest_known_answer(tmp_path: Path) -> None:
    import hashlib

    paths = weights(tmp_path)
    expected = hashlib.sha256(b"a.bin\0" + b"\x00" * 1000 + b"a" + b"b.bin\0" + b"bbb").hexdigest()
    assert file_digest(paths) == expected


def test_second_call_is_served_from_the_memo(tmp_path: Path, home: Path, hash_calls: list) -> None:
    paths = weights(tmp_path)
    first = remembered_digest(paths)
    second = remembered_digest(reversed(paths))
    assert first == second == file_digest(paths)
    assert len(hash_calls) == 1
    assert list(json.loads((home / MEMO_FILE).read_text()).values()) == [first]


def test_a_changed_file_is_hashed_again(tmp_path: Path, home: Path, hash_calls: list) -> None:
    paths = weights(tmp_path)
    before = remembered_digest(paths)
    stat = paths[0].stat()
    time.sleep(0.05)  # past the file system's coarse clock, so the rewrite gets a new change time
    paths[0].write_bytes(b"c" * 3)  # same size, same inode, and (like `cp -p`) the old mtime put back
    os.utime(paths[0], ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert paths[0].stat().st_mtime_ns == stat.st_mtime_ns and paths[0].stat().st_ino == stat.st_ino
    after = remembered_digest(paths)
    assert after != before and after == file_digest(paths)
    assert len(hash_calls) == 2


def test_corrupt_memo_and_unwritable_home_only_cost_a_rehash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, hash_calls: list
) -> None:
    paths = weights(tmp_path)
    (tmp_path / "home").mkdir()
    (tmp_path / "home" / MEMO_FILE).write_text("{half-written")
    monkeypatch.setenv("RAI_HARNESS_HOME", str(tmp_path / "home"))
    assert remembered_digest(paths) == file_digest(paths)
    blocked = tmp_path / "not-a-directory"
    blocked.write_text("")
    monkeypatch.setenv("RAI_HARNESS_HOME", str(blocked))
    assert remembered_digest(paths) == file_digest(paths)
    assert len(hash_calls) == 2


def test_memo_keeps_only_the_latest_entries(
    tmp_path: Path, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(file_digests, "MEMO_ENTRIES", 2)
    for index in range(3):
        path = tmp_path / f"w{index}.bin"
        path.write_bytes(bytes([index]))
        remembered_digest([path])
    memo = json.loads((home / MEMO_FILE).read_text())
    assert len(memo) == 2 and all("w0.bin" not in key for key in memo)


def test_remembered_value_is_computed_once_per_key(home: Path) -> None:
    calls: list[str] = []

    def compute(value: str) -> str:
        calls.append(value)
        return value

    assert file_digests.remembered("k1", lambda: compute("one")) == "one"
    assert file_digests.remembered("k1", lambda: compute("other")) == "one"
    assert file_digests.remembered("k2", lambda: compute("two")) == "two"
    assert calls == ["one", "two"]
    assert json.loads((home / MEMO_FILE).read_text()) == {"k1": "one", "k2": "two"}
