"""The openai adapter against a real llama.cpp server (``llama-cpp-python[server]``) on 127.0.0.1.

The server serves a tiny Llama model built here (tests/integration/tiny_llama.py: SentencePiece
tokenizer, trained on a small corpus, converted to GGUF). Completions, chat and prompt
log-probabilities all go through the adapter, and log-probabilities are checked against the same
weights run by transformers, which also checks the GGUF conversion and the adapter's token
bookkeeping. Finally the built-in pronoun_fairness scenario runs end to end through the CLI.

``.ci/llama_cpp.sh`` installs llama-cpp-python (built from source, wheel cached) and builds the
model; the tests are skipped only when llama-cpp-python is not installed.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip(
    "llama_cpp", reason="llama-cpp-python is not installed; run .ci/llama_cpp.sh to build and install it"
)

from harness.adapters.openai import OpenAIAdapter, OpenAIParams
from harness.types import Capability, ChatMessage, GenerationParams, Request
from tests.integration.tiny_llama import build
from tests.servers.tiny_scenario import run_tiny

pytestmark = pytest.mark.slow

MODEL_CACHE = (
    Path(os.environ.get("RAI_HARNESS_CACHE_DIR", "~/.cache/rai-harness")).expanduser() / "tiny-llama"
)
API_KEY = "sk-llamacpp-integration"
BIN = Path(sys.executable).parent
REPO = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def tiny_gguf() -> Path:
    """The tiny GGUF model (built once into the user cache, about a minute on 2 cores)."""
    return build(MODEL_CACHE)


@contextlib.contextmanager
def serve(tiny_gguf: Path, n_ctx: int = 256) -> Iterator[str]:
    """A llama-cpp-python server on a free local port, requiring API_KEY; yields its base URL."""
    import httpx

    port = _free_port()
    command = [
        sys.executable, "-m", "llama_cpp.server",
        "--model", str(tiny_gguf), "--model_alias", "tiny-llama",
        "--host", "127.0.0.1", "--port", str(port),
        "--n_ctx", str(n_ctx), "--n_threads", "2", "--api_key", API_KEY,
    ]  # fmt: skip
    log = (tiny_gguf.parent / f"server-{port}.log").open("w")
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    base_url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 180
        while True:
            if process.poll() is not None:
                pytest.fail(f"llama_cpp.server exited with {process.returncode}; see {log.name}")
            try:
                headers = {"Authorization": f"Bearer {API_KEY}"}
                if httpx.get(f"{base_url}/models", headers=headers, timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"llama_cpp.server did not answer within 180 s; see {log.name}")
            time.sleep(0.5)
        yield base_url
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


@pytest.fixture(scope="module")
def llama_server(tiny_gguf: Path) -> Iterator[str]:
    """The server with a 256-token context; yields its base URL."""
    with serve(tiny_gguf) as base_url:
        yield base_url


@pytest.fixture
def adapter(llama_server: str, monkeypatch: pytest.MonkeyPatch) -> OpenAIAdapter:
    monkeypatch.setenv("RAI_LLAMACPP_KEY", API_KEY)
    return OpenAIAdapter(
        OpenAIParams(base_url=llama_server, api_key_env="RAI_LLAMACPP_KEY", concurrency=2, timeout_s=120)
    )


def test_probe_finds_completions_chat_and_prompt_logprobs(adapter: OpenAIAdapter) -> None:
    assert adapter.capabilities() == {Capability.GENERATE, Capability.CHAT, Capability.LOGLIKELIHOOD}
    info = adapter.info()
    assert info.model_id == "tiny-llama"
    assert info.extra["base_url"].startswith("http://127.0.0.1:")


def test_greedy_completion_and_chat_recall_the_training_corpus(adapter: OpenAIAdapter) -> None:
    text = Request("generate", "The capital of France is", GenerationParams(max_new_tokens=4, stop=(".",)))
    chat = Request(
        "generate",
        (ChatMessage("user", "What is two plus two?"),),
        GenerationParams(max_new_tokens=8, stop=("\n",)),
    )
    first = adapter.generate([text, chat], seed=0)
    assert first[0].texts == [" Paris"]
    assert "four" in first[1].texts[0]
    assert adapter.generate([text, chat], seed=0) == first  # greedy decoding is repeatable


def test_k_samples_use_repeated_seeded_requests_and_are_reproducible(adapter: OpenAIAdapter) -> None:
    request = Request("generate", "The", GenerationParams(max_new_tokens=6, temperature=1.0, n=4))
    (first,) = adapter.generate([request], seed=1)
    assert len(first.texts) == 4 and first.error is None
    assert adapter.info().extra["server_n"] is False  # llama.cpp ignores n: detected
    assert len(set(first.texts)) > 1
    assert adapter.generate([request], seed=1) == [first]
    assert adapter.generate([request], seed=2) != [first]


def _hf_logprob(model_dir: Path, context: str, continuation: str) -> float:
    """log p(continuation | context) from the transformers checkpoint the GGUF was made from."""
    import sentencepiece as spm
    import torch
    from transformers import LlamaForCausalLM

    sp = spm.SentencePieceProcessor(model_file=str(model_dir / "tokenizer.model"))
    model = LlamaForCausalLM.from_pretrained(model_dir / "hf").eval()
    context_ids = [sp.bos_id(), *sp.encode(context)]
    full_ids = [sp.bos_id(), *sp.encode(context + continuation)]
    assert full_ids[: len(context_ids)] == context_ids  # the boundary falls between tokens
    with torch.no_grad():
        logits = model(torch.tensor([full_ids])).logits[0].double()
    logprobs = torch.log_softmax(logits, dim=-1)
    return float(sum(logprobs[i - 1, full_ids[i]] for i in range(len(context_ids), len(full_ids))))


def test_loglikelihoods_match_transformers_on_the_same_weights(
    adapter: OpenAIAdapter, tiny_gguf: Path
) -> None:
    context, continuations = "The capital of France is", (" Paris.", " Rome.", " four")
    (completion,) = adapter.loglikelihood([Request("loglikelihood", context, continuations=continuations)])
    assert completion.error is None
    expected = [_hf_logprob(tiny_gguf.parent, context, c) for c in continuations]
    assert completion.logprobs == pytest.approx(expected, abs=2e-3)
    assert completion.logprobs[0] > completion.logprobs[1] > completion.logprobs[2]
    assert completion.greedy == [True, False, False]
    assert completion.token_counts[0] == 4  # ▁P ar is .


def test_tiny_scenario_runs_end_to_end(adapter: OpenAIAdapter, tmp_path: Path) -> None:
    metrics, n, errors = run_tiny(adapter, tmp_path, seed=0, n_instances=6, k=2, max_new_tokens=6)
    assert (n, errors) == (6, 0)
    by_name = {m.name: m for m in metrics if m.group is None}
    assert by_name["sample_words"].n == 6 and by_name["prefers_yes"].n == 6


def test_pronoun_fairness_runs_end_to_end_through_the_cli(llama_server: str, tmp_path: Path) -> None:
    env = {**os.environ, "RAI_LLAMACPP_KEY": API_KEY, "PYTHONPATH": str(REPO)}
    command = [
        str(BIN / "harness"),
        "scenario=pronoun_fairness",
        "model=llamacpp_local",
        f"model.base_url={llama_server}",
        "model.api_key_env=RAI_LLAMACPP_KEY",
        "limit=24",
        "progress=false",
        "cache.enabled=false",
        f"hydra.run.dir={tmp_path}",
    ]
    done = subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    manifest: dict[str, Any] = json.loads((tmp_path / "pronoun_fairness" / "run.json").read_text())
    assert manifest["status"] == "completed"
    assert manifest["protocol"] == "loglikelihood"
    assert manifest["counts"]["instances"] == 24 and manifest["counts"]["errors"] == 0
    assert manifest["model"]["model_id"] == "tiny-llama"
    assert API_KEY not in "".join(p.read_text(errors="replace") for p in tmp_path.rglob("*") if p.is_file())
