"""Benchmark 7: watermark detection throughput on the CPU against the generation it certifies.

For each scheme (``kgw``, ``synthid``), the ``hf`` adapter generates ``--prompts`` watermarked
outputs of ``--tokens`` tokens on the CPU (sampling, end-of-text suppressed), then the scenario's
detector tests them (tokenising included: a detector sees text). Each round runs every arm
(plain generation too), in an order rotated from round to round; the figures are medians over
rounds of tokens per second and of per-round ratios: how many times faster detection runs than
the generation whose outputs it checks, and how much slower watermarked generation is than plain.

    .venv/bin/python -m benchmarks.watermark --prompts 64 --tokens 100 --rounds 3
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from typing import Any

from benchmarks.common import add_output_arguments, print_table, report

SCHEMES = {
    "kgw": (("bias", 4.0), ("greenlist_ratio", 0.25)),
    "synthid": (("depth", 30), ("ngram_len", 5)),
}


def measure(prompts: int, tokens: int, rounds: int, schemes: list[str]) -> dict[str, Any]:
    """Median generation and detection tokens per second for each scheme (and plain generation)."""
    from harness.adapters.hf import DEMO_WATERMARK_KEY, HFAdapter, HFParams, watermark_key_id
    from harness.types import GenerationParams, Request, WatermarkSpec
    from scenarios.watermark import loaders
    from scenarios.watermark.detection import build_detector

    adapter = HFAdapter(HFParams(pretrained="builtin:reference", device="cpu", batch_size=64))
    texts = [t.text for t in loaders.prompts_from(loaders.load_texts(None, "human"), 6)]
    chosen = [texts[i % len(texts)] + f" ({i})" for i in range(prompts)]
    params = GenerationParams(max_new_tokens=tokens, min_new_tokens=tokens, temperature=1.0)
    key_id = watermark_key_id(DEMO_WATERMARK_KEY)
    specs = {s: WatermarkSpec(s, SCHEMES[s], None, key_id) for s in schemes}
    # Load and warm up at the measured batch shape: the first full-size call is several times slower.
    adapter.generate([Request("generate", p, params) for p in chosen], seed=-1)
    detectors = {
        s: build_detector(spec, adapter.config, adapter.tokenizer.all_special_ids)
        for s, spec in specs.items()
    }
    arms = ["plain", *schemes]
    generation: dict[str, list[float]] = {arm: [] for arm in arms}
    detection: dict[str, list[float]] = {s: [] for s in schemes}
    detected: dict[str, list[float]] = {s: [] for s in schemes}
    for round_ in range(rounds):  # arms interleaved, rotated each round: load drifts hit them alike
        for arm in arms[round_ % len(arms) :] + arms[: round_ % len(arms)]:
            requests = [Request("generate", p, params, watermark=specs.get(arm)) for p in chosen]
            started = time.perf_counter()
            outputs = [c.texts[0] for c in adapter.generate(requests, seed=round_)]
            generation[arm].append(prompts * tokens / (time.perf_counter() - started))
            if arm in detectors:
                started = time.perf_counter()
                ids = adapter.tokenizer(outputs, add_special_tokens=False).input_ids
                p_values = [scan.p_value() for scan in detectors[arm].scan_many(ids)]
                detection[arm].append(sum(len(i) for i in ids) / (time.perf_counter() - started))
                detected[arm].append(sum(p <= 0.01 for p in p_values) / prompts)
    figures: dict[str, Any] = {"plain_generation_tokens_per_s": statistics.median(generation["plain"])}
    for s in schemes:
        figures[f"{s}_generation_tokens_per_s"] = statistics.median(generation[s])
        figures[f"{s}_detection_tokens_per_s"] = statistics.median(detection[s])
        figures[f"{s}_detection_over_generation"] = statistics.median(
            d / g for d, g in zip(detection[s], generation[s], strict=True)
        )
        figures[f"{s}_generation_cost_vs_plain"] = statistics.median(
            p / g for p, g in zip(generation["plain"], generation[s], strict=True)
        )
        figures[f"{s}_detected_share"] = detected[s]
    return figures


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, print the ratios and write ``out/watermark.json``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=64)
    parser.add_argument("--tokens", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--schemes", nargs="+", choices=sorted(SCHEMES), default=sorted(SCHEMES))
    add_output_arguments(parser, "unused (the reference model is built into the harness cache)")
    args = parser.parse_args(argv)
    figures = measure(args.prompts, args.tokens, args.rounds, args.schemes)
    rows = []
    for scheme in args.schemes:
        rows += [
            (f"{scheme}: detection tokens/s", f"{figures[f'{scheme}_detection_tokens_per_s']:.0f}"),
            (f"{scheme}: generation tokens/s", f"{figures[f'{scheme}_generation_tokens_per_s']:.0f}"),
            (f"{scheme}: detection / generation", f"{figures[f'{scheme}_detection_over_generation']:.1f}x"),
            (
                f"{scheme}: generation slowdown vs plain",
                f"{figures[f'{scheme}_generation_cost_vs_plain']:.2f}x",
            ),
        ]
    print_table(f"watermark detection vs generation ({args.prompts} x {args.tokens} tokens, CPU)", rows)
    print(f"\nfigures: {report('watermark', {**figures, 'arguments': vars(args)}, args.out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
