"""Whole runs through the openai adapter against a faulty server: nothing lost or changed, no key leaked."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from harness.adapters.openai import OpenAIAdapter, OpenAIParams
from harness.store import RunDirectory
from tests.servers.openai_fault_server import FAULTS, Behaviour, FaultConfig, FaultServer
from tests.servers.tiny_scenario import run_tiny


def adapter_for(server: FaultServer, **overrides: Any) -> OpenAIAdapter:
    params: dict[str, Any] = {
        "base_url": server.base_url,
        "api_key_env": None,
        "timeout_s": 1.0,
        "max_retries": 10,
        "backoff_initial_s": 0.01,
        "backoff_max_s": 0.1,
        **overrides,
    }
    return OpenAIAdapter(OpenAIParams(**params))


def samples_by_id(run_dir: Path) -> dict[str, dict[str, Any]]:
    return {record["id"]: record for record in RunDirectory(run_dir).iter_samples()}


@pytest.mark.parametrize(
    ("rate", "stream", "honour_n", "fault_seed"),
    [(0.3, False, True, 1), (0.4, True, False, 2)],
    ids=["30pct-json", "40pct-stream-server-ignores-n"],
)
def test_a_faulty_server_gives_the_same_run_as_a_clean_one(
    tmp_path: Path, rate: float, stream: bool, honour_n: bool, fault_seed: int
) -> None:
    behaviour = Behaviour(honour_n=honour_n)
    scenario = {"n_instances": 24, "numbered": True, "k": 3, "temperature": 0.9}
    with FaultServer(behaviour=behaviour) as clean_server:
        clean_metrics, clean_n, clean_errors = run_tiny(
            adapter_for(clean_server, stream=stream), tmp_path / "clean", seed=3, **scenario
        )
    faults = FaultConfig(rate=rate, hang_s=2.0, seed=fault_seed)
    with FaultServer(faults, Behaviour(honour_n=honour_n)) as faulty_server:
        adapter = adapter_for(faulty_server, stream=stream, concurrency=6)
        metrics, n, errors = run_tiny(adapter, tmp_path / "faulty", seed=3, **scenario)
        injected = faulty_server.state.faults
        posts = len(faulty_server.completion_records())

    assert (n, errors) == (clean_n, clean_errors) == (24, 0)
    clean, faulty = samples_by_id(tmp_path / "clean"), samples_by_id(tmp_path / "faulty")
    assert faulty.keys() == clean.keys()
    for instance_id, record in clean.items():
        assert faulty[instance_id]["outputs"] == record["outputs"], instance_id
        assert faulty[instance_id]["scores"] == record["scores"], instance_id
    assert metrics == clean_metrics
    assert json.loads((tmp_path / "faulty" / "metrics.json").read_text()) == json.loads(
        (tmp_path / "clean" / "metrics.json").read_text()
    )
    # the faults really happened, at about the configured rate, and every kind was exercised
    assert set(injected) == set(FAULTS)
    assert abs(sum(injected.values()) / posts - rate) < 0.1
    assert adapter.client.stats["failed"] == 0


def test_failures_after_retries_are_recorded_as_errors_never_scored(tmp_path: Path) -> None:
    faults = FaultConfig(rate=0.4, kinds=("server_error",), seed=5)
    with FaultServer(faults) as server:
        adapter = adapter_for(server, max_retries=0, timeout_s=10.0, loglikelihood=True, chat=True)
        metrics, n, errors = run_tiny(adapter, tmp_path, seed=0, n_instances=20, numbered=True)
    records = samples_by_id(tmp_path)
    failed = {i for i, r in records.items() if r["error"]}
    assert n == 20 and errors == len(failed) and 0 < errors < 20
    for instance_id in failed:
        assert records[instance_id]["scores"] == {}
        assert "HTTP 500: internal error" in records[instance_id]["error"]
    mean = next(m for m in metrics if m.name == "sample_words" and m.group is None)
    assert (mean.n, mean.n_errors) == (20 - errors, errors)
