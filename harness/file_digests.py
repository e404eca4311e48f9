"""SHA-256 digests of the files that identify a model or a scorer, remembered by the files' status.

A model's and a scorer's identity include the digest of the whole content of their weights, so
that a cached response or score is only ever reused with the weights that produced it. Reading
gigabytes of weights on every run would dominate start-up, so :func:`remembered_digest` and
:func:`remembered_digests` keep each digest with the files' status
(path, size, modification and status-change times in nanoseconds, device and inode) in
``$RAI_HARNESS_HOME/digests.json`` and hashes again as soon as any of those changes, the test
``git`` relies on for its index. Writing a file, or copying one over it with its old time stamp
preserved, changes its status-change time. :func:`remembered` keeps other values derived from
files the same way (the reference model's build id, :mod:`harness.reference.build`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path

from harness.home import home

CHUNK = 1 << 20
MEMO_FILE = "digests.json"
MEMO_ENTRIES = 256
"""The memo keeps the most recent entries only, so it cannot grow without bound."""


def file_digest(paths: Iterable[Path]) -> str:
    """SHA-256 over the names and contents of ``paths`` (sorted), identifying model files."""
    digest = hashlib.sha256()
    for path in sorted(Path(p) for p in paths):
        digest.update(path.name.encode())
        digest.update(b"\0")
        with path.open("rb") as handle:
            while chunk := handle.read(CHUNK):
                digest.update(chunk)
    return digest.hexdigest()


def status_key(paths: Iterable[Path]) -> str:
    """The files' status (resolved path, size, times in ns, device, inode) as one string."""
    status = []
    for path in map(Path, paths):
        stat = path.stat()
        status.append(
            [str(path.resolve()), stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_dev, stat.st_ino]
        )
    return json.dumps(status)


def _read_memo(memo_path: Path) -> dict[str, str]:
    try:
        memo = json.loads(memo_path.read_text())
    except (OSError, ValueError):  # none yet, unreadable or half-written by a crash: start afresh
        return {}
    if not isinstance(memo, dict):
        return {}
    return {key: value for key, value in memo.items() if isinstance(value, str)}


def _write_memo(memo_path: Path, memo: dict[str, str]) -> None:
    """Replace the memo atomically; a home that cannot be written only costs a re-hash next time.

    Two processes writing at once keep the last one's memo: the other's new entry is hashed again
    on its next use, never wrong.
    """
    try:
        memo_path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=memo_path.parent, prefix=f".{MEMO_FILE}.")
    except OSError:
        return
    try:
        with os.fdopen(handle, "w") as out:
            json.dump(memo, out)
        os.replace(temporary, memo_path)
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(temporary)


def remembered(key: str, compute: Callable[[], str]) -> str:
    """``compute()``, kept in the memo under ``key`` and returned from it while the key recurs.

    ``key`` must name everything the value depends on (for files, their :func:`status_key`).
    """
    memo_path = home() / MEMO_FILE
    memo = _read_memo(memo_path)
    if key in memo:
        return memo[key]
    value = compute()
    memo[key] = value  # newest last: trimming keeps the most recent entries
    _write_memo(memo_path, dict(list(memo.items())[-MEMO_ENTRIES:]))
    return value


def remembered_digest(paths: Iterable[Path]) -> str:
    """:func:`file_digest` of ``paths``, reused while none of the files' status has changed."""
    files = sorted(Path(p) for p in paths)
    return remembered(status_key(files), lambda: file_digest(files))


def remembered_digests(paths: Iterable[Path]) -> list[str]:
    """:func:`file_digest` of each file in ``paths`` (in order), each reused while its status is unchanged.

    The memo is read and written once for all of them.
    """
    memo_path = home() / MEMO_FILE
    memo = _read_memo(memo_path)
    digests, changed = [], False
    for path in map(Path, paths):
        key = status_key([path])
        if key not in memo:
            memo[key], changed = file_digest([path]), True
        digests.append(memo[key])
    if changed:
        _write_memo(memo_path, dict(list(memo.items())[-MEMO_ENTRIES:]))
    return digests
