"""The hf adapter's fast paths give the answers of the plain ones, and skip only wasted work.

* greedy ``n`` samples are one generation copied ``n`` times;
* shared-prompt sampling (one prefill per distinct prompt, its cache copied to the sample rows)
  gives the samples that a separate full prefill per row gives;
* the top-p mask built from ``topk`` is the full-sort mask;
* the weights are loaded on the first request, so a run answered by the cache never loads them.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
import torch

from harness.adapters.hf import HFAdapter, HFParams, outside_nucleus
from harness.runner import Runner, RunSettings
from harness.scenario import ScenarioContext
from harness.store import ResponseCache
from harness.types import GenerationParams, Request
from tests.helpers import CoinParams, CoinScenario

PROMPTS = ["The quick brown fox", "All that", "A stitch in time saves nine. The early bird catches", "The"]


def full_sort_mask(scores: torch.Tensor, top_p: float) -> torch.Tensor:
    """The nucleus mask computed the textbook way: sort everything, remove what follows top_p mass."""
    sorted_scores, order = torch.sort(scores, descending=True, dim=-1)
    probs = torch.softmax(sorted_scores, dim=-1)
    remove_sorted = probs.cumsum(dim=-1) - probs > top_p
    return torch.zeros_like(remove_sorted).scatter(1, order, remove_sorted)


@pytest.mark.parametrize("top_p", [0.05, 0.5, 0.9, 0.99])
@pytest.mark.parametrize("vocab", [7, 300, 5000])
def test_topk_nucleus_equals_the_full_sort(top_p: float, vocab: int) -> None:
    generator = torch.Generator().manual_seed(vocab)
    scores = torch.randn(12, vocab, generator=generator) * 4
    mask = outside_nucleus(scores, top_p, first_k=4)
    assert torch.equal(mask, full_sort_mask(scores, top_p))
    assert not mask.gather(1, scores.argmax(dim=1, keepdim=True)).any(), "the top token is always kept"


def test_greedy_samples_are_copies_of_one_generation(tiny_gpt2_dir: Path) -> None:
    adapter = HFAdapter(HFParams(pretrained=str(tiny_gpt2_dir), batch_size=3))
    one = adapter.generate([Request("generate", p, GenerationParams(max_new_tokens=5)) for p in PROMPTS], 0)
    triple = GenerationParams(max_new_tokens=5, n=3)
    three = adapter.generate([Request("generate", p, triple) for p in PROMPTS], 0)
    assert [c.texts for c in three] == [c.texts * 3 for c in one]


def test_shared_prompt_sampling_equals_a_prefill_per_row(tiny_gpt2_dir: Path) -> None:
    sampling = GenerationParams(max_new_tokens=6, temperature=1.0, top_p=0.9, n=4)
    requests = [Request("generate", p, sampling) for p in PROMPTS]
    shared = HFAdapter(HFParams(pretrained=str(tiny_gpt2_dir), batch_size=8))  # two prompts x four samples
    alone = HFAdapter(HFParams(pretrained=str(tiny_gpt2_dir), batch_size=1))  # every row on its own
    finished: list[int] = []
    with warnings.catch_warnings():  # the cache goes to generate under its current name
        warnings.simplefilter("error", FutureWarning)
        together = [c.texts for c in shared.generate(requests, seed=5, progress=finished.append)]
    assert together == [c.texts for c in alone.generate(requests, seed=5)]
    assert sum(finished) == len(requests)
    assert len({t for texts in together for t in texts}) > len(PROMPTS), "samples should vary"


def test_a_run_served_by_the_cache_never_loads_the_weights(tiny_gpt2_dir: Path, tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path / "cache.sqlite")
    scenario = CoinScenario(CoinParams(n=6, k=2), ScenarioContext(seed=1))
    results = []
    for name in ("cold", "warm"):
        adapter = HFAdapter(HFParams(pretrained=str(tiny_gpt2_dir), batch_size=4))
        assert adapter.info().dtype == "float32" and adapter._model is None
        runner = Runner(scenario, adapter, tmp_path / name, RunSettings(progress=False, seed=1), cache)
        runner.execute()
        results.append(
            (adapter._model is not None, runner.stats["requests_sent"], runner.stats["requests_cached"])
        )
    cache.close()
    assert results == [(True, 6, 0), (False, 0, 6)]
