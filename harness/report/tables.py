"""Tidy tables to CSV and parquet, with mixed or nested cells made text first."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from harness.report.frames import tabular_safe


def write_tables(tables: Mapping[str, pd.DataFrame], out_dir: Path) -> list[Path]:
    """Write ``<name>.csv`` and ``<name>.parquet`` for every table; returns the paths written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, frame in tables.items():
        safe = tabular_safe(frame)
        csv_path = out_dir / f"{name}.csv"
        safe.to_csv(csv_path, index=False)
        parquet_path = out_dir / f"{name}.parquet"
        safe.to_parquet(parquet_path, index=False)
        written.extend([csv_path, parquet_path])
    return written
