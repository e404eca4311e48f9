"""Benchmark models and prompts, built locally (nothing is downloaded).

* ``reference`` – the embedded reference model (about 0.2M parameters, where fixed costs dominate);
* ``gpt2-small`` – a randomly initialised GPT-2-small-sized model (12 layers, 768 wide, 12 heads,
  1024 positions) with a 1024-token byte-level BPE tokenizer trained here: 87M parameters;
* ``tiny`` – a 2-layer, 32-wide GPT-2 with a 300-token tokenizer trained here in a second, for
  the smoke test.

The tokenizers of ``gpt2-small`` and ``tiny`` are trained on a fixed synthetic corpus, so these two
models never depend on the reference model's build.

Every copy gets ``min_new_tokens`` in its ``generation_config.json``, equal to the workload's
``max_new_tokens``: ``generate`` then never stops early, so every arm of a benchmark (the bare
loops, rai-harness, lm-eval) produces exactly that many tokens per prompt.
"""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path
from typing import Any

MODELS = ("reference", "gpt2-small", "tiny")
WORDS = (
    "the a of and to in is was for on that with as by at from it his her their this an be which or "
    "had have are were one all new more when who will no if out so said what up its about into than "
    "them can only other time some could these two may first then do any like my now over such our "
    "man me even most made after also did many before must through back years where much your way "
    "well down should because each just those people how too little state good very make world still "
    "own see men work long get here between both life being under never day same another know while "
    "last might us great old year off come since against go came right used take three house river "
    "garden letter morning window market station doctor teacher village winter summer question answer"
).split()
TINY_TEXT = " ".join(WORDS) * 20
TOKENIZER_VERSION = "v2"


def synthetic_corpus(sentences: int = 4000, seed: int = 0) -> list[str]:
    """Random sentences over :data:`WORDS`: the training text of the benchmark tokenizers."""
    rng = random.Random(seed)
    return [
        " ".join(rng.choice(WORDS) for _ in range(rng.randint(4, 24))).capitalize() + "."
        for _ in range(sentences)
    ]


def train_tokenizer(vocab_size: int, texts: list[str]) -> Any:
    """A byte-level BPE tokenizer (end-of-text = padding) trained on ``texts``."""
    from tokenizers import ByteLevelBPETokenizer
    from transformers import PreTrainedTokenizerFast

    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(
        texts, vocab_size=vocab_size, special_tokens=["<|endoftext|>"], show_progress=False
    )
    return PreTrainedTokenizerFast(tokenizer_object=bpe, eos_token="<|endoftext|>", pad_token="<|endoftext|>")


def _write_generation_config(model_dir: Path, tokens: int) -> None:
    from transformers import GenerationConfig

    config = (
        GenerationConfig.from_pretrained(model_dir)
        if (model_dir / "generation_config.json").exists()
        else None
    )
    config = config or GenerationConfig()
    config.min_new_tokens = tokens
    config.save_pretrained(model_dir)


def _random_gpt2(tokenizer: Any, out: Path, **sizes: int) -> None:
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(0)
    eos = tokenizer.eos_token_id
    config = GPT2Config(
        vocab_size=len(tokenizer), bos_token_id=eos, eos_token_id=eos, pad_token_id=eos, **sizes
    )
    GPT2LMHeadModel(config).save_pretrained(out)


def _build(name: str, out: Path) -> None:
    """Build model ``name`` into ``out``."""
    if name == "reference":
        from harness.reference.build import ensure_built

        for file in ensure_built().iterdir():
            if file.is_file():
                shutil.copy2(file, out / file.name)
        return
    if name == "tiny":
        tokenizer = train_tokenizer(300, [TINY_TEXT])
        tokenizer.save_pretrained(out)
        _random_gpt2(tokenizer, out, n_layer=2, n_embd=32, n_head=2, n_positions=256)
        return
    tokenizer = train_tokenizer(1024, synthetic_corpus())
    tokenizer.save_pretrained(out)
    _random_gpt2(tokenizer, out, n_layer=12, n_embd=768, n_head=12, n_positions=1024)


def _expected_tag(name: str) -> str:
    """What identifies a build of ``name`` (the reference copy follows the reference model's build)."""
    if name == "reference":
        from harness.reference.build import build_id

        return f"reference-{build_id()}"
    return f"{name}-{TOKENIZER_VERSION}"


def ensure_model(name: str, root: Path, new_tokens: int) -> Path:
    """The directory of benchmark model ``name`` under ``root``, built on first use."""
    if name not in MODELS:
        raise ValueError(f"unknown benchmark model {name!r}; choose one of {', '.join(MODELS)}")
    out = root / f"{name}-min{new_tokens}"
    marker = out / "benchmark_model.json"
    expected = _expected_tag(name)
    if marker.exists() and json.loads(marker.read_text())["tag"] == expected:
        return out
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    _build(name, out)
    _write_generation_config(out, new_tokens)
    marker.write_text(json.dumps({"tag": expected}))
    return out


def parameter_count(model: Any) -> int:
    """Number of distinct parameters (tied embeddings counted once)."""
    return sum(p.numel() for p in model.parameters())


def make_prompts(tokenizer: Any, count: int, min_tokens: int, max_tokens: int, seed: int = 0) -> list[str]:
    """``count`` prompts of word sequences whose token lengths are uniform in [min_tokens, max_tokens]."""
    rng = random.Random(seed)
    prompts = []
    for _ in range(count):
        target = rng.randint(min_tokens, max_tokens)
        words = [rng.choice(WORDS).capitalize()]
        while len(tokenizer(" ".join(words)).input_ids) < target:
            words.append(rng.choice(WORDS))
        text = " ".join(words)
        while len(tokenizer(text).input_ids) > target:
            text = text[:-1]
        prompts.append(text)
    return prompts


def write_prompts(prompts: list[str], path: Path) -> Path:
    """Write prompts as the workload's JSONL file (``id`` and ``prompt`` per line)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as handle:
        for index, prompt in enumerate(prompts):
            handle.write(json.dumps({"id": f"p{index:05d}", "prompt": prompt}) + "\n")
    return path
