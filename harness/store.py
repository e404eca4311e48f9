"""The run-directory format and the SQLite response cache.

A run directory holds exactly three files (plus optional artifacts such as plots, and the lock
files of :mod:`harness.run_lock`):

* ``run.json`` – the manifest, rewritten atomically (temp file + ``os.replace``);
* ``samples.jsonl`` – one JSON record per finished instance, appended and flushed as soon as
  the instance is done, so a killed run loses at most the batch in flight;
* ``metrics.json`` – every metric with point estimate, 95% CI, n and n_errors.

The response cache is one SQLite file in WAL mode shared by all processes of a sweep; a
response is keyed by model identity + request + decoding parameters + seed. The same file keeps
classifier scores (keyed by scorer identity + text). Nothing else is cached: metrics, charts and
reports are recomputed from the samples on every run.
"""

from __future__ import annotations

import json
import os
import sqlite3
import tempfile
import time
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from harness.errors import ConfigError, DataError
from harness.types import SCHEMA_VERSION, Completion, json_default, stable_hash, to_jsonable

MANIFEST = "run.json"
SAMPLES = "samples.jsonl"
METRICS = "metrics.json"


def write_json_atomic(path: Path, payload: Any) -> None:
    """Write JSON to ``path`` so that readers see either the old or the new file, never half."""
    # json.dumps + one write: json.dump encodes in Python and writes each small piece.
    text = json.dumps(to_jsonable(payload), indent=2, sort_keys=False, default=str) + "\n"
    write_text_atomic(path, text)


def write_text_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so that readers see either the old or the new file, never half."""
    write_bytes_atomic(path, text.encode("utf-8"))


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see either the old or the new file, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_json(path: Path) -> Any:
    """Read a JSON file, naming the file when it is malformed."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DataError(f"malformed JSON ({exc.msg})", path=str(path), line=exc.lineno) from exc


def _sample_line(record: Mapping[str, Any]) -> str:
    """One samples.jsonl line; dict keys JSON cannot take (a tuple, a numpy integer) become strings."""
    try:
        return json.dumps(record, ensure_ascii=False, default=json_default)
    except TypeError:  # such keys are rare: convert the whole record first, as to_jsonable does
        return json.dumps(to_jsonable(record), ensure_ascii=False, default=str)


class RunDirectory:
    """Reads and writes one run directory (see the module docstring for the format)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    @property
    def manifest_path(self) -> Path:
        """Path of run.json."""
        return self.path / MANIFEST

    @property
    def samples_path(self) -> Path:
        """Path of samples.jsonl."""
        return self.path / SAMPLES

    @property
    def metrics_path(self) -> Path:
        """Path of metrics.json."""
        return self.path / METRICS

    def write_manifest(self, manifest: Mapping[str, Any]) -> None:
        """Atomically replace run.json."""
        write_json_atomic(self.manifest_path, manifest)

    def read_manifest(self) -> dict[str, Any] | None:
        """run.json, or None when the directory has none yet."""
        return read_json(self.manifest_path) if self.manifest_path.exists() else None

    def repair_samples(self) -> None:
        """Drop a trailing partial line left by a process killed in mid-write."""
        if not self.samples_path.exists():
            return
        data = self.samples_path.read_bytes()
        if data and not data.endswith(b"\n"):
            keep = data.rfind(b"\n") + 1
            with self.samples_path.open("r+b") as handle:
                handle.truncate(keep)

    def drop_errored_samples(self) -> int:
        """Remove the records of errored instances, so that a resumed run retries them.

        The file is rewritten atomically (a crash leaves the old one); returns how many records
        were removed. The kept lines are copied byte for byte.
        """
        if not self.samples_path.exists():
            return 0
        dropped = 0
        fd, tmp = tempfile.mkstemp(dir=self.path, prefix=f".{SAMPLES}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as out, self.samples_path.open("rb") as handle:
                for number, line in enumerate(handle, start=1):
                    try:
                        errored = bool(line.strip()) and json.loads(line).get("error") is not None
                    except json.JSONDecodeError as exc:
                        raise DataError(
                            f"malformed record ({exc.msg})", path=str(self.samples_path), line=number
                        ) from exc
                    if errored:
                        dropped += 1
                    else:
                        out.write(line)
                out.flush()
                os.fsync(out.fileno())
            if dropped:
                os.replace(tmp, self.samples_path)
        finally:
            Path(tmp).unlink(missing_ok=True)
        return dropped

    def iter_samples(self) -> Iterator[dict[str, Any]]:
        """Stream the records of samples.jsonl, naming the line of any malformed record."""
        if not self.samples_path.exists():
            return
        with self.samples_path.open(encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    yield json.loads(line)
                except json.JSONDecodeError as exc:
                    raise DataError(
                        f"malformed record ({exc.msg})", path=str(self.samples_path), line=number
                    ) from exc

    def finished_ids(self) -> set[str]:
        """Ids of instances already recorded (used to resume)."""
        return {record["id"] for record in self.iter_samples()}

    def append_samples(self, records: Iterable[Mapping[str, Any]]) -> None:
        """Append finished instances and flush them to disk before returning."""
        lines = [_sample_line(r) + "\n" for r in records]
        if not lines:
            return
        self.path.mkdir(parents=True, exist_ok=True)
        with self.samples_path.open("a", encoding="utf-8") as handle:
            handle.writelines(lines)
            handle.flush()
            os.fsync(handle.fileno())

    def write_metrics(self, payload: Mapping[str, Any]) -> None:
        """Atomically replace metrics.json."""
        write_json_atomic(self.metrics_path, {"schema_version": SCHEMA_VERSION, **payload})

    def read_metrics(self) -> dict[str, Any] | None:
        """metrics.json, or None when the run has not produced it."""
        return read_json(self.metrics_path) if self.metrics_path.exists() else None


TABLES = (("responses", "TEXT"), ("scores", "REAL"))
"""The cache's tables and their value types: model responses and classifier scores."""


