"""A new HTTP provider is one small module: a Bedrock-style gateway adapter built on the shared client.

``GatewayAdapter`` below is the whole adapter for a provider whose wire format is not OpenAI's
(``POST /model/<id>/invoke`` with ``{"prompt", "max_gen_len", ...}`` -> ``{"generation"}``). It only
builds payloads and reads answers; concurrency, deadlines, retries with backoff and
``Retry-After``, rate limits, secret redaction and fail-closed errors come from
:mod:`harness.adapters.http_client`. The test runs it through the real Runner against the faulty
server and gets the same run as against a clean one. docs/openai_adapter.md shows this module.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.adapters.http_client import ResilientClient, complete_all
from harness.adapters.http_ratelimit import RateLimiter
from harness.adapters.http_retry import RetryPolicy, TransientError
from harness.adapters.openai import derive_seed
from harness.model import AdapterParams, ModelAdapter, ProgressCallback
from harness.store import RunDirectory
from harness.types import Capability, Completion, ModelInfo, Request, prompt_text, stable_hash
from tests.servers.openai_fault_server import Behaviour, FaultConfig, FaultServer
from tests.servers.tiny_scenario import run_tiny

# --- the provider module (what a plugin package would ship as, e.g., my_gateway/adapter.py) ----


@dataclass
class GatewayParams(AdapterParams):
    """Settings of the gateway adapter (a plugin's conf/model/<name>.yaml lists them)."""

    name: str = "gateway"
    model: str = "example-model"
    base_url: str = "http://127.0.0.1:8080"
    api_key_env: str | None = None
    concurrency: int = 4
    timeout_s: float = 30.0
    max_retries: int = 6


def read_generation(body: dict[str, Any]) -> str:
    """The text of an invoke answer; a missing one is a clear, retried error."""
    if not isinstance(body.get("generation"), str):
        raise TransientError(
            f"invalid response: no 'generation' text (stop_reason={body.get('stop_reason')!r})"
        )
    return body["generation"]


class GatewayAdapter(ModelAdapter):
    """Text generation through a Bedrock-style ``POST /model/<id>/invoke`` gateway."""

    Params = GatewayParams

    def __init__(self, params: GatewayParams) -> None:
        super().__init__(params)
        self.params: GatewayParams = params
        key = os.environ[params.api_key_env] if params.api_key_env else None
        self.client = ResilientClient(
            params.base_url,
            headers={"x-api-key": key} if key else {},
            secrets=[key],
            policy=RetryPolicy(max_retries=params.max_retries, backoff_initial_s=0.01, backoff_max_s=0.1),
            limiter=RateLimiter(),
            concurrency=params.concurrency,
            timeout_s=params.timeout_s,
        )

    def capabilities(self) -> frozenset[Capability]:
        """Generation only: the gateway returns no log-probabilities."""
        return frozenset({Capability.GENERATE})

    def info(self) -> ModelInfo:
        """The model id; the gateway URL is part of the cache identity."""
        behaviour = stable_hash([self.params.base_url, self.params.model])
        return ModelInfo(adapter="gateway", model_id=self.params.model, extra={"behaviour": behaviour})

    def generate(
        self, requests: Sequence[Request], seed: int, progress: ProgressCallback | None = None
    ) -> list[Completion]:
        """One invoke call per sample, all concurrent; failures become ``Completion.failed``."""

        async def sample(request: Request, index: int) -> str:
            run_seed = 0 if request.params.temperature == 0 else seed
            body = {
                "prompt": prompt_text(request.prompt),
                "max_gen_len": request.params.max_new_tokens,
                "temperature": request.params.temperature,
                "seed": derive_seed(run_seed, request.key(), index),
            }
            return await self.client.post_json(f"/model/{self.params.model}/invoke", body, read_generation, 0)

        async def complete(request: Request) -> Completion:
            return Completion(texts=[await sample(request, j) for j in range(request.params.n)])

        return self.client.run(lambda: complete_all([lambda r=r: complete(r) for r in requests], progress))


# --- the test ----------------------------------------------------------------------------------


def test_a_gateway_adapter_in_one_small_module_inherits_retries_and_fails_closed(tmp_path: Path) -> None:
    scenario = {"n_instances": 12, "numbered": True, "k": 2, "loglikelihood": False}
    with FaultServer() as clean_server:
        clean = GatewayAdapter(GatewayParams(base_url=clean_server.root_url))
        run_tiny(clean, tmp_path / "clean", seed=1, **scenario)
    faults = FaultConfig(rate=0.3, hang_s=2.0, seed=4)
    with FaultServer(faults, Behaviour()) as server:
        adapter = GatewayAdapter(GatewayParams(base_url=server.root_url, timeout_s=1.0, max_retries=10))
        _, n, errors = run_tiny(adapter, tmp_path / "faulty", seed=1, **scenario)
        injected = sum(server.state.faults.values())
    assert (n, errors) == (12, 0) and injected > 0 and adapter.client.stats["retries"] >= injected
    clean_records = {r["id"]: r["outputs"] for r in RunDirectory(tmp_path / "clean").iter_samples()}
    faulty_records = {r["id"]: r["outputs"] for r in RunDirectory(tmp_path / "faulty").iter_samples()}
    assert faulty_records == clean_records
