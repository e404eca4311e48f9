"""Benchmark 2: the same generation workload through lm-evaluation-harness and through rai-harness.

Same model directory, prompts, greedy decoding, exactly ``--new-tokens`` new tokens (the model's
``generation_config`` sets ``min_new_tokens``), batch ``--batch-size``. With ``--samples k`` both
tools sample k continuations per prompt instead (temperature 1, ``--top-p``; lm-eval's task uses
``repeats: k``, rai-harness the scenario's ``samples``), as RAI scenarios do. lm-eval runs from its own
environment (``benchmarks/.venv-lmeval``, made by ``benchmarks/setup_lmeval.sh``) with a task
written here (``dataset_path: json`` over the prompt file, ``generate_until``, ``bypass`` metric),
so both tools read the prompts through ``datasets``. Arms in every round:

* ``bare: length-sorted`` – the practical limit of one batch at a time, in this process;
* ``bare: length-sorted, parallel streams`` – with more than one torch thread only: the same loop
  generating one batch per torch thread at once, each on one thread (what rai-harness's ``hf``
  adapter's ``model.streams=auto`` does on a CPU with up to 8 threads and enough memory);
* ``rai-harness: evaluation`` – a complete in-process scenario run with the model already loaded,
  timed inside a fresh worker process (``harness_worker.py``) where nothing else runs torch, as in
  a ``harness`` process;
* ``lm-eval: evaluation`` – ``lm_eval.simple_evaluate`` on an already constructed ``HFLM`` (timed
  inside a worker process in lm-eval's environment, beside a bare sorted loop in that process,
  which runs on the same thread as lm-eval's generation);
  both evaluation arms are warmed up first with a one-batch run of the same kind;
* ``rai-harness: whole process`` – ``harness scenario=bench_generate model=hf ...``;
* ``lm-eval: whole process`` – ``lm-eval run --model hf ... --log_samples --output_path ...``;
* ``bare: whole process`` – with the lm-eval arm: the sorted loop as a script of its own in this
  environment (``python -m benchmarks.bare_loop``: import, load, generate, exit), the least any
  transformers-based tool pays for the workload as a process. lm-eval's whole process over it is
  the highest whole-process ratio any tool could reach against lm-eval on this workload.

Whole-process arms also record CPU seconds (user + system), steadier than wall seconds on a shared
machine; their ratios are printed in both.

    .venv/bin/python -m benchmarks.vs_lmeval --model gpt2-small --rounds 3
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from benchmarks.bare_loop import batched_generate, load_model
from benchmarks.common import (
    REPO,
    ProcessResult,
    Rounds,
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
from benchmarks.workload_run import cli_run

LMEVAL_VENV = REPO / "benchmarks" / ".venv-lmeval"
WORKER = REPO / "benchmarks" / "lmeval_worker.py"
HARNESS_WORKER = "benchmarks.harness_worker"
TASK_NAME = "rai_bench_generate"
HARNESS_WHOLE = "rai-harness: whole process"
LMEVAL_WHOLE = "lm-eval: whole process"
BARE_WHOLE = "bare: whole process"
WARMUP_TASK = "rai_bench_warmup"
NEVER_STOP = "<<rai-bench: no stop sequence>>"
SORTED = "bare: length-sorted"
STREAMS = "bare: length-sorted, parallel streams"


class LmEvalMissing(RuntimeError):
    """lm-eval's environment does not exist."""


def task_yaml(name: str, prompts_file: Path, new_tokens: int, samples: int = 1, top_p: float = 1.0) -> str:
    """lm-eval task config: the prompt file, ``new_tokens`` tokens, a stop string never produced.

    Greedy, or with ``samples`` > 1 that many continuations per prompt (lm-eval's ``repeats``)
    sampled at temperature 1 and ``top_p``.
    """
    decoding = ["  do_sample: false", "  temperature: 0.0"]
    if samples > 1:
        decoding = ["  do_sample: true", "  temperature: 1.0", f"  top_p: {top_p}"]
    return "\n".join(
        [
            *([f"repeats: {samples}"] if samples > 1 else []),
            f"task: {name}",
            "dataset_path: json",
            "dataset_kwargs:",
            "  data_files:",
            f"    test: {prompts_file}",
            "test_split: test",
            "output_type: generate_until",
            'doc_to_text: "{{prompt}}"',
            'doc_to_target: ""',
            "generation_kwargs:",
            f'  until: ["{NEVER_STOP}"]',
            f"  max_gen_toks: {new_tokens}",
            *decoding,
            "metric_list:",
            "  - metric: bypass",
            "    aggregation: bypass",
            "    higher_is_better: true",
            "",
        ]
    )


