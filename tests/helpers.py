"""Builders and small scenarios shared by the engine tests."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness import stats
from harness.model import ModelAdapter
from harness.reference.build import PLANTED_TRUTHS_FILE
from harness.runner import Runner, RunSettings
from harness.scenario import Scenario, ScenarioContext, ScenarioParams
from harness.types import Completion, GenerationParams, Instance, MetricSpec, MetricValue, Request


def pick(metrics: Sequence[MetricValue], name: str, group: dict[str, Any] | None = None) -> MetricValue:
    """The one record of metric ``name`` with exactly this group (None: the overall value)."""
    (metric,) = [m for m in metrics if m.name == name and m.group == group]
    return metric


def run_end_to_end(
    scenario_cls: type[Scenario],
    params: ScenarioParams,
    adapter: ModelAdapter,
    run_dir: Path,
    seed: int = 0,
    resamples: int = stats.DEFAULT_RESAMPLES,
    **settings: Any,
) -> tuple[Any, list[MetricValue], int, int]:
    """Run a scenario through the real Runner; returns it, its metrics, n instances and n errored.

    The scenario's context holds what the engine gives it (the adapter's capabilities and info,
    the run directory); ``settings`` go to :class:`RunSettings` (``limit``, ``limit_mode``).
    """
    context = ScenarioContext(
        seed=seed,
        capabilities=adapter.capabilities(),
        model_info=adapter.info(),
        run_dir=run_dir,
        bootstrap_resamples=resamples,
    )
    scenario = scenario_cls(params, context)
    runner = Runner(scenario, adapter, run_dir, RunSettings(progress=False, seed=seed, **settings))
    runner.execute()
    metrics, n, n_errors = runner.aggregate()
    return scenario, metrics, n, n_errors


def planted_truths(section: str) -> dict[str, Any]:
    """One section of the reference world's planted truths (harness/reference/planted_truths.json)."""
    return json.loads(PLANTED_TRUTHS_FILE.read_text(encoding="utf-8"))[section]


TEXT = (
    "The quick brown fox jumps over the lazy dog. A stitch in time saves nine. "
    "All that glitters is not gold. The early bird catches the worm. "
) * 40


def build_tiny_gpt2(out_dir: Path) -> Path:
    """Save a randomly initialised GPT-2 (2 layers, 32 dims) and its BPE tokenizer to ``out_dir``."""
    import torch
    from tokenizers import ByteLevelBPETokenizer
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(
        [TEXT], vocab_size=300, min_frequency=1, special_tokens=["<|endoftext|>"], show_progress=False
    )
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=bpe, eos_token="<|endoftext|>", pad_token="<|endoftext|>"
    )
    tokenizer.chat_template = (
        "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}assistant:"
    )
    tokenizer.save_pretrained(out_dir)
    torch.manual_seed(0)
    eos = tokenizer.convert_tokens_to_ids("<|endoftext|>")
    config = GPT2Config(
        vocab_size=len(tokenizer),
        n_positions=128,
        n_embd=32,
        n_layer=2,
        n_head=2,
        eos_token_id=eos,
        bos_token_id=eos,
    )
    GPT2LMHeadModel(config).save_pretrained(out_dir)
    return out_dir


@dataclass
class CoinParams(ScenarioParams):
    """Parameters of the coin test scenario."""

    name: str = "coin"
    n: int = 40
    k: int = 5


class CoinScenario(Scenario):
    """Asks "Flip coin {i}:" k times and scores the share of "heads" answers per instance."""

    name = "coin"
    version = "1"
    Params = CoinParams

    def instances(self) -> Iterable[Instance]:
        """n instances, with a cluster key shared by pairs of instances."""
        for i in range(self.params.n):
            yield Instance(id=f"c{i}", input=f"Flip coin {i}:", metadata={"pair": i // 2, "parity": i % 2})

    def requests(self, instance: Instance) -> list[Request]:
        """k sampled answers."""
        return [
            Request(
                "generate",
                instance.input,
                GenerationParams(max_new_tokens=4, temperature=1.0, n=self.params.k),
            )
        ]

    def score(self, instance: Instance, outputs: Sequence[Completion]) -> dict[str, Any]:
        """Share of heads among the k answers."""
        texts = outputs[0].texts
        return {"heads": sum(t.strip() == "heads" for t in texts) / len(texts)}

    def metrics(self) -> list[MetricSpec]:
        """Heads rate overall and by parity, clustered by pair."""
        return [
            MetricSpec("heads_rate", "share of heads", value="heads", cluster="pair", group_by=("parity",))
        ]


def coin_rules(p_heads: float) -> list[dict[str, Any]]:
    """A simulated table answering heads with probability ``p_heads``."""
    return [{"match": "Flip coin", "outputs": {" heads": p_heads, " tails": 1 - p_heads}}]
