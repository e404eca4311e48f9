"""Runs inside lm-evaluation-harness's own environment (``benchmarks/.venv-lmeval``); prints JSON.

It times, in one process with the model loaded once, the bare length-sorted ``generate`` loop and
lm-eval's evaluation call (``lm_eval.simple_evaluate`` on an already constructed ``HFLM``, with
the task index built beforehand), so that lm-eval's in-process ratio to the physical limit is
measured side by side. It imports only torch, transformers, lm_eval and ``bare_loop`` (rai-harness
is not installed in that environment).

    benchmarks/.venv-lmeval/bin/python benchmarks/lmeval_worker.py \\
        MODEL_DIR TASK_DIR PROMPTS BATCH TOKENS SAMPLES TOP_P ORDER
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

TASK = "rai_bench_generate"
WARMUP_TASK = "rai_bench_warmup"


def main(argv: list[str]) -> None:
    """Time the arms in the order given (``bare``/``lmeval``, comma-separated) and print their seconds."""
    model_dir, task_dir, prompts_file, batch_size, new_tokens, samples, top_p, order = argv
    import torch
    from bare_loop import batched_generate
    from lm_eval import simple_evaluate
    from lm_eval.models.huggingface import HFLM
    from lm_eval.tasks import TaskManager

    lm = HFLM(pretrained=model_dir, batch_size=int(batch_size), device="cpu", dtype="float32")
    manager = TaskManager(include_path=task_dir)
    prompts = [json.loads(line)["prompt"] for line in Path(prompts_file).read_text().splitlines()]
    # Warm-up (untimed): a one-batch loop and a one-batch evaluation, so first-call costs are excluded.
    batched_generate(lm.model, lm.tokenizer, prompts[: int(batch_size)], int(batch_size), int(new_tokens))
    simple_evaluate(model=lm, tasks=[WARMUP_TASK], task_manager=manager)
    seconds: dict[str, float] = {}
    outputs: list[list[str]] = []
    for arm in order.split(","):
        started = time.perf_counter()
        if arm == "bare":
            batched_generate(
                lm.model,
                lm.tokenizer,
                prompts,
                int(batch_size),
                int(new_tokens),
                "sorted",
                int(samples),
                float(top_p),
            )
        else:
            results = simple_evaluate(model=lm, tasks=[TASK], task_manager=manager, log_samples=True)
            outputs = [s["resps"][0] for s in sorted(results["samples"][TASK], key=lambda s: s["doc_id"])]
        seconds[arm] = time.perf_counter() - started
    print(json.dumps({"seconds": seconds, "outputs": outputs, "threads": torch.get_num_threads()}))


if __name__ == "__main__":
    main(sys.argv[1:])