def lmeval_python(venv: Path) -> Path:
    """lm-eval's interpreter, or a one-line instruction to create it."""
    python = venv / "bin" / "python"
    if not python.exists():
        raise LmEvalMissing(
            f"lm-eval is not installed: {python} does not exist. Create it with "
            "`bash benchmarks/setup_lmeval.sh` (a separate venv with lm-eval 0.4.13; "
            "never the project's .venv)."
        )
    return python


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_generation_workload_arguments(parser)
    parser.add_argument("--lmeval-venv", type=Path, default=LMEVAL_VENV)
    parser.add_argument(
        "--lmeval-cli",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="time the lm-eval CLI arm (slowest)",
    )
    add_output_arguments(parser, "where benchmark models are built")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> dict[str, object]:
    """Run the comparison, print its table and write ``out/vs_lmeval-<model>.json``."""
    args = parse_args(argv)
    try:
        python = lmeval_python(args.lmeval_venv)
    except LmEvalMissing as exc:
        print(f"vs_lmeval: blocked: {exc}", file=sys.stderr)
        raise SystemExit(3) from exc
    import torch

    if args.threads is not None:
        torch.set_num_threads(args.threads)
    env = benchmark_env(thread_env(args.threads))
    model_dir = ensure_model(args.model, args.models, args.new_tokens)
    model, tokenizer = load_model(str(model_dir))
    prompts = make_prompts(tokenizer, args.prompts, 10, 60)
    prompts_file = write_prompts(prompts, args.out / f"prompts-{args.model}-{args.prompts}.jsonl")
    task_dir = Path(tempfile.mkdtemp(prefix="bench-lmeval-task-"))
    warmup_file = write_prompts(prompts[: args.batch_size], args.out / f"prompts-{args.model}-warmup.jsonl")
    k, top_p = args.samples, args.top_p
    (task_dir / f"{TASK_NAME}.yaml").write_text(task_yaml(TASK_NAME, prompts_file, args.new_tokens, k, top_p))
    (task_dir / f"{WARMUP_TASK}.yaml").write_text(
        task_yaml(WARMUP_TASK, warmup_file, args.new_tokens, k, top_p)
    )
    sampling = {"samples": k, "temperature": 1.0, "top_p": top_p} if k > 1 else {}
    # Warm-up, as both workers do before timing: first-call costs (imports, kernels) excluded.
    batched_generate(model, tokenizer, prompts[: args.batch_size], args.batch_size, args.new_tokens)
    expected = batched_generate(model, tokenizer, prompts, args.batch_size, args.new_tokens, "sorted")
    worker_bare: list[float] = []
    agreement: dict[str, str] = {}

    def check(outputs: list[list[str]]) -> str:
        """Greedy: how many prompts got the bare loop's text; sampled: how many got k samples."""
        if k == 1:
            return f"{sum(o == [e] for o, e in zip(outputs, expected, strict=True))}/{len(prompts)}"
        return f"{sum(len(o) == k for o in outputs)}/{len(prompts)} prompts with {k} samples (not compared)"

    def bare(streams: int = 1) -> Callable[[], None]:
        def loop() -> None:
            workload = (args.batch_size, args.new_tokens, "sorted", k, top_p)
            batched_generate(model, tokenizer, prompts, *workload, streams=streams)

        return loop

    def harness_eval() -> float:
        command = [sys.executable, "-m", HARNESS_WORKER, str(model_dir), str(prompts_file), str(warmup_file)]
        command += [str(args.batch_size), str(args.new_tokens), str(k), str(top_p)]
        payload = json.loads(run_process(command, env=env).stdout.strip().splitlines()[-1])
        agreement["rai-harness"] = check(payload["outputs"])
        return float(payload["seconds"])

    def lmeval_eval() -> float:
        order = "bare,lmeval" if len(worker_bare) % 2 == 0 else "lmeval,bare"
        command = [str(python), str(WORKER), str(model_dir), str(task_dir), str(prompts_file)]
        command += [str(args.batch_size), str(args.new_tokens), str(k), str(top_p), order]
        payload = json.loads(run_process(command, env=env).stdout.strip().splitlines()[-1])
        worker_bare.append(payload["seconds"]["bare"])
        agreement["lm-eval"] = check(payload["outputs"])
        return float(payload["seconds"]["lmeval"])

    def harness_cli() -> ProcessResult:
        run = cli_run(
            [
                "model=hf",
                f"model.pretrained={model_dir}",
                f"model.batch_size={args.batch_size}",
                "model.device=cpu",
            ],
            prompts_file,
            args.new_tokens,
            [f"scenario.{key}={value}" for key, value in sampling.items()],
            env=thread_env(args.threads),
        )
        run.cleanup()
        assert run.process is not None
        return run.process

    def lmeval_cli() -> ProcessResult:
        out = Path(tempfile.mkdtemp(prefix="bench-lmeval-out-"))
        command = [
            str(python), "-m", "lm_eval", "run", "--model", "hf",
            "--model_args", f"pretrained={model_dir},dtype=float32",
            "--tasks", TASK_NAME, "--include_path", str(task_dir), "--batch_size", str(args.batch_size),
            "--device", "cpu", "--output_path", str(out), "--log_samples",
        ]  # fmt: skip
        result = run_process(command, env=env)
        shutil.rmtree(out, ignore_errors=True)
        return result

    def bare_cli() -> ProcessResult:
        return run_process(bare_script_command(model_dir, prompts_file, args), env=env)

    threads = torch.get_num_threads()
    arms: dict[str, Callable[[], ProcessResult | float | None]] = {
        SORTED: bare(),
        **({STREAMS: bare(threads)} if threads > 1 else {}),
        "rai-harness: evaluation": harness_eval,
        "lm-eval: evaluation": lmeval_eval,
        HARNESS_WHOLE: harness_cli,
    }
    if args.lmeval_cli:
        arms[LMEVAL_WHOLE] = lmeval_cli
        arms[BARE_WHOLE] = bare_cli
    rounds = run_rounds(arms, args.rounds)
    shutil.rmtree(task_dir, ignore_errors=True)
    figures = summarise(args, rounds, worker_bare, agreement, parameter_count(model), threads)
    path = report(f"vs_lmeval-{args.model}" + (f"-k{k}" if k > 1 else ""), figures, args.out)
    print(f"\nwritten: {path}", file=sys.stderr)
    return figures


