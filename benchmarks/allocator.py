"""The allocator setting of the ``hf`` adapter on the CPU: bare loops with glibc's defaults and with it.

Both arms run the same length-sorted bare loop (``bare_loop.batched_generate``) in a fresh
worker process each, which loads the model, generates one batch untimed, then times the whole
workload and reads its own minor page faults and system time (``getrusage``) around it. The
``reuse freed memory`` arm calls ``harness.allocator.reuse_freed_memory`` before loading the
model, as the adapter does. Arms alternate order by round; the ratio is glibc defaults / reuse,
paired by round, median over rounds. Outputs of both arms are compared.

    .venv/bin/python -m benchmarks.allocator --model gpt2-small --prompts 64 --rounds 4
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import time
from pathlib import Path

from benchmarks.common import (
    Rounds,
    add_generation_workload_arguments,
    add_output_arguments,
    benchmark_env,
    print_table,
    report,
    run_process,
    thread_env,
)
from benchmarks.models import ensure_model, make_prompts, write_prompts

ARMS = {"glibc defaults": "default", "reuse freed memory": "reuse"}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command-line options (the workload's, as in benchmarks 1 and 2)."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_generation_workload_arguments(parser)
    add_output_arguments(parser, "where benchmark models are built")
    return parser.parse_args(argv)


def worker(
    arm: str, model_dir: str, prompts_file: str, batch_size: int, new_tokens: int, samples: int, top_p: float
) -> None:
    """One arm in this (fresh) process: print seconds, page faults, system time and the texts."""
    if arm == "reuse":
        from harness.allocator import reuse_freed_memory

        if not reuse_freed_memory():
            raise SystemExit("allocator: this system does not take the setting (Linux with glibc only)")
    import torch

    from benchmarks.bare_loop import batched_generate, load_model

    model, tokenizer = load_model(model_dir)
    prompts = [
        json.loads(line)["prompt"] for line in Path(prompts_file).read_text(encoding="utf-8").splitlines()
    ]
    batched_generate(model, tokenizer, prompts[:batch_size], batch_size, new_tokens, "sorted", samples, top_p)
    before = resource.getrusage(resource.RUSAGE_SELF)
    started = time.perf_counter()
    texts = batched_generate(model, tokenizer, prompts, batch_size, new_tokens, "sorted", samples, top_p)
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_SELF)
    print(
        json.dumps(
            {
                "seconds": seconds,
                "minor_faults": after.ru_minflt - before.ru_minflt,
                "system_seconds": after.ru_stime - before.ru_stime,
                "threads": torch.get_num_threads(),
                "outputs": texts,
            }
        )
    )


def main(argv: list[str] | None = None) -> dict[str, object]:
    """Alternate the two arms in fresh processes, print and write the ratio and page faults."""
    args = parse_args(argv)
    from transformers import AutoTokenizer

    model_dir = ensure_model(args.model, args.models, args.new_tokens)
    prompts = make_prompts(AutoTokenizer.from_pretrained(model_dir), args.prompts, 10, 60)
    prompts_file = write_prompts(prompts, args.out / f"prompts-{args.model}-{args.prompts}.jsonl")
    env = benchmark_env(thread_env(args.threads))
    rounds = Rounds()
    faults: dict[str, list[int]] = {}
    system: dict[str, list[float]] = {}
    outputs: dict[str, list[list[str]]] = {}
    for round_index in range(args.rounds):
        names = list(ARMS) if round_index % 2 == 0 else list(reversed(ARMS))
        for name in names:
            command = [
                sys.executable,
                "-m",
                "benchmarks.allocator",
                "--worker",
                ARMS[name],
                str(model_dir),
                str(prompts_file),
                str(args.batch_size),
                str(args.new_tokens),
                str(args.samples),
                str(args.top_p),
            ]
            payload = json.loads(run_process(command, env=env).stdout.strip().splitlines()[-1])
            rounds.add(name, payload["seconds"])
            faults.setdefault(name, []).append(payload["minor_faults"])
            system.setdefault(name, []).append(payload["system_seconds"])
            outputs[name] = payload["outputs"]
            print(
                f"  round {round_index + 1}/{args.rounds}  {name:<20} {payload['seconds']:7.2f} s  "
                f"{payload['minor_faults']:>9,} page faults  {payload['system_seconds']:.2f} s system",
                file=sys.stderr,
                flush=True,
            )
    ratio = rounds.ratio("glibc defaults", "reuse freed memory")
    figures: dict[str, object] = {
        "model": args.model,
        "prompts": args.prompts,
        "threads": args.threads,
        "seconds": dict(rounds.times),
        "minor_faults": faults,
        "system_seconds": system,
        "defaults_over_reuse": ratio,
        "per_round_ratio": [
            a / b
            for a, b in zip(rounds.times["glibc defaults"], rounds.times["reuse freed memory"], strict=True)
        ],
        "outputs_equal": outputs["glibc defaults"] == outputs["reuse freed memory"],
    }
    rows = [
        (
            name,
            f"{rounds.median(name):7.2f} s  {statistics.median(faults[name]):>10,.0f} page faults  "
            f"{statistics.median(system[name]):.2f} s system",
        )
        for name in ARMS
    ]
    rows += [
        ("glibc defaults / reuse freed memory", f"{ratio:7.3f}x"),
        ("outputs equal", str(figures["outputs_equal"])),
    ]
    print_table(f"Allocator ({args.model}, {args.prompts} prompts), median of {args.rounds} rounds", rows)
    path = report(f"allocator-{args.model}", figures, args.out)
    print(f"\nwritten: {path}", file=sys.stderr)
    return figures


if __name__ == "__main__":
    if sys.argv[1:2] == ["--worker"]:
        arm, model_dir, prompts_file, batch, tokens, samples, top_p = sys.argv[2:]
        worker(arm, model_dir, prompts_file, int(batch), int(tokens), int(samples), float(top_p))
    else:
        main()
