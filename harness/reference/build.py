"""Build (once) and locate the embedded reference model: a tiny GPT-2 with its own BPE tokenizer.

The model trains deterministically (fixed seeds; the same weights for the same thread count) on
:func:`harness.reference.world.training_documents` in about 1.5 minutes on an idle 2-core machine,
into ``$RAI_HARNESS_HOME/reference/<build id>/`` (default
``~/.cache/rai-harness``). The build id hashes the corpus and the training recipe, so a change to
either builds a new model instead of reusing a stale one. Concurrent processes (a joblib sweep)
serialise on a file lock and the first one builds; the others reuse its result. Each use stamps
the build, and a new build deletes the builds no installation has used for
:data:`STALE_AFTER_DAYS` days, so upgrades do not pile up old models in the cache.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import shutil
import time
from pathlib import Path
from typing import Any

from harness.home import home
from harness.reference import world
from harness.types import stable_hash

LOG = logging.getLogger(__name__)

RECIPE: dict[str, Any] = {
    "vocab_size": 1024,
    "n_layer": 2,
    "n_embd": 96,
    "n_head": 4,
    "n_positions": 512,
    "tokens_per_batch": 256,
    "learning_rate": 5e-3,
    "epochs": 6,
    "warmup_steps": 50,
    "seed": 0,
}
EOS = "<|endoftext|>"
STALE_AFTER_DAYS = 30
"""A new build deletes the builds that no installation has used for this long."""
LAST_USED = "last_used"
CHAT_TEMPLATE = (
    "{% for message in messages %}{{ message['role'] }}: {{ message['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}assistant:{% endif %}"
)
PLANTED_TRUTHS_FILE = Path(__file__).with_name("planted_truths.json")


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
        stamp_use(target)
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / f"{target.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (target / "done.json").exists():
            staging = target.parent / f"{target.name}.partial"
            shutil.rmtree(staging, ignore_errors=True)
            started = time.perf_counter()
            train(staging)
            write_json(
                staging / "done.json", {"build_id": build_id(), "seconds": time.perf_counter() - started}
            )
            shutil.rmtree(target, ignore_errors=True)
            os.replace(staging, target)
            stamp_use(target)
            prune_stale_builds(target.parent, keep=target.name)
    return target


def stamp_use(build: Path) -> None:
    """Record that ``build`` was used now; a read-only cache (a shared or baked-in one) just isn't stamped."""
    with contextlib.suppress(OSError):
        (build / LAST_USED).touch()


def prune_stale_builds(root: Path, keep: str, now: float | None = None) -> list[str]:
    """Delete the finished builds under ``root`` (but ``keep``) not used for :data:`STALE_AFTER_DAYS` days.

    A build's last use is the time stamp of its ``last_used`` file; a build still in use by another
    installed version that stamps its builds survives. Builds made by versions from before the
    stamps have none and are judged by the date they were built (``done.json``), so such a
    version may have to rebuild its model once. Half-written builds (``*.partial``) are left to
    the builder that owns them. Returns the deleted build ids.
    """
    cutoff = (time.time() if now is None else now) - STALE_AFTER_DAYS * 86400
    deleted = []
    for build in sorted(p for p in root.iterdir() if p.is_dir() and p.name != keep and "." not in p.name):
        stamp = next((f for f in (build / LAST_USED, build / "done.json") if f.exists()), None)
        if stamp is None or stamp.stat().st_mtime >= cutoff:
            continue
        shutil.rmtree(build, ignore_errors=True)
        (root / f"{build.name}.lock").unlink(missing_ok=True)
        deleted.append(build.name)
        LOG.info("deleted the reference build %s, unused for %d days", build.name, STALE_AFTER_DAYS)
    return deleted


def write_json(path: Path, payload: Any) -> None:
    """Write a small JSON file."""
    path.write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def length_bucketed_batches(sequences: list[list[int]], tokens_per_batch: int) -> list[list[int]]:
    """Indices of sequences grouped by similar length: at most the token budget, at least two.

    Every training document starts at position 0, as evaluation prompts do (no packing across
    documents), and sorting by length keeps padding waste small. Small batches of short
    documents give many optimiser steps, which the tiny model needs to learn the pronoun
    dependencies; long (memorised) documents go two to a batch.
    """
    order = sorted(range(len(sequences)), key=lambda i: (len(sequences[i]), i))
    batches: list[list[int]] = []
    current: list[int] = []
    for index in order:
        width = len(sequences[index])
        if len(current) >= 2 and width * (len(current) + 1) > tokens_per_batch:
            batches.append(current)
            current = []
        current.append(index)
    if current:
        batches.append(current)
    return batches


def padded_batch(members: list[list[int]], pad_id: int) -> tuple[Any, Any, Any]:
    """Right-padded input ids, labels (-100 on padding) and attention mask for one batch."""
    import torch

    width = max(len(m) for m in members)
    ids = torch.full((len(members), width), pad_id, dtype=torch.long)
    labels = torch.full((len(members), width), -100, dtype=torch.long)
    mask = torch.zeros((len(members), width), dtype=torch.long)
    for row, member in enumerate(members):
        ids[row, : len(member)] = torch.tensor(member)
        labels[row, : len(member)] = ids[row, : len(member)]
        mask[row, : len(member)] = 1
    return ids, labels, mask


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
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=bpe, eos_token=EOS, bos_token=EOS, unk_token=EOS, pad_token=EOS
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    tokenizer.model_max_length = RECIPE["n_positions"]
    tokenizer.save_pretrained(out_dir)

    eos_id = tokenizer.convert_tokens_to_ids(EOS)
    sequences = [[*encoding.ids, eos_id] for encoding in bpe.encode_batch(documents)]
    batches = length_bucketed_batches(sequences, RECIPE["tokens_per_batch"])
    tensors = [padded_batch([sequences[i] for i in batch], eos_id) for batch in batches]
    n_tokens = sum(len(s) for s in sequences)

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
    total_steps = len(batches) * RECIPE["epochs"]
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer,
        lambda step: min(1.0, (step + 1) / RECIPE["warmup_steps"]) * max(0.05, 1 - step / total_steps),
    )
    generator = torch.Generator().manual_seed(RECIPE["seed"])
    model.train()
    epoch_loss = 0.0
    for epoch in range(RECIPE["epochs"]):
        epoch_loss = 0.0
        for index in torch.randperm(len(batches), generator=generator).tolist():
            ids, labels, mask = tensors[index]
            loss = model(input_ids=ids, attention_mask=mask, labels=labels, use_cache=False).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            schedule.step()
            optimizer.zero_grad(set_to_none=True)
            epoch_loss += loss.item() * len(ids) / len(sequences)
        LOG.info("reference model epoch %d: mean loss per document %.3f", epoch, epoch_loss)
    model.eval()
    model.save_pretrained(out_dir, safe_serialization=True)
    write_json(
        out_dir / "training.json",
        {"recipe": RECIPE, "tokens": n_tokens, "batches": len(batches), "final_epoch_loss": epoch_loss},
    )
    write_json(out_dir / "planted_truths.json", world.planted_truths())
