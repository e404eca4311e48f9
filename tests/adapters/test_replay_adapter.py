"""The replay adapter serves recorded outputs and names what is missing or malformed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.adapters.replay import ReplayAdapter, ReplayParams
from harness.errors import DataError
from harness.types import GenerationParams, Request


def _write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_replay_by_instance_id_with_k_samples(tmp_path: Path) -> None:
    path = _write_jsonl(
        tmp_path / "out.jsonl", [{"id": "a", "output": ["x", "y"]}, {"id": "b", "output": "z"}]
    )
    adapter = ReplayAdapter(ReplayParams(path=str(path)))
    assert adapter.deduplicate is False and adapter.cacheable is False
    requests = [
        Request("generate", "same prompt", GenerationParams(n=2), instance_id="a"),
        Request("generate", "same prompt", GenerationParams(n=1), instance_id="b"),
        Request("generate", "same prompt", GenerationParams(n=3), instance_id="b"),
    ]
    results = adapter.generate(requests, seed=0)
    assert results[0].texts == ["x", "y"] and results[1].texts == ["z"]
    assert results[2].error == "1 recorded output(s) for 'b', but 3 requested"


def test_replay_by_prompt_from_csv(tmp_path: Path) -> None:
    path = tmp_path / "out.csv"
    path.write_text("prompt,completion\nHello,world\nBye,now\n")
    adapter = ReplayAdapter(ReplayParams(path=str(path), key="prompt", output_field="completion"))
    assert adapter.generate([Request("generate", "Bye")], seed=0)[0].texts == ["now"]


def test_missing_keys_are_listed(tmp_path: Path) -> None:
    path = _write_jsonl(tmp_path / "out.jsonl", [{"id": "a", "output": "x"}])
    adapter = ReplayAdapter(ReplayParams(path=str(path)))
    requests = [Request("generate", "p", instance_id=i) for i in ("a", "b", "c")]
    with pytest.raises(DataError, match=r"no recorded output for 2 id key\(s\): 'b', 'c'"):
        adapter.generate(requests, seed=0)


def test_malformed_jsonl_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"id": "a", "output": "x"}\n{"id": "b", "output": \n')
    with pytest.raises(DataError, match=r"bad.jsonl:2: not valid JSON"):
        ReplayAdapter(ReplayParams(path=str(path)))
    path.write_text('{"id": "a", "output": "x"}\n{"id": "b", "text": "y"}\n')
    with pytest.raises(DataError, match=r"bad.jsonl:2: missing field 'output'"):
        ReplayAdapter(ReplayParams(path=str(path)))