class ResponseCache:
    """A process-safe SQLite cache of model responses and classifier scores (WAL)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path).expanduser()
        if self.path.is_dir():
            raise ConfigError(
                f"cache.path {self.path} is a folder; give a file, "
                f"e.g. cache.path={self.path / 'responses.sqlite'}"
            )
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(
                self.path, timeout=60.0, isolation_level=None, check_same_thread=False
            )
            self._conn.execute("PRAGMA busy_timeout = 60000")
            self._retry(lambda: self._conn.execute("PRAGMA journal_mode=WAL"))
            self._conn.execute("PRAGMA synchronous=NORMAL")
            for table, value_type in TABLES:
                self._retry(
                    lambda table=table, value_type=value_type: self._conn.execute(
                        f"CREATE TABLE IF NOT EXISTS {table} "
                        f"(key TEXT PRIMARY KEY, value {value_type} NOT NULL, created REAL)"
                    )
                )
        except sqlite3.DatabaseError as exc:  # not a SQLite file, or a damaged one
            raise DataError(
                f"not a usable response cache ({exc}); delete the file, or choose another with "
                "cache.path=<file> (cache.enabled=false runs without one)",
                path=str(self.path),
            ) from None
        except (sqlite3.Error, OSError) as exc:
            raise ConfigError(
                f"cannot open the response cache {self.path} ({exc}); choose another file with "
                "cache.path=<file>, or run without one with cache.enabled=false"
            ) from None

    @staticmethod
    def key(model_identity: str, request_key: str, seed: int) -> str:
        """The cache key: model identity + request (prompt, kind, decoding params) + seed."""
        return stable_hash([model_identity, request_key, seed])

    def _retry(self, operation: Any, attempts: int = 20) -> Any:
        for attempt in range(attempts):
            try:
                return operation()
            except sqlite3.OperationalError as exc:
                if ("locked" not in str(exc) and "busy" not in str(exc)) or attempt == attempts - 1:
                    raise
                time.sleep(0.05 * (attempt + 1))
        return None

    def _select(self, table: str, keys: Iterable[str]) -> list[tuple[str, Any]]:
        """(key, value) rows of ``table`` for the keys that have one, 500 keys per query."""
        keys = list(keys)
        rows: list[tuple[str, Any]] = []
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows += self._retry(
                lambda chunk=chunk, marks=marks: self._conn.execute(
                    f"SELECT key, value FROM {table} WHERE key IN ({marks})", chunk
                ).fetchall()
            )
        return rows

    def _insert(self, table: str, items: Mapping[str, Any]) -> None:
        """Insert or replace (key, value) rows in one short transaction."""
        rows = [(key, value, time.time()) for key, value in items.items()]
        if not rows:
            return

        def write() -> None:
            with self._conn:
                self._conn.execute("BEGIN IMMEDIATE")
                self._conn.executemany(f"INSERT OR REPLACE INTO {table} VALUES (?, ?, ?)", rows)

        self._retry(write)

    def get_many(self, keys: Iterable[str]) -> dict[str, Completion]:
        """Cached completions for the given keys (missing or invalid rows are absent from the result).

        The cache may be shared and tampered with: a row that is not a well-formed completion is a
        miss (:func:`harness.untrusted.completion_from_cache`), so the model is asked again.
        """
        from harness.untrusted import completion_from_cache

        found = {key: completion_from_cache(value) for key, value in self._select("responses", keys)}
        return {key: completion for key, completion in found.items() if completion is not None}

    def put_many(self, items: Mapping[str, Completion]) -> None:
        """Store successful completions in one short transaction; failures are never cached."""
        self._insert(
            "responses", {key: json.dumps(to_jsonable(c)) for key, c in items.items() if c.error is None}
        )

    def get_scores(self, keys: Iterable[str]) -> dict[str, float]:
        """Cached scorer outputs for the given keys (see :class:`harness.scorers.base.CachedScorer`)."""
        from harness.untrusted import score_from_cache

        found = {key: score_from_cache(value) for key, value in self._select("scores", keys)}
        return {key: score for key, score in found.items() if score is not None}

    def put_scores(self, items: Mapping[str, float]) -> None:
        """Store scorer outputs in one short transaction."""
        self._insert("scores", {key: float(value) for key, value in items.items()})

    def clear(self) -> int:
        """Delete everything cached (responses and scores); returns how many responses were removed."""
        count = self._conn.execute("SELECT COUNT(*) FROM responses").fetchone()[0]
        for table, _ in TABLES:
            self._retry(lambda table=table: self._conn.execute(f"DELETE FROM {table}"))
        return int(count)

    def close(self) -> None:
        """Close the connection."""
        self._conn.close()
