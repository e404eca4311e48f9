"""The run-directory files and the shared SQLite response cache."""

from __future__ import annotations

import json
import multiprocessing
from pathlib import Path

import numpy as np
import pytest

from harness.errors import DataError
from harness.store import ResponseCache, RunDirectory, write_json_atomic
from harness.types import Completion, GenerationParams, Request


def _writer(path: str, worker: int) -> None:
    cache = ResponseCache(Path(path))
    for i in range(50):
        cache.put_many({f"w{worker}-{i}": Completion(texts=[f"{worker}:{i}"])})
    cache.close()


def test_cache_is_safe_for_concurrent_processes(tmp_path: Path) -> None:
    path = tmp_path / "cache.sqlite"
    ResponseCache(path).close()
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_writer, args=(str(path), w)) for w in range(4)]
    for process in workers:
        process.start()
    for process in workers:
        process.join(60)
        assert process.exitcode == 0
    cache = ResponseCache(path)
    found = cache.get_many([f"w{w}-{i}" for w in range(4) for i in range(50)])
    assert len(found) == 200
    assert found["w3-49"].texts == ["3:49"]
    assert cache._conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_cache_never_stores_failures_and_clears(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path / "c.sqlite")
    cache.put_many({"ok": Completion(texts=["a"]), "bad": Completion.failed("boom")})
    assert set(cache.get_many(["ok", "bad"])) == {"ok"}
    assert cache.clear() == 1
    assert cache.get_many(["ok"]) == {}


def test_partial_last_line_is_repaired_and_malformed_lines_are_named(tmp_path: Path) -> None:
    run = RunDirectory(tmp_path)
    run.append_samples([{"id": "a"}, {"id": "b"}])
    with run.samples_path.open("a") as handle:
        handle.write('{"id": "c", "outp')
    run.repair_samples()
    assert run.finished_ids() == {"a", "b"}
    with run.samples_path.open("a") as handle:
        handle.write("not json\n")
    with pytest.raises(DataError, match=r"samples.jsonl:3: malformed record"):
        run.finished_ids()


def test_atomic_json_write_replaces_whole_file(tmp_path: Path) -> None:
    target = tmp_path / "run.json"
    write_json_atomic(target, {"status": "running"})
    write_json_atomic(target, {"status": "completed", "n": 3})
    assert json.loads(target.read_text()) == {"status": "completed", "n": 3}
    assert [p.name for p in tmp_path.iterdir()] == ["run.json"]


def test_samples_serialise_numpy_scalars_dataclasses_and_unknown_objects(tmp_path: Path) -> None:
    class Opaque:
        def __str__(self) -> str:
            return "opaque!"

    store = RunDirectory(tmp_path)
    store.append_samples(
        [
            {
                "id": "a",
                "metadata": {"n": np.int64(3), "x": np.float32(0.5), "pair": (1, 2), "tag": Opaque()},
                "scores": {"flag": np.bool_(True)},
                "requests": [Request("generate", "hi", GenerationParams(max_new_tokens=2))],
            }
        ]
    )
    store.append_samples([{"id": "b", "metadata": {(1, 2): "tuple key", np.int64(7): "numpy key"}}])
    record, odd_keys = store.iter_samples()
    assert odd_keys["metadata"] == {"(1, 2)": "tuple key", "7": "numpy key"}
    assert record["metadata"] == {"n": 3, "x": 0.5, "pair": [1, 2], "tag": "opaque!"}
    assert record["scores"] == {"flag": True}
    assert record["requests"][0]["params"]["max_new_tokens"] == 2
    assert record["requests"][0]["prompt"] == "hi"
