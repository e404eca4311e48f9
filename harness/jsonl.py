"""Read local JSON Lines files, one object per line, with errors that name the file and the line.

Scenarios and adapters that take a local JSONL file (prompt lists, recorded outputs) read it
here rather than through ``datasets``: its JSON builder reports a malformed row without the line
number, and importing it costs about 0.3 s of start-up. The standard library's ``json`` does
the parsing; what is written here is only the line bookkeeping and the messages.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from harness.errors import DataError


def read_jsonl(
    path: str | Path, required: Sequence[str] = (), hint: str = ""
) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield (line number, object) for every non-blank line of ``path``.

    Raises :class:`~harness.errors.DataError` naming the file and line for a line that is not
    valid JSON, not a JSON object, or lacks one of the ``required`` fields (``hint``, when given,
    is appended to that last message to say how to fix it). A missing file names the file.
    """
    path = Path(path).expanduser()
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise DataError(f"cannot read this file ({exc.strerror})", path=str(path)) from exc
    with handle:
        for number, raw in enumerate(handle, start=1):
            try:
                line = raw.decode("utf-8-sig" if number == 1 else "utf-8")  # a leading BOM is fine
            except UnicodeDecodeError as exc:
                raise DataError(
                    f"not UTF-8 text (byte 0x{raw[exc.start]:02x} at column {exc.start + 1}); "
                    "save the file as UTF-8",
                    path=str(path),
                    line=number,
                ) from exc
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(
                    f"not valid JSON ({exc.msg} at column {exc.colno})", path=str(path), line=number
                ) from exc
            if not isinstance(record, dict):
                raise DataError("each line must be a JSON object", path=str(path), line=number)
            missing = [name for name in required if name not in record]
            if missing:
                raise DataError(
                    f"missing field {missing[0]!r} (fields: {sorted(record)})"
                    + (f"; {hint}" if hint else ""),
                    path=str(path),
                    line=number,
                )
            yield number, record
