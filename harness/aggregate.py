"""Run directories -> tidy pandas frames (per-instance samples, metrics, manifests)."""

from __future__ import annotations

import glob
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd

from harness.store import MANIFEST, RunDirectory

RESERVED_COLUMNS = ("id", "error")


def sample_row(record: dict[str, Any]) -> dict[str, Any]:
    """Flatten one samples.jsonl record to a table row: id, error, metadata keys, score keys.

    Metadata comes from datasets (untrusted): a key named ``id`` or ``error`` keeps its value as
    ``metadata.id`` / ``metadata.error`` and never replaces the instance's own, so a column
    named "error" cannot mark an instance as failed (or hide a failure).
    """
    row: dict[str, Any] = {"id": record["id"], "error": record.get("error")}
    for source in ("metadata", "scores"):
        for key, value in (record.get(source) or {}).items():
            row[f"{source}.{key}" if key in RESERVED_COLUMNS else key] = value
    return row


def sample_frame(run_dir: Path) -> pd.DataFrame:
    """One row per instance of a run (model outputs are left out to keep the table small)."""
    rows = [sample_row(record) for record in RunDirectory(run_dir).iter_samples()]
    if not rows:
        return pd.DataFrame(columns=list(RESERVED_COLUMNS))
    frame = pd.DataFrame.from_records(rows)
    frame["error"] = frame["error"].astype(object).where(frame["error"].notna(), None)
    return frame


def find_run_dirs(paths: Iterable[str | Path]) -> list[Path]:
    """Every run directory (a folder with run.json) at or below the given paths or globs."""
    found: set[Path] = set()
    for raw in paths:
        raw_path = Path(raw)
        candidates = [Path(p) for p in sorted(glob.glob(str(raw), recursive=True))] or [raw_path]
        for candidate in candidates:
            if (candidate / MANIFEST).exists():
                found.add(candidate.resolve())
            elif candidate.is_dir():
                found.update(p.parent.resolve() for p in candidate.rglob(MANIFEST))
    return sorted(found)
