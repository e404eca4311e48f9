"""The hf adapter on a tiny local GPT-2: batching, seeding, log-likelihoods, chat, errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from harness.adapters.hf import HFAdapter, HFParams
from harness.errors import AdapterError
from harness.types import Capability, ChatMessage, GenerationParams, Request

PROMPTS = ["The quick brown fox", "All that", "A stitch in time saves nine. The early bird catches", "The"]


@pytest.fixture(scope="module")
def adapter(tiny_gpt2_dir: Path) -> HFAdapter:
    return HFAdapter(HFParams(pretrained=str(tiny_gpt2_dir), batch_size=3))


def test_info_and_capabilities(adapter: HFAdapter) -> None:
    info = adapter.info()
    assert info.adapter == "hf" and info.dtype == "float32" and len(info.weights_hash) == 64
    assert adapter.capabilities() == {Capability.GENERATE, Capability.LOGLIKELIHOOD, Capability.CHAT}


def test_greedy_batched_generation_equals_one_at_a_time(adapter: HFAdapter) -> None:
    requests = [Request("generate", p, GenerationParams(max_new_tokens=6)) for p in PROMPTS]
    batched = [c.texts[0] for c in adapter.generate(requests, seed=0)]
    single = [adapter.generate([r], seed=0)[0].texts[0] for r in requests]
    assert batched == single
    model, tokenizer = adapter.model, adapter.tokenizer
    ids = tokenizer(PROMPTS[0], return_tensors="pt").input_ids
    expected = model.generate(ids, max_new_tokens=6, do_sample=False, pad_token_id=tokenizer.pad_token_id)
    assert batched[0] == tokenizer.decode(expected[0, ids.shape[1] :], skip_special_tokens=True)


def test_sampling_is_seeded_per_sample_not_per_batch(adapter: HFAdapter) -> None:
    requests = [
        Request("generate", p, GenerationParams(max_new_tokens=8, temperature=1.0, n=3)) for p in PROMPTS
    ]
    together = [c.texts for c in adapter.generate(requests, seed=11)]
    alone = [adapter.generate([r], seed=11)[0].texts for r in requests]
    assert together == alone
    assert all(len(t) == 3 for t in together)
    assert together != [c.texts for c in adapter.generate(requests, seed=12)]
    assert len({t for texts in together for t in texts}) > 4, "samples should vary"


def test_loglikelihood_matches_a_direct_forward_pass(adapter: HFAdapter) -> None:
    request = Request("loglikelihood", "The quick brown", continuations=(" fox", " dog jumps"))
    result = adapter.loglikelihood([request])[0]
    tokenizer, model = adapter.tokenizer, adapter.model
    for continuation, logprob in zip(request.continuations, result.logprobs, strict=True):
        context = tokenizer("The quick brown").input_ids
        whole = tokenizer("The quick brown" + continuation).input_ids
        with torch.no_grad():
            logits = model(torch.tensor([whole])).logits[0].log_softmax(-1)
        expected = sum(logits[i - 1, whole[i]].item() for i in range(len(context), len(whole)))
        assert logprob == pytest.approx(expected, abs=1e-4)
    assert all(lp < 0 for lp in result.logprobs) and result.token_counts[1] >= 2


def test_chat_requests_use_the_chat_template(adapter: HFAdapter) -> None:
    chat = Request(
        "generate", (ChatMessage("user", "The quick brown fox"),), GenerationParams(max_new_tokens=4)
    )
    rendered = adapter._render(chat)
    assert rendered == "user: The quick brown fox\nassistant:"
    plain = Request("generate", rendered, GenerationParams(max_new_tokens=4))
    assert adapter.generate([chat], seed=0)[0].texts == adapter.generate([plain], seed=0)[0].texts


def test_stop_sequences_cut_the_output(adapter: HFAdapter) -> None:
    free = adapter.generate([Request("generate", "The quick", GenerationParams(max_new_tokens=12))], seed=0)[
        0
    ].texts[0]
    marker = free.strip()[:2]
    stopped = adapter.generate(
        [Request("generate", "The quick", GenerationParams(max_new_tokens=12, stop=(marker,)))], seed=0
    )
    assert marker not in stopped[0].texts[0]


def test_unknown_hub_id_fails_fast_with_one_message() -> None:
    with pytest.raises(AdapterError, match="not a local directory and not in the Hugging Face cache"):
        HFAdapter(HFParams(pretrained="no-such-org/no-such-model-xyz"))


def test_local_directory_without_config_is_named(tmp_path: Path) -> None:
    with pytest.raises(AdapterError, match=r"has no config\.json"):
        HFAdapter(HFParams(pretrained=str(tmp_path)))
