"""A resumed run keeps its protocol; a capability probe that cannot decide stops the run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from harness.adapters.openai import OpenAIAdapter, OpenAIParams
from harness.adapters.simulated import SimulatedAdapter, SimulatedParams
from harness.config import HarnessSettings
from harness.errors import AdapterError, ConfigError
from harness.evaluate import ScenarioRun, build_scenario, run_scenario
from harness.runner import RunResult
from harness.scenario import ScenarioContext
from harness.types import Capability
from tests.helpers import CoinParams, CoinScenario, coin_rules
from tests.servers.openai_fault_server import FaultConfig, FaultServer

FAST = {"api_key_env": None, "timeout_s": 5.0, "backoff_initial_s": 0.01, "backoff_max_s": 0.02}


def _adapter(server: FaultServer, **params: Any) -> OpenAIAdapter:
    return OpenAIAdapter(OpenAIParams(base_url=server.base_url, **{**FAST, **params}))


def _pronouns(adapter: OpenAIAdapter, run_dir: Path) -> RunResult:
    settings = HarnessSettings(progress=False, limit=4, bootstrap_resamples=50)
    scenario = build_scenario({"name": "pronoun_fairness"}, adapter, settings, run_dir)
    return run_scenario(ScenarioRun(scenario, adapter, run_dir, {}, settings), None)


def _request_kinds(run_dir: Path) -> set[str]:
    lines = (run_dir / "samples.jsonl").read_text().splitlines()
    return {r["kind"] for line in lines for r in json.loads(line)["requests"]}


@pytest.mark.parametrize(("probe", "key"), [("log-likelihood", "loglikelihood"), ("chat", "chat")])
def test_a_probe_that_fails_after_its_retries_is_an_error_not_a_no(probe: str, key: str) -> None:
    other = {"chat": True} if key == "loglikelihood" else {"loglikelihood": True}
    with FaultServer(FaultConfig(schedule=("server_error",) * 3)) as server:
        adapter = _adapter(server, max_retries=2, **other)
        with pytest.raises(AdapterError) as error:
            adapter.capabilities()
    message = str(error.value)
    assert (
        message.startswith(f"the {probe} probe of {server.base_url} could not decide") and "\n" not in message
    )
    assert "HTTP 500" in message and f"model.{key}=true|false" in message


def test_an_outage_that_ends_within_the_retries_decides_as_usual() -> None:
    with FaultServer(FaultConfig(schedule=("server_error",) * 3)) as server:
        adapter = _adapter(server, max_retries=5, chat=True)  # the outage ends within the retries
        assert Capability.LOGLIKELIHOOD in adapter.capabilities()


def test_a_resumed_run_keeps_the_generative_protocol_it_started_with(tmp_path: Path) -> None:
    with FaultServer() as server:
        _pronouns(_adapter(server, loglikelihood=False), tmp_path)
        assert _request_kinds(tmp_path) == {"generate"}
        first_line = (tmp_path / "samples.jsonl").read_text().splitlines()[0]
        (tmp_path / "samples.jsonl").write_text(first_line + "\n")  # as if killed after one instance
        resumed = _pronouns(_adapter(server), tmp_path)  # the probe now finds log-likelihoods
    assert resumed.n_instances > 1 and _request_kinds(tmp_path) == {"generate"}
    manifest = json.loads((tmp_path / "run.json").read_text())
    assert manifest["protocol"] == manifest["scenario"]["protocol"] == "generative"
    assert not [m.name for m in resumed.metrics if "loglik" in m.name]


def test_a_resumed_run_whose_protocol_the_model_lost_is_refused(tmp_path: Path) -> None:
    with FaultServer() as server:
        _pronouns(_adapter(server), tmp_path)
        assert _request_kinds(tmp_path) == {"loglikelihood"}
        with pytest.raises(ConfigError, match="the run being resumed used the loglikelihood protocol"):
            _pronouns(_adapter(server, loglikelihood=False), tmp_path)


class SwitchingScenario(CoinScenario):
    """A third-party scenario that picks its protocol without looking at ``resumed_protocol``."""

    current = "first"

    def protocol(self) -> str:
        return self.current


def test_the_engine_refuses_a_resume_under_another_protocol(tmp_path: Path) -> None:
    adapter = SimulatedAdapter(SimulatedParams(rules=coin_rules(0.5)))
    settings = HarnessSettings(progress=False, bootstrap_resamples=50)
    context = ScenarioContext(seed=0, capabilities=adapter.capabilities(), bootstrap_resamples=50)
    scenario = SwitchingScenario(CoinParams(n=6), context)
    run_scenario(ScenarioRun(scenario, adapter, tmp_path, {}, settings), None)
    scenario.current = "second"
    with pytest.raises(ConfigError, match=r"was started with the first protocol, but .* the second protocol"):
        run_scenario(ScenarioRun(scenario, adapter, tmp_path, {}, settings), None)
