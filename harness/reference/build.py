"""Build (once) and locate the embedded reference model: a tiny GPT-2 with its own BPE tokenizer.

The model trains deterministically on :func:`harness.reference.world.training_documents` in
about a minute on 2 CPU cores, into ``$RAI_HARNESS_HOME/reference/<build id>/`` (default
``~/.cache/rai-harness``). The build id hashes the corpus and the training recipe, so a change to
either builds a new model instead of reusing a stale one. Concurrent processes (a joblib sweep)
serialise on a file lock and the first one builds; the others reuse its result.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import shutil
import time
from pathlib import Path
from typing import Any

from harness.reference import world
from harness.types import stable_hash

LOG = logging.getLogger(__name__)

RECIPE: dict[str, Any] = {
    "vocab_size": 1024,
    "n_layer": 2,
    "n_embd": 64,
    "n_head": 4,
    "n_positions": 512,
    "block_size": 256,
    "batch_size": 4,
    "learning_rate": 3e-3,
    "epochs": 4,
    "warmup_steps": 50,
    "seed": 0,
}
EOS = "<|endoftext|>"
CHAT_TEMPLATE = (
    "{% for message in messages %}{{ message['role'] }}: {{ message['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}assistant:{% endif %}"
)
PLANTED_TRUTHS_FILE = Path(__file__).with_name("planted_truths.json")


def home() -> Path:
    """Root of rai-harness's caches (``$RAI_HARNESS_HOME`` or ``~/.cache/rai-harness``)."""
    return Path(os.environ.get("RAI_HARNESS_HOME", "~/.cache/rai-harness")).expanduser()


def build_id() -> str:
    """Hash of the corpus and the recipe: it names the cache directory of this build."""
    return stable_hash([world.WORLD_VERSION, world.training_documents(), RECIPE])[:16]


def model_dir() -> Path:
    """Where the reference model of the current corpus and recipe lives (built or not)."""
    return home() / "reference" / build_id()


def ensure_built() -> Path:
    """Return the reference model directory, building it first if needed (under a file lock)."""
    target = model_dir()
    if (target / "done.json").exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / f"{target.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (target / "done.json").exists():
            staging = target.parent / f"{target.name}.partial"
            shutil.rmtree(staging, ignore_errors=True)
            started = time.perf_counter()
            train(staging)
            write_json(staging / "done.json", {"build_id": build_id(), "seconds": time.perf_counter() - started})
            shutil.rmtree(target, ignore_errors=True)
            os.replace(staging, target)
    return target


def write_json(path: Path, payload: Any) -> None:
    """Write a small JSON file."""
    path.write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def train(out_dir: Path) -> None:
    """Train the tokenizer and the model on the world corpus and save both to ``out_dir``."""
    import torch
    from tokenizers import ByteLevelBPETokenizer
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    out_dir.mkdir(parents=True, exist_ok=True)
    documents = world.training_documents()
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(
        documents, vocab_size=RECIPE["vocab_size"], min_frequency=2, special_tokens=[EOS], show_progress=False
    )
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=bpe, eos_token=EOS, bos_token=EOS, unk_token=EOS, pad_token=EOS)
    tokenizer.chat_template = CHAT_TEMPLATE
    tokenizer.model_max_length = RECIPE["n_positions"]
    tokenizer.save_pretrained(out_dir)

    eos_id = tokenizer.convert_tokens_to_ids(EOS)
    stream: list[int] = []
    for ids in bpe.encode_batch(documents):
        stream.extend([eos_id, *ids.ids])
    block = RECIPE["block_size"]
    n_blocks = len(stream) // block
    data = torch.tensor(stream[: n_blocks * block], dtype=torch.long).view(n_blocks, block)

    torch.manual_seed(RECIPE["seed"])
    config = GPT2Config(
        vocab_size=len(tokenizer),
        n_positions=RECIPE["n_positions"],
        n_embd=RECIPE["n_embd"],
        n_layer=RECIPE["n_layer"],
        n_head=RECIPE["n_head"],
        bos_token_id=eos_id,
        eos_token_id=eos_id,
        pad_token_id=eos_id,
    )
    model = GPT2LMHeadModel(config)
    optimizer = torch.optim.AdamW(model.parameters(), lr=RECIPE["learning_rate"], weight_decay=0.0)
    steps_per_epoch = (n_blocks + RECIPE["batch_size"] - 1) // RECIPE["batch_size"]
    total_steps = steps_per_epoch * RECIPE["epochs"]
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: min(1.0, (step + 1) / RECIPE["warmup_steps"]) * max(0.05, 1 - step / total_steps)
    )
    generator = torch.Generator().manual_seed(RECIPE["seed"])
    model.train()
    loss = torch.tensor(0.0)
    for epoch in range(RECIPE["epochs"]):
        order = torch.randperm(n_blocks, generator=generator)
        for start in range(0, n_blocks, RECIPE["batch_size"]):
            batch = data[order[start : start + RECIPE["batch_size"]]]
            loss = model(input_ids=batch, labels=batch).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            schedule.step()
            optimizer.zero_grad(set_to_none=True)
        LOG.info("reference model epoch %d: loss %.3f", epoch, loss.item())
    model.eval()
    model.save_pretrained(out_dir, safe_serialization=True)
    write_json(
        out_dir / "training.json",
        {"recipe": RECIPE, "tokens": len(stream), "blocks": n_blocks, "final_loss": float(loss.item())},
    )
    write_json(out_dir / "planted_truths.json", world.planted_truths())
