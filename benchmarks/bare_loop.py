"""The physical limit the harness is measured against: bare batched ``model.generate`` loops.

Only torch and transformers are needed here, so the lm-eval worker (run in lm-eval's own
environment, without rai-harness installed) can use the same loops.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def batched_generate(
    model: Any,
    tokenizer: Any,
    prompts: Sequence[str],
    batch_size: int,
    max_new_tokens: int,
    order: str = "sorted",
) -> list[str]:
    """Greedy continuations of ``prompts`` (returned in the input order).

    ``order`` is ``file`` (batches in the given order), ``sorted`` (batches of prompts sorted by
    token length, longest first: the least padding, hence the practical limit) or ``single``
    (one ``generate`` call per prompt, as HELM's HuggingFace client does).
    """
    import torch

    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    indices = list(range(len(prompts)))
    if order == "sorted":
        lengths = [len(ids) for ids in tokenizer(list(prompts)).input_ids]
        indices.sort(key=lambda i: -lengths[i])
    elif order == "single":
        batch_size = 1
    elif order != "file":
        raise ValueError(f"order must be file, sorted or single, not {order!r}")
    outputs: list[str] = [""] * len(prompts)
    for start in range(0, len(indices), batch_size):
        chunk = indices[start : start + batch_size]
        encoded = tokenizer([prompts[i] for i in chunk], return_tensors="pt", padding=True)
        encoded = {k: v.to(model.device) for k, v in encoded.items()}
        with torch.inference_mode():
            generated = model.generate(
                **encoded, max_new_tokens=max_new_tokens, do_sample=False, pad_token_id=tokenizer.pad_token_id
            )
        texts = tokenizer.batch_decode(generated[:, encoded["input_ids"].shape[1] :], skip_special_tokens=True)
        for i, text in zip(chunk, texts, strict=True):
            outputs[i] = text
    return outputs


def load_model(path: str, device: str = "cpu") -> tuple[Any, Any]:
    """A causal LM and its tokenizer from a local directory, in float32, in eval mode."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).to(device)
    model.eval()
    return model, tokenizer
