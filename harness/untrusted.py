"""Reading untrusted files and cache rows safely: run directories, response caches, home folders.

A run directory, a response cache shared between CI jobs and the files under
``$RAI_HARNESS_HOME`` can all be written by someone else (docs/security.md). What is read from
them must never make the harness read or write outside the folder it belongs to, run code, or
crash with a traceback:

* :func:`relative_inside` accepts a stored path only when it is relative, normalized and stays
  inside its root;
* :func:`files_inside` and :func:`read_file_inside` never follow a symbolic link and never return
  a file whose real path lies outside the root (nor a hard link, which could name any file of the
  same file system);
* :func:`completion_from_cache` and :func:`score_from_cache` turn a cache row into a value only
  when it has exactly the expected shape and types; anything else is a cache miss, so the answer
  is asked of the model again instead of trusted.
"""

from __future__ import annotations

import json
import math
import os
import stat
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any

from harness.errors import DataError
from harness.types import Completion


def relative_inside(root: Path, stored: str) -> Path:
    """``root / stored`` for a stored relative path; a path that could leave ``root`` is a DataError.

    Refused: absolute paths, drive or backslash forms, empty parts, ``.`` and ``..`` parts (the
    path must already be normalized), and NUL characters.
    """
    parts = PurePosixPath(stored).parts
    normalized = (
        stored
        and "\\" not in stored
        and "\x00" not in stored
        and not PurePosixPath(stored).is_absolute()
        and ":" not in parts[0]
        and all(part not in ("", ".", "..") for part in parts)
        and "/".join(parts) == stored
    )
    if not normalized:
        raise DataError(
            f"refused the stored path {stored!r}: paths must be relative, normalized and inside {root}"
        )
    return root.joinpath(*parts)


def _inside(root_real: str, path: str) -> bool:
    return os.path.commonpath([root_real, os.path.realpath(path)]) == root_real


def files_inside(root: Path) -> Iterator[Path]:
    """Every regular file under ``root`` in sorted order, without following any symbolic link."""
    for folder, dirs, names in os.walk(root, followlinks=False):
        dirs[:] = sorted(d for d in dirs if not os.path.islink(os.path.join(folder, d)))
        for name in sorted(names):
            path = os.path.join(folder, name)
            if not os.path.islink(path):
                yield Path(path)


def read_file_inside(root: Path, path: Path, max_bytes: int) -> bytes | None:
    """The bytes of ``path`` when it is a plain file inside ``root`` of at most ``max_bytes``; else None.

    The file is opened without following a symbolic link (``O_NOFOLLOW``) and checked on the open
    descriptor, so a link swapped in after the check is not read either. A file with several hard
    links is refused: one of its names may lie anywhere on the same file system.
    """
    root_real = os.path.realpath(root)
    if not _inside(root_real, str(path)):
        return None
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    except OSError:
        return None
    with os.fdopen(fd, "rb") as handle:
        status = os.fstat(handle.fileno())
        if not stat.S_ISREG(status.st_mode) or status.st_nlink != 1 or status.st_size > max_bytes:
            return None
        return handle.read(max_bytes + 1)[:max_bytes]


COMPLETION_FIELDS = {"texts": str, "logprobs": float, "token_counts": int, "greedy": bool}


def completion_from_cache(value: Any) -> Completion | None:
    """The cached completion in a response-cache row, or None when the row is not a valid one.

    A valid row is a JSON object with only :class:`~harness.types.Completion`'s list fields, each a
    list of its own type (log-probabilities finite or ``-inf``), and no error (failures are never
    cached). Anything else was not written by the harness: it is a miss, not an answer.
    """
    try:
        data = json.loads(value)
    except (TypeError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("error") is not None:
        return None
    data.pop("error", None)
    if not set(data) <= set(COMPLETION_FIELDS):
        return None
    for name, kind in COMPLETION_FIELDS.items():
        items = data.get(name, [])
        if not isinstance(items, list) or not all(_is(item, kind) for item in items):
            return None
    return Completion(**data)


def _is(item: Any, kind: type) -> bool:
    if kind is float:
        return (
            isinstance(item, int | float)
            and not isinstance(item, bool)
            and not math.isnan(item)
            and item != math.inf
        )
    if kind is int:
        return isinstance(item, int) and not isinstance(item, bool) and item >= 0
    return isinstance(item, kind)


def score_from_cache(value: Any) -> float | None:
    """A cached scorer output as a finite float, or None when the row holds anything else.

    Only finite scores are ever stored (:class:`~harness.scorers.base.CachedScorer`).
    """
    if isinstance(value, bool) or not isinstance(value, int | float | str | bytes):
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return None if math.isnan(number) or math.isinf(number) else number
