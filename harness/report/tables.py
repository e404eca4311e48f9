"""Tidy tables to CSV and parquet, with mixed or nested cells made text first.

Every CSV the project writes goes through this module, because a CSV is opened in spreadsheets
and its cells hold untrusted text (model outputs, dataset fields, server error messages). A cell
that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is a formula to Excel,
LibreOffice and Google Sheets ("CSV injection"), so such cells are written with a leading single
quote, as the OWASP "CSV Injection" page recommends; spreadsheets show the text as it was.
Numeric columns are not text and stay as they are (a negative score is still a number). Parquet
files keep the raw text: they are read by programs, not spreadsheets.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from harness.report.frames import tabular_safe

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""First characters that make a spreadsheet read a cell as a formula (OWASP CSV Injection)."""
_FORMULA_PATTERN = r"^[=+\-@\t\r]"


def escape_formula(value: Any) -> Any:
    """``value`` with a leading ``'`` when it is text a spreadsheet would run as a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def escape_row(row: Mapping[str, Any]) -> dict[str, Any]:
    """A row for :class:`csv.DictWriter` with every text cell escaped (:func:`escape_formula`)."""
    return {key: escape_formula(value) for key, value in row.items()}


def escape_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` whose text cells are escaped (:func:`escape_formula`), for ``to_csv``."""
    escaped = frame.copy()
    for column in escaped.columns:
        if escaped[column].dtype == object or pd.api.types.is_string_dtype(escaped[column].dtype):
            escaped[column] = escaped[column].map(escape_formula)
    return escaped


def write_csv(frame: pd.DataFrame, path: Path) -> Path:
    """Write one small artifact table as CSV (no index) with its text cells escaped; returns the path.

    Text cells are quoted, as in :func:`write_tables`: pandas' default quoting leaves a carriage
    return inside a cell bare, and readers then split the row there.
    """
    import csv

    escape_frame(frame).to_csv(path, index=False, quoting=csv.QUOTE_NONNUMERIC)
    return path


def write_rows(rows: Iterable[Mapping[str, Any]], columns: list[str], path: Path) -> Path:
    """Write dict rows as CSV through :class:`csv.DictWriter`, text cells escaped; returns the path."""
    import csv

    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(escape_row(row) for row in rows)
    return path


def _escaped_for_csv(table: Any) -> Any:
    """The Arrow table with every text column's formula-like cells prefixed by ``'``."""
    import pyarrow as pa
    import pyarrow.compute as pc

    columns = []
    for column in table.columns:
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            risky = pc.match_substring_regex(column, _FORMULA_PATTERN)
            quote = pa.scalar("'", type=column.type)
            prefixed = pc.binary_join_element_wise(quote, column, pa.scalar("", type=column.type))
            column = pc.if_else(risky, prefixed, column)
        columns.append(column)
    return pa.Table.from_arrays(columns, names=table.column_names)


def write_tables(tables: Mapping[str, pd.DataFrame], out_dir: Path) -> list[Path]:
    """Write ``<name>.csv`` and ``<name>.parquet`` for every table; returns the paths written.

    Each table is converted to Arrow once and both files are written from it by Arrow's C++
    writers: pandas' ``to_csv`` formats every cell in Python and took 65 ms of the report's
    1,071-row samples table, against 10 ms for the conversion and Arrow's CSV writer together
    (benchmarks/warm_cache.py). Strings are quoted, missing values are empty fields and
    booleans are written ``true``/``false``; the CSV's formula-like text cells are escaped (see
    the module docstring), the parquet file keeps them raw.
    """
    import pyarrow as pa
    import pyarrow.csv as arrow_csv
    import pyarrow.parquet as parquet

    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, frame in tables.items():
        table = pa.Table.from_pandas(tabular_safe(frame), preserve_index=False)
        csv_path = out_dir / f"{name}.csv"
        arrow_csv.write_csv(_escaped_for_csv(table), csv_path)
        parquet_path = out_dir / f"{name}.parquet"
        parquet.write_table(table, parquet_path)
        written.extend([csv_path, parquet_path])
    return written
