"""Reading JSON Lines files: rows with their line numbers, and errors that name the file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.errors import DataError
from harness.jsonl import read_jsonl


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "rows.jsonl"
    path.write_text(text, encoding="utf-8")
    return path


def test_rows_come_with_their_line_numbers_and_blank_lines_are_skipped(tmp_path: Path) -> None:
    path = write(tmp_path, '{"id": 1, "prompt": "a"}\n\n  \n{"id": 2, "prompt": "b"}\n')
    assert list(read_jsonl(path, ("id", "prompt"))) == [
        (1, {"id": 1, "prompt": "a"}),
        (4, {"id": 2, "prompt": "b"}),
    ]


def test_malformed_json_names_file_line_and_column(tmp_path: Path) -> None:
    path = write(tmp_path, '{"id": 1}\n{"id": 2,}\n')
    with pytest.raises(DataError) as error:
        list(read_jsonl(path))
    assert (
        str(error.value)
        == f"{path}:2: not valid JSON (Expecting property name enclosed in double quotes at column 10)"
    )


def test_a_line_that_is_not_an_object_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, '{"id": 1}\n[1, 2]\n')
    with pytest.raises(DataError, match=r"rows\.jsonl:2: each line must be a JSON object"):
        list(read_jsonl(path))


def test_a_missing_field_names_the_field_the_fields_present_and_the_fix(tmp_path: Path) -> None:
    path = write(tmp_path, '{"id": 1, "prompt": "a"}\n{"id": 2, "text": "b"}\n')
    rows = read_jsonl(path, ("id", "prompt"), hint="rename the column to prompt")
    assert next(rows) == (1, {"id": 1, "prompt": "a"})  # streamed: the first row arrives before the bad one
    with pytest.raises(DataError) as error:
        next(rows)
    assert str(error.value) == (
        f"{path}:2: missing field 'prompt' (fields: ['id', 'text']); rename the column to prompt"
    )


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(
        DataError, match=r"nowhere\.jsonl: cannot read this file \(No such file or directory\)"
    ):
        list(read_jsonl(tmp_path / "nowhere.jsonl"))


def test_text_that_is_not_utf8_names_the_line_and_a_leading_bom_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "rows.jsonl"
    path.write_bytes(b'\xef\xbb\xbf{"id": 1}\n{"id": "caf\xe9"}\n')
    rows = read_jsonl(path)
    assert next(rows) == (1, {"id": 1})
    with pytest.raises(DataError) as error:
        next(rows)
    assert str(error.value) == f"{path}:2: not UTF-8 text (byte 0xe9 at column 12); save the file as UTF-8"
