"""The physical limit the harness is measured against: bare batched ``model.generate`` loops.

Only torch and transformers are needed here, so the lm-eval worker (run in lm-eval's own
environment, without rai-harness installed) can use the same loops.

Run as a script, it is the whole-process floor of the workload: a process that imports torch and
transformers, loads the model, generates the length-sorted loop's continuations of every prompt
and exits normally. Every transformers-based tool pays at least this for the workload; the
benchmarks time it beside the ``harness`` and ``lm_eval`` commands.

    python -m benchmarks.bare_loop MODEL_DIR PROMPTS_JSONL BATCH NEW_TOKENS SAMPLES TOP_P DEVICE
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any


def batched_generate(
    model: Any,
    tokenizer: Any,
    prompts: Sequence[str],
    batch_size: int,
    max_new_tokens: int,
    order: str = "sorted",
    samples: int = 1,
    top_p: float = 1.0,
    streams: int = 1,
) -> list[str]:
    """Greedy continuations of ``prompts`` (returned in the input order), or sampled ones.

    ``order`` is ``file`` (batches in the given order), ``sorted`` (batches of prompts sorted by
    token length, longest first: the least padding, hence the practical limit) or ``single``
    (one ``generate`` call per prompt, as HELM's HuggingFace client does). With ``samples`` > 1,
    each prompt gets that many continuations sampled at temperature 1 and ``top_p``, the way
    transformers does it (``num_return_sequences``: each prompt repeated ``samples`` times), with
    ``batch_size`` rows (``batch_size // samples`` prompts) per call; the texts come back
    prompt by prompt. With ``streams`` > 1, that many batches are generated at once, each on
    its own Python thread with an equal share of torch's threads (the CPU streams of rai-harness's
    ``hf`` adapter, ``harness/adapters/cpu_streams.py``, reduced to what this loop needs).
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
    decoding: dict[str, Any] = {"do_sample": False}
    if samples > 1:
        decoding = {"do_sample": True, "temperature": 1.0, "top_p": top_p, "num_return_sequences": samples}
    per_call = max(1, batch_size // samples)
    outputs: list[list[str]] = [[] for _ in prompts]
    threads = torch.get_num_threads()
    chunks = [indices[start : start + per_call] for start in range(0, len(indices), per_call)]
    # Encoded and decoded in this thread: the tokenizer is not safe to share between threads.
    batches = [tokenizer([prompts[i] for i in chunk], return_tensors="pt", padding=True) for chunk in chunks]

    def generate_batch(encoded: Any) -> Any:
        if streams > 1:
            torch.set_num_threads(max(1, threads // streams))
        encoded = {k: v.to(model.device) for k, v in encoded.items()}
        with torch.inference_mode():
            generated = model.generate(
                **encoded, max_new_tokens=max_new_tokens, pad_token_id=tokenizer.pad_token_id, **decoding
            )
        return generated[:, encoded["input_ids"].shape[1] :]

    if streams > 1:
        from concurrent.futures import ThreadPoolExecutor

        try:
            with ThreadPoolExecutor(streams) as pool:
                new_tokens = list(pool.map(generate_batch, batches))
        finally:
            torch.set_num_threads(threads)
    else:
        new_tokens = [generate_batch(encoded) for encoded in batches]
    for chunk, tokens in zip(chunks, new_tokens, strict=True):
        for row, text in enumerate(tokenizer.batch_decode(tokens, skip_special_tokens=True)):
            outputs[chunk[row // samples]].append(text)
    return [text for texts in outputs for text in texts]


def load_model(path: str, device: str = "cpu") -> tuple[Any, Any]:
    """A causal LM and its tokenizer from a local directory, in float32, in eval mode."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).to(device)
    model.eval()
    return model, tokenizer


def main(argv: list[str]) -> None:
    """The whole-process floor: load the model and generate every prompt of a workload file."""
    model_dir, prompts_file, batch_size, new_tokens, samples, top_p, device = argv
    with open(prompts_file, encoding="utf-8") as handle:
        prompts = [json.loads(line)["prompt"] for line in handle if line.strip()]
    model, tokenizer = load_model(model_dir, device)
    workload = (int(batch_size), int(new_tokens), "sorted", int(samples), float(top_p))
    batched_generate(model, tokenizer, prompts, *workload)


if __name__ == "__main__":
    main(sys.argv[1:])
