"""Benchmark 4: time and peak memory against the number of instances, on the ``simulated`` adapter.

Each size is one whole ``harness`` process running the ``bench_generate`` workload over a prompt
file of that many lines (``model=simulated``: no model compute, so only the harness's own work is
measured). Reported per size: wall time, the run's own duration from ``run.json`` (start-up
excluded), microseconds per instance and the process's peak RSS (``wait4``). Linear time means a
flat per-instance cost; streaming means a flat peak RSS.

    .venv/bin/python -m benchmarks.scale --sizes 1000 10000 100000
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import tempfile
from pathlib import Path

from scipy.stats import linregress

from benchmarks.common import OUT, benchmark_env, harness_command, print_table, report, run_process
from benchmarks.models import WORDS


def write_synthetic_prompts(path: Path, count: int, seed: int = 0) -> Path:
    """``count`` prompts of 5–40 random words (no tokenizer needed at this scale)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    with path.open("w", encoding="utf-8") as handle:
        for index in range(count):
            words = " ".join(rng.choice(WORDS) for _ in range(rng.randint(5, 40)))
            handle.write(json.dumps({"id": f"p{index:07d}", "prompt": words.capitalize()}) + "\n")
    return path


def write_table(path: Path) -> Path:
    """A simulated-model table answering every prompt with one of two continuations."""
    rule = {"match": ".", "outputs": {" a short answer": 0.5, " a much longer answer than that one": 0.5}}
    path.write_text(json.dumps([rule]))
    return path


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000], help="two or more")
    parser.add_argument("--samples", type=int, default=1, help="continuations per prompt")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    if len(args.sizes) < 2:
        parser.error("--sizes: give at least two sizes, so growth can be measured")
    return args


def main(argv: list[str] | None = None) -> dict[str, object]:
    """Run every size, print the table and write ``out/scale.json``."""
    args = parse_args(argv)
    rows_out: list[dict[str, float]] = []
    for size in args.sizes:
        work = Path(tempfile.mkdtemp(prefix="bench-scale-"))
        prompts = write_synthetic_prompts(work / "prompts.jsonl", size)
        sampling = (
            [f"scenario.samples={args.samples}", "scenario.temperature=1.0"] if args.samples > 1 else []
        )
        overrides = [
            "scenario=bench_generate",
            f"scenario.prompts={prompts}",
            *sampling,
            "model=simulated",
            f"model.table={write_table(work / 'table.json')}",
            "progress=false",
            "report=false",
            f"hydra.run.dir={work / 'run'}",
            f"cache.path={work / 'cache.sqlite'}",
        ]
        result = run_process(harness_command(overrides), env=benchmark_env())
        manifest = json.loads((work / "run" / "bench_generate" / "run.json").read_text())
        duration = float(manifest["timings"]["duration_s"])
        rows_out.append(
            {
                "instances": size,
                "wall_s": result.seconds,
                "run_s": duration,
                "us_per_instance": 1e6 * duration / size,
                "peak_rss_mb": result.peak_rss_mb,
                "samples_jsonl_mb": (work / "run" / "bench_generate" / "samples.jsonl").stat().st_size
                / 2**20,
            }
        )
        print(
            f"  {size:>8} instances: {result.seconds:7.2f} s, peak {result.peak_rss_mb:7.1f} MB",
            file=sys.stderr,
        )
        shutil.rmtree(work, ignore_errors=True)
    first, previous, last = rows_out[0], rows_out[-2], rows_out[-1]
    # A run's fixed cost (opening files, the bootstrap's setup) dominates the smallest size, so
    # linearity is read from the two largest sizes and from a least-squares line over all of them.
    fit = linregress([r["instances"] for r in rows_out], [r["run_s"] for r in rows_out])
    figures: dict[str, object] = {
        "sizes": rows_out,
        "time_growth_vs_size_growth": (last["run_s"] / previous["run_s"])
        / (last["instances"] / previous["instances"]),
        "linear_fit": {
            "fixed_s": float(fit.intercept),
            "us_per_instance": float(fit.slope) * 1e6,
            "r_squared": float(fit.rvalue) ** 2,
        },
        "peak_rss_growth": last["peak_rss_mb"] / first["peak_rss_mb"],
    }
    table = [
        (
            f"{r['instances']:>8} instances",
            f"wall {r['wall_s']:7.2f} s   run {r['run_s']:7.2f} s   "
            f"{r['us_per_instance']:7.0f} us/instance   "
            f"peak RSS {r['peak_rss_mb']:7.1f} MB",
        )
        for r in rows_out
    ]
    table += [
        (
            f"run time growth / size growth, {previous['instances']} -> {last['instances']}",
            f"{figures['time_growth_vs_size_growth']:.2f} (1.00 = linear)",
        ),
        (
            "least-squares line over all sizes",
            f"{fit.intercept:.2f} s + {fit.slope * 1e6:.0f} us/instance, R^2 {fit.rvalue**2:.4f}",
        ),
        ("peak RSS, largest / smallest", f"{figures['peak_rss_growth']:.2f}x (1.00 = flat)"),
    ]
    print_table("Scale on the simulated adapter (bench_generate workload, whole process)", table)
    path = report("scale", figures, args.out)
    print(f"\nwritten: {path}", file=sys.stderr)
    return figures


if __name__ == "__main__":
    main()
