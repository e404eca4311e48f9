"""Benchmark 3: re-running a finished evaluation with only a scoring parameter changed.

The second run goes to a new run directory (its configuration differs) but shares the response
cache, so it must not generate anything: the benchmark reads ``counts.requests_sent`` from every
manifest of the warm run and fails if any request reached the model. Two workloads:

* ``suite`` – the default suite on the reference model (``harness model=reference``), warm run
  with ``suite.scenarios.toxicity.threshold`` changed; the cold run is cheap here (a 0.4M model),
  so start-up, scoring and the report bound the ratio;
* ``workload`` – the ``bench_generate`` workload (``--prompts`` prompts, ``--samples`` sampled
  continuations each) on ``--model``, warm run with ``scenario.long_chars`` changed.

Whole ``harness`` processes, cold and warm alternating; ratio = cold / warm, paired by round.

    .venv/bin/python -m benchmarks.warm_cache --mode workload --model gpt2-small --rounds 2
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from benchmarks.common import (
    Rounds,
    add_output_arguments,
    benchmark_env,
    harness_command,
    print_table,
    report,
    run_process,
    thread_env,
)
from benchmarks.models import MODELS, ensure_model, make_prompts, write_prompts
from benchmarks.scale import write_synthetic_prompts, write_table


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--mode", choices=("suite", "workload"), default="workload")
    parser.add_argument(
        "--model",
        choices=(*MODELS, "simulated"),
        default="gpt2-small",
        help="workload mode only (simulated: no model)",
    )
    parser.add_argument("--prompts", type=int, default=256, help="workload mode only")
    parser.add_argument(
        "--samples", type=int, default=1, help="workload mode: sampled continuations per prompt"
    )
    parser.add_argument("--new-tokens", type=int, default=32, help="workload mode only")
    parser.add_argument("--limit", type=int, default=None, help="suite mode: limit=N per scenario")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument(
        "--report", action=argparse.BooleanOptionalAction, default=True, help="write the HTML report"
    )
    add_output_arguments(parser, "where benchmark models are built")
    return parser.parse_args(argv)


def run_counts(job_dir: Path) -> dict[str, dict[str, Any]]:
    """Per-scenario ``counts`` and duration from the manifests below ``job_dir``."""
    found = {}
    for manifest in sorted(job_dir.glob("*/run.json")):
        data = json.loads(manifest.read_text())
        found[manifest.parent.name] = {
            **data.get("counts", {}),
            "duration_s": data["timings"].get("duration_s"),
        }
    return found


def overrides_for(args: argparse.Namespace) -> tuple[list[str], list[str]]:
    """(common overrides, the warm run's scoring-parameter change)."""
    common = ["progress=false", f"report={str(args.report).lower()}"]
    if args.mode == "suite":
        common += ["model=reference"] + ([f"limit={args.limit}"] if args.limit else [])
        return common, ["suite.scenarios.toxicity.threshold=0.6"]
    if args.model == "simulated":
        prompts_file = write_synthetic_prompts(
            args.out / f"prompts-synthetic-{args.prompts}.jsonl", args.prompts
        )
        model = ["model=simulated", f"model.table={write_table(args.out / 'simulated-table.json')}"]
    else:
        model_dir = ensure_model(args.model, args.models, args.new_tokens)
        from transformers import AutoTokenizer

        prompts = make_prompts(AutoTokenizer.from_pretrained(model_dir), args.prompts, 10, 60)
        prompts_file = write_prompts(prompts, args.out / f"prompts-{args.model}-{args.prompts}.jsonl")
        model = ["model=hf", f"model.pretrained={model_dir}"]
    sampling = [f"scenario.samples={args.samples}", "scenario.temperature=1.0"] if args.samples > 1 else []
    common += [
        "scenario=bench_generate",
        f"scenario.prompts={prompts_file}",
        f"scenario.max_new_tokens={args.new_tokens}",
        *sampling,
        *model,
    ]
    return common, ["scenario.long_chars=40"]


def main(argv: list[str] | None = None) -> dict[str, object]:
    """Run cold/warm pairs, check the warm runs generated nothing, print and write the ratios."""
    args = parse_args(argv)
    common, change = overrides_for(args)
    env = benchmark_env(thread_env(args.threads))
    rounds = Rounds()
    counts: dict[str, Any] = {}
    for round_index in range(args.rounds):
        work = Path(tempfile.mkdtemp(prefix="bench-warm-"))
        cache = [f"cache.path={work / 'cache.sqlite'}"]
        cold = run_process(harness_command([*common, *cache, f"hydra.run.dir={work / 'cold'}"]), env=env)
        warm = run_process(
            harness_command([*common, *change, *cache, f"hydra.run.dir={work / 'warm'}"]), env=env
        )
        rounds.add("cold", cold.seconds)
        rounds.add("warm", warm.seconds)
        counts = {"cold": run_counts(work / "cold"), "warm": run_counts(work / "warm")}
        print(
            f"  round {round_index + 1}/{args.rounds}  "
            f"cold {cold.seconds:7.2f} s  warm {warm.seconds:7.2f} s",
            file=sys.stderr,
        )
        shutil.rmtree(work, ignore_errors=True)
        regenerated = {
            name: c.get("requests_sent") for name, c in counts["warm"].items() if c.get("requests_sent")
        }
        if regenerated or not counts["warm"]:
            raise SystemExit(
                f"warm_cache: the warm run sent requests to the model again: {regenerated or 'no runs found'}"
            )
    ratio = rounds.ratio("cold", "warm")
    generation = {
        name: {
            "cold_generation_s": counts["cold"][name]["generation_s"],
            "warm_generation_s": c["generation_s"],
        }
        for name, c in counts["warm"].items()
    }
    figures: dict[str, object] = {
        "mode": args.mode,
        "model": "reference" if args.mode == "suite" else args.model,
        "seconds": dict(rounds.times),
        "cold_over_warm": ratio,
        "warm_requests_sent": {name: c.get("requests_sent") for name, c in counts["warm"].items()},
        "warm_requests_cached": {name: c.get("requests_cached") for name, c in counts["warm"].items()},
        "per_scenario": {"cold": counts["cold"], "warm": counts["warm"]},
        "generation_seconds": generation,
        "changed": change,
    }
    rows = [
        ("cold run (whole process)", f"{rounds.median('cold'):8.2f} s"),
        ("warm run, scoring parameter changed", f"{rounds.median('warm'):8.2f} s"),
        ("cold / warm", f"{ratio:8.1f}x"),
        ("requests sent to the model in the warm run", str(sum(figures["warm_requests_sent"].values()))),
        (
            "requests served from the cache in the warm run",
            str(sum(figures["warm_requests_cached"].values())),
        ),
    ]
    rows += [
        (
            f"  {name}: generation cold / warm",
            f"{g['cold_generation_s']:.2f} s / {g['warm_generation_s']:.3f} s",
        )
        for name, g in generation.items()
    ]
    print_table(
        f"Warm cache ({args.mode}, {figures['model']}, {' '.join(change)}), median of {args.rounds} rounds",
        rows,
    )
    path = report(f"warm_cache-{args.mode}", figures, args.out)
    print(f"\nwritten: {path}", file=sys.stderr)
    return figures


if __name__ == "__main__":
    main()