def summarise(
    args: argparse.Namespace,
    rounds: Rounds,
    worker_bare: list[float],
    agreement: dict[str, str],
    params: int,
    threads: int,
) -> dict[str, object]:
    """Ratios (paired by round, medians), printed and returned."""
    times = rounds.times
    lm_normalised = statistics.median(
        a / b for a, b in zip(times["lm-eval: evaluation"], worker_bare, strict=True)
    )
    figures: dict[str, object] = {
        "model": args.model,
        "parameters": params,
        "prompts": args.prompts,
        "new_tokens": args.new_tokens,
        "samples": args.samples,
        "top_p": args.top_p if args.samples > 1 else None,
        "batch_size": args.batch_size,
        "rounds": args.rounds,
        "threads": threads,
        "seconds": dict(times),
        "cpu_seconds": dict(rounds.cpu),
        "lmeval_worker_bare_sorted_seconds": worker_bare,
        "ratio_vs_sorted": {arm: rounds.ratio(arm, SORTED) for arm in times},
        "lmeval_evaluation_vs_its_own_sorted_loop": lm_normalised,
        "lmeval_over_harness_evaluation": rounds.ratio("lm-eval: evaluation", "rai-harness: evaluation"),
        "lmeval_over_harness_evaluation_normalised": lm_normalised
        / rounds.ratio("rai-harness: evaluation", SORTED),
        "outputs_equal_to_sorted_loop": agreement,
    }
    rows = arm_rows(rounds, SORTED)
    rows.append(("lm-eval evaluation vs its own sorted loop", f"{lm_normalised:5.2f}x"))
    if LMEVAL_WHOLE in times:
        for key, label, arm in (
            ("lmeval_over_harness_whole_process", "rai-harness", HARNESS_WHOLE),
            ("lmeval_over_bare_whole_process", "bare script", BARE_WHOLE),
        ):
            wall, cpu = rounds.ratio(LMEVAL_WHOLE, arm), rounds.ratio(LMEVAL_WHOLE, arm, cpu=True)
            figures[key], figures[f"{key}_cpu"] = wall, cpu
            rows.append((f"whole process: lm-eval / {label}", f"{wall:5.2f}x wall   {cpu:5.2f}x CPU"))
    rows += [
        ("evaluation: lm-eval / rai-harness", f"{figures['lmeval_over_harness_evaluation']:5.2f}x"),
        (
            "evaluation, each vs its loop: lm-eval / rai-harness",
            f"{figures['lmeval_over_harness_evaluation_normalised']:5.2f}x",
        ),
    ]
    rows += [(f"outputs check ({tool})", value) for tool, value in agreement.items()]
    print_table(
        f"rai-harness vs lm-eval: {args.model} ({params / 1e6:.1f}M parameters), {args.prompts} prompts, "
        f"{args.new_tokens} new tokens, "
        f"{'greedy' if args.samples == 1 else f'{args.samples} samples (top-p {args.top_p})'}, "
        f"batch {args.batch_size}, {threads} thread(s), "
        f"median of {args.rounds} rounds",
        rows,
    )
    return figures


if __name__ == "__main__":
    main()
