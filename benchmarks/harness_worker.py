"""Times rai-harness's evaluation alone in a fresh process of its own; prints JSON.

The counterpart of ``lmeval_worker.py`` for benchmark 2: the model is loaded once (by the ``hf``
adapter, on its first request), a one-batch run of the same kind warms it up untimed, and then one
complete in-process scenario run (planning, generation, scoring, metrics, samples, manifest) is
timed. Nothing else runs torch in this process: as in a ``harness`` process, only the runner's
worker thread does, so the figure is not coloured by a bare loop's thread pool left on the main
thread (which the earlier design, timing this arm inside the benchmark's own process, suffered
from with two threads).

    .venv/bin/python -m benchmarks.harness_worker MODEL_DIR PROMPTS WARMUP BATCH TOKENS SAMPLES TOP_P
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path


def main(argv: list[str]) -> None:
    """Warm up, time one in-process run of the workload and print its seconds and texts."""
    model_dir, prompts_file, warmup_file, batch_size, new_tokens, samples, top_p = argv
    import torch

    from benchmarks.workload_run import in_process_run
    from harness.adapters.hf import HFAdapter, HFParams

    sampling = (
        {"samples": int(samples), "temperature": 1.0, "top_p": float(top_p)} if int(samples) > 1 else {}
    )
    adapter = HFAdapter(HFParams(pretrained=model_dir, batch_size=int(batch_size), device="cpu"))
    in_process_run(adapter, Path(warmup_file), int(new_tokens), **sampling).cleanup()
    started = time.perf_counter()
    run = in_process_run(adapter, Path(prompts_file), int(new_tokens), **sampling)
    seconds = time.perf_counter() - started
    texts = run.outputs()
    run.cleanup()
    n_prompts = len(Path(prompts_file).read_text(encoding="utf-8").splitlines())
    outputs = [texts.get(f"p{i:05d}", []) for i in range(n_prompts)]  # a missing one fails the check
    print(json.dumps({"seconds": seconds, "outputs": outputs, "threads": torch.get_num_threads()}))


if __name__ == "__main__":
    main(sys.argv[1:])
