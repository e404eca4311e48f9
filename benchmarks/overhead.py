"""Benchmark 1: rai-harness overhead against bare batched ``model.generate`` loops.

Workload: ``--prompts`` prompts of 10–60 tokens, greedy, exactly ``--new-tokens`` new tokens,
batch ``--batch-size``. Arms, timed in rotated order in every round:

* ``bare: file order`` – batched ``generate`` over the prompts in file order;
* ``bare: length-sorted`` – the same, prompts sorted by token length (the practical limit of one
  batch at a time);
* ``bare: length-sorted, parallel streams`` – on a CPU with more than one torch thread only: one
  batch per torch thread at once, each on one thread (what the ``hf`` adapter's ``auto`` does with
  up to 8 threads and enough memory);
* ``bare: one per prompt`` – one ``generate`` per prompt, as HELM's HF client does (``--single``);
* ``harness: in-process`` – a complete scenario run (plan, cache, generate, score, samples.jsonl,
  metrics, manifest) with the adapter already loaded, as the bare loops have their model loaded;
* ``harness: whole process`` – the ``harness`` command from the shell, start-up included;
* ``bare: whole process`` – the length-sorted loop as a script of its own
  (``python -m benchmarks.bare_loop``): import torch and transformers, load the model, generate,
  exit. The least any transformers-based tool pays for the workload as a process;
* ``floor: import + load`` – a process that only imports torch and transformers and loads the
  model and tokenizer, without generating: the start-up every transformers-based tool pays, so
  ``whole process`` minus this is the harness's own start-up (Hydra, configuration, data, writing).

Every ratio is against the length-sorted loop, paired by round, median over rounds. The three
process arms also record their CPU seconds (user + system), which vary less than wall seconds on a
shared machine; ``harness: whole process`` is set against ``bare: whole process`` in both. With
``--samples k`` every arm samples k continuations per prompt (temperature 1, ``--top-p``) instead:
the bare loops the way transformers does (``num_return_sequences``, ``batch_size // k`` prompts per
call), the harness with shared-prompt sampling, ``batch_size`` rows per call in both.

    .venv/bin/python -m benchmarks.overhead --model gpt2-small --rounds 3
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from benchmarks.bare_loop import batched_generate, load_model
from benchmarks.common import (
    ProcessResult,
    add_generation_workload_arguments,
    add_output_arguments,
    arm_rows,
    bare_script_command,
    benchmark_env,
    print_table,
    report,
    run_process,
    run_rounds,
    thread_env,
)
from benchmarks.models import ensure_model, make_prompts, parameter_count, write_prompts
from benchmarks.workload_run import WorkloadRun, cli_run, in_process_run

SORTED = "bare: length-sorted"
FLOOR = "floor: import + load"
WHOLE = "harness: whole process"
BARE_WHOLE = "bare: whole process"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_generation_workload_arguments(parser)
    parser.add_argument("--single", action="store_true", help="also time one generate call per prompt")
    parser.add_argument("--device", default="cpu")
    add_output_arguments(parser, "where benchmark models are built")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> dict[str, object]:
    """Run the benchmark, print its table and write ``out/overhead-<model>.json``."""
    args = parse_args(argv)
    import torch

    from harness.adapters.hf import HFAdapter, HFParams

    if args.threads is not None:
        torch.set_num_threads(args.threads)
    model_dir = ensure_model(args.model, args.models, args.new_tokens)
    model, tokenizer = load_model(str(model_dir), args.device)
    prompts = make_prompts(tokenizer, args.prompts, 10, 60)
    prompts_file = write_prompts(prompts, args.out / f"prompts-{args.model}-{args.prompts}.jsonl")
    adapter = HFAdapter(HFParams(pretrained=str(model_dir), batch_size=args.batch_size, device=args.device))
    model_overrides = [
        "model=hf",
        f"model.pretrained={model_dir}",
        f"model.batch_size={args.batch_size}",
        f"model.device={args.device}",
    ]
    sampling = {"samples": args.samples, "temperature": 1.0, "top_p": args.top_p} if args.samples > 1 else {}
    scenario_overrides = [f"scenario.{key}={value}" for key, value in sampling.items()]
    # Warm-up: one batch through the bare loop and through an in-process run (first-call costs excluded).
    batched_generate(model, tokenizer, prompts[: args.batch_size], args.batch_size, args.new_tokens)
    warmup_file = write_prompts(prompts[: args.batch_size], args.out / f"prompts-{args.model}-warmup.jsonl")
    in_process_run(adapter, warmup_file, args.new_tokens, **sampling).cleanup()
    reference_texts = batched_generate(model, tokenizer, prompts, args.batch_size, args.new_tokens, "sorted")
    checks: dict[str, str] = {}

    threads = torch.get_num_threads()

    def bare(order: str, streams: int = 1) -> Callable[[], None]:
        def loop() -> None:
            workload = (args.batch_size, args.new_tokens, order, args.samples, args.top_p)
            batched_generate(model, tokenizer, prompts, *workload, streams=streams)

        return loop

    def finish(run: WorkloadRun, arm: str) -> None:
        texts = run.outputs()
        if args.samples == 1:  # greedy: the harness must reproduce the loop's texts exactly
            same = sum(texts[f"p{i:05d}"] == [reference_texts[i]] for i in range(len(prompts)))
            checks[arm] = f"{same}/{len(prompts)}"
        else:
            complete = sum(len(texts[f"p{i:05d}"]) == args.samples for i in range(len(prompts)))
            checks[arm] = (
                f"{complete}/{len(prompts)} prompts with {args.samples} samples (sampled: not compared)"
            )
        run.cleanup()

    def in_process() -> None:
        finish(in_process_run(adapter, prompts_file, args.new_tokens, **sampling), "harness: in-process")

    def whole_process() -> ProcessResult:
        run = cli_run(
            model_overrides, prompts_file, args.new_tokens, scenario_overrides, env=thread_env(args.threads)
        )
        finish(run, WHOLE)
        assert run.process is not None
        return run.process

    def bare_whole_process() -> ProcessResult:
        command = bare_script_command(model_dir, prompts_file, args, args.device)
        return run_process(command, env=benchmark_env(thread_env(args.threads)))

    def floor() -> ProcessResult:
        code = f"from benchmarks.bare_loop import load_model; load_model({str(model_dir)!r}, {args.device!r})"
        return run_process([sys.executable, "-c", code], env=benchmark_env(thread_env(args.threads)))

    arms: dict[str, Callable[[], ProcessResult | None]] = {
        "bare: file order": bare("file"),
        SORTED: bare("sorted"),
    }
    if threads > 1 and args.device == "cpu":
        arms["bare: length-sorted, parallel streams"] = bare("sorted", threads)
    if args.single:
        arms["bare: one per prompt"] = bare("single")
    arms["harness: in-process"] = in_process
    arms[WHOLE] = whole_process
    arms[BARE_WHOLE] = bare_whole_process
    arms[FLOOR] = floor
    rounds = run_rounds(arms, args.rounds)

    figures: dict[str, object] = {
        "model": args.model,
        "parameters": parameter_count(model),
        "prompts": args.prompts,
        "new_tokens": args.new_tokens,
        "batch_size": args.batch_size,
        "rounds": args.rounds,
        "threads": torch.get_num_threads(),
        "device": args.device,
        "seconds": {arm: rounds.times[arm] for arm in arms},
        "ratio_vs_sorted": {arm: rounds.ratio(arm, SORTED) for arm in arms},
        "cpu_seconds": dict(rounds.cpu),
        "whole_process_over_bare_script": rounds.ratio(WHOLE, BARE_WHOLE),
        "whole_process_over_bare_script_cpu": rounds.ratio(WHOLE, BARE_WHOLE, cpu=True),
        "samples": args.samples,
        "top_p": args.top_p if args.samples > 1 else None,
        "outputs_equal_to_sorted_loop": checks,
    }
    rows = arm_rows(rounds, SORTED)
    rows.append(
        (
            "whole process: rai-harness / bare script",
            f"{figures['whole_process_over_bare_script']:5.2f}x wall   "
            f"{figures['whole_process_over_bare_script_cpu']:5.2f}x CPU",
        )
    )
    rows += [(f"outputs check ({arm})", value) for arm, value in checks.items()]
    print_table(
        f"Harness overhead: {args.model} ({parameter_count(model) / 1e6:.1f}M parameters), "
        f"{args.prompts} prompts, {args.new_tokens} new tokens, "
        f"{'greedy' if args.samples == 1 else f'{args.samples} samples (top-p {args.top_p})'}, "
        f"batch {args.batch_size}, {torch.get_num_threads()} thread(s), "
        f"median of {args.rounds} rounds",
        rows,
    )
    suffix = "" if args.samples == 1 else f"-k{args.samples}"
    path = report(f"overhead-{args.model}{suffix}", figures, args.out)
    print(f"\nwritten: {path}", file=sys.stderr)
    return figures


if __name__ == "__main__":
    main()
