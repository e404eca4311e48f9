"""Benchmark 5: HTTP throughput of the ``openai`` adapter against a server with a fixed latency.

The server (:mod:`benchmarks.latency_server`, its own process) answers every completion after
``--latency`` seconds, so at concurrency c the ideal throughput is c / latency requests per second.
For each concurrency the adapter's ``generate`` sends ``--seconds`` worth of ideal traffic (at
least 4c requests, distinct prompts) and the achieved rate is compared with the ideal. The last
row runs the whole engine in-process (the ``bench_generate`` workload through the runner, at the
highest concurrency) to show the harness's own per-request cost on top of the adapter's.

Pipelining: the runner generates window k+1 while it scores window k. Two more whole runs give
each continuation a scoring cost of ``--scoring-ms`` spent outside the interpreter lock (as a
classifier on a GPU would be): one in windows of ``--window`` (generation and scoring overlap),
one in a single window holding every instance (nothing to overlap: generation, then scoring,
the runner's behaviour without pipelining). Their time ratio is the pipelining gain.

    .venv/bin/python -m benchmarks.http_throughput --concurrency 1 8 32 64
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import OUT, benchmark_env, print_table, report
from benchmarks.models import write_prompts
from benchmarks.workload_run import in_process_run


def start_server(latency: float) -> tuple[subprocess.Popen[str], int]:
    """Start the latency server and return it with its port."""
    server = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.latency_server", "--latency", str(latency)],
        stdout=subprocess.PIPE,
        text=True,
        env=benchmark_env(),
    )
    assert server.stdout is not None
    line = server.stdout.readline()
    if not line.startswith("ready "):
        server.kill()
        raise RuntimeError(f"latency server did not start: {line!r}")
    return server, int(line.split()[1])


def make_adapter(port: int, concurrency: int):
    """An ``openai`` adapter for the local server with no probes beyond listing models."""
    from harness.adapters.openai import OpenAIAdapter, OpenAIParams

    params = OpenAIParams(
        base_url=f"http://127.0.0.1:{port}/v1",
        api_key_env=None,
        endpoint="completions",
        concurrency=concurrency,
        loglikelihood=False,
        chat=False,
        max_retries=0,
    )
    return OpenAIAdapter(params)


def measurement(
    concurrency: int, count: int, seconds: float, latency: float, failed: int
) -> dict[str, float]:
    """One row of results: achieved and ideal requests per second."""
    ideal = concurrency / latency
    return {
        "concurrency": concurrency,
        "requests": count,
        "seconds": seconds,
        "failed": failed,
        "achieved_rps": count / seconds,
        "ideal_rps": ideal,
        "fraction_of_ideal": count / seconds / ideal,
    }


def describe(row: dict[str, float]) -> str:
    """A row as one line of text."""
    failed = f"   {row['failed']} failed" if row["failed"] else ""
    return (
        f"{row['achieved_rps']:8.1f} req/s   ideal {row['ideal_rps']:8.1f}   "
        f"{row['fraction_of_ideal']:5.2f} of ideal{failed}"
    )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32, 64])
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--seconds", type=float, default=3.0, help="ideal duration of each measurement")
    parser.add_argument("--rounds", type=int, default=3, help="every measurement is the median of these")
    parser.add_argument(
        "--scoring-ms", type=float, default=1.0, help="pipelining runs: scoring cost per continuation"
    )
    parser.add_argument("--window", type=int, default=512, help="pipelining runs: instances per window")
    parser.add_argument("--out", type=Path, default=OUT)
    return parser.parse_args(argv)


def adapter_rate(port: int, concurrency: int, count: int) -> tuple[float, int]:
    """Seconds for ``count`` distinct requests through one adapter, and how many failed."""
    from harness.types import GenerationParams, Request

    adapter = make_adapter(port, concurrency)
    adapter.probe()
    requests = [Request("generate", f"prompt {i}", GenerationParams(max_new_tokens=4)) for i in range(count)]
    started = time.perf_counter()
    completions = adapter.generate(requests, seed=0)
    return time.perf_counter() - started, sum(c.error is not None for c in completions)


def engine_rate(
    port: int, concurrency: int, count: int, window_size: int = 1024, scoring_ms: float = 0.0
) -> float:
    """Seconds for the whole engine (runner, cache, scoring, samples) on ``count`` distinct prompts."""
    work = Path(tempfile.mkdtemp(prefix="bench-http-"))
    prompts_file = write_prompts([f"prompt {i}" for i in range(count)], work / "prompts.jsonl")
    adapter = make_adapter(port, concurrency)
    adapter.probe()
    started = time.perf_counter()
    in_process_run(adapter, prompts_file, 4, window_size=window_size, scoring_ms=scoring_ms).cleanup()
    seconds = time.perf_counter() - started
    shutil.rmtree(work, ignore_errors=True)
    return seconds


def median_row(
    concurrency: int, count: int, runs: list[tuple[float, int]], latency: float
) -> dict[str, float]:
    """The measurement of the median run."""
    seconds, failed = sorted(runs)[len(runs) // 2]
    return measurement(concurrency, count, seconds, latency, failed)


def main(argv: list[str] | None = None) -> dict[str, object]:
    """Measure every concurrency, print the table and write ``out/http_throughput.json``."""
    args = parse_args(argv)
    top = max(args.concurrency)
    counts = {c: max(4 * c, int(c / args.latency * args.seconds)) for c in args.concurrency}
    runs: dict[int, list[tuple[float, int]]] = {c: [] for c in args.concurrency}
    engine_runs: list[tuple[float, int]] = []
    scored_runs: dict[str, list[tuple[float, int]]] = {"pipelined": [], "one window": []}
    windows = {"pipelined": args.window, "one window": counts[top]}
    server, port = start_server(args.latency)
    try:
        for round_index in range(args.rounds):
            for concurrency in args.concurrency:
                seconds, failed = adapter_rate(port, concurrency, counts[concurrency])
                runs[concurrency].append((seconds, failed))
                row = measurement(concurrency, counts[concurrency], seconds, args.latency, failed)
                print(f"  round {round_index + 1}/{args.rounds}  {describe(row)}", file=sys.stderr)
            engine_runs.append((engine_rate(port, top, counts[top]), 0))
            arms = list(windows.items())
            for arm, window in arms if round_index % 2 == 0 else arms[::-1]:  # alternate the order
                seconds = engine_rate(port, top, counts[top], window, args.scoring_ms)
                scored_runs[arm].append((seconds, 0))
                print(f"  round {round_index + 1}/{args.rounds}  {arm}: {seconds:.2f} s", file=sys.stderr)
    finally:
        server.kill()
        server.wait()
    rows = [median_row(c, counts[c], runs[c], args.latency) for c in args.concurrency]
    engine = median_row(top, counts[top], engine_runs, args.latency)
    scored = {arm: median_row(top, counts[top], times, args.latency) for arm, times in scored_runs.items()}
    gain = scored["one window"]["seconds"] / scored["pipelined"]["seconds"]
    figures: dict[str, object] = {
        "latency_s": args.latency,
        "rounds": args.rounds,
        "adapter": rows,
        "whole_engine": engine,
        "pipelining": {"scoring_ms": args.scoring_ms, "window": args.window, **scored, "gain": gain},
    }
    table = [(f"adapter, concurrency {r['concurrency']:>3}", describe(r)) for r in rows]
    table.append((f"whole run (runner + adapter), concurrency {top}", describe(engine)))
    scoring = f"{args.scoring_ms:g} ms/continuation scoring"
    for arm, row in scored.items():
        table.append((f"whole run, {scoring}, {arm}", f"{row['seconds']:8.2f} s   {describe(row)}"))
    table.append(("pipelining gain (one window / pipelined)", f"{gain:8.2f}x"))
    print_table(
        f"HTTP throughput, server latency {args.latency * 1000:.0f} ms, median of {args.rounds} rounds",
        table,
    )
    path = report("http_throughput", figures, args.out)
    print(f"\nwritten: {path}", file=sys.stderr)
    return figures


if __name__ == "__main__":
    main()
