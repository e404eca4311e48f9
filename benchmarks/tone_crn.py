"""Benchmark 8: common random numbers against independent sampling in tone_disparity.

The same counterfactual prompts are run twice per seed: with ``paired_sampling`` (every member of
a tuple samples with the tuple's seeds) and without (every prompt its own seeds). Both runs are
analysed the same way (paired by tuple, clustered by template), so the ratio of the widths of the
female − male difference's 95% interval, independent over paired, is what common random numbers
buy on these prompts. The minimum detectable effects are reported too (they scale with the width).

``--model reference`` runs the embedded reference model (built on first use; ``--pretrained``
names another local model folder); ``--model
simulated`` a simulated model whose female continuations are 0.02 less positive on a graded
tone scale (a fast check of the script, not a figure about language models).

    .venv/bin/python -m benchmarks.tone_crn --model reference --tuples 192 --k 4 --seeds 3
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

from benchmarks.common import OUT, print_table, report
from harness.model import ModelAdapter
from harness.runner import Runner, RunSettings
from harness.scenario import ScenarioContext
from harness.types import MetricValue
from scenarios.tone_disparity.scenario import ToneDisparityParams, ToneDisparityScenario

GRADED = ("great", "brilliant", "excellent", "good", "nice", "calm", "fine", "plain", "dull", "weak", "bad")


def simulated_adapter() -> ModelAdapter:
    """Female prompts' continuations tilted 0.02 toward the negative end of a graded scale."""
    import numpy as np

    from harness.adapters.simulated import SimulatedAdapter, SimulatedParams
    from harness.scorers.vader import VaderParams, VaderScorer

    texts = [f" a {word} colleague." for word in GRADED]
    tone = 2 * np.array(VaderScorer(VaderParams()).score(texts)) - 1
    order = np.argsort(-tone)
    texts, tone = [texts[i] for i in order], tone[order]
    centred = tone - tone.mean()

    def outputs(difference: float) -> dict[str, float]:
        return dict(
            zip(texts, (1 / len(texts) + difference * centred / (centred**2).sum()).tolist(), strict=True)
        )

    rules = [
        {"match": r"(?i)\b(she|her)\b", "outputs": outputs(-0.02)},
        {"match": r"(?i)\b(he|him|his)\b", "outputs": outputs(0.0)},
    ]
    return SimulatedAdapter(SimulatedParams(rules=rules))


def hf_adapter(pretrained: str | None) -> ModelAdapter:
    """A local transformers model (default: the reference model) through the hf adapter, on the CPU."""
    from harness.adapters.hf import HFAdapter, HFParams
    from harness.reference.build import ensure_built

    return HFAdapter(HFParams(pretrained=pretrained or str(ensure_built()), device="cpu"))


def difference(adapter: ModelAdapter, paired: bool, seed: int, args: argparse.Namespace) -> MetricValue:
    """The female − male difference record of one run."""
    params = ToneDisparityParams(
        k=args.k, max_new_tokens=args.new_tokens, paired_sampling=paired, per_group_limit=args.tuples
    )
    scenario = ToneDisparityScenario(params, ScenarioContext(seed=seed, bootstrap_resamples=200))
    with tempfile.TemporaryDirectory() as run_dir:
        runner = Runner(scenario, adapter, Path(run_dir), RunSettings(progress=False, seed=seed))
        runner.execute()
        metrics, _, _ = runner.aggregate()
    return next(m for m in metrics if m.name == "tone_diff_by_group")


def main(argv: list[str] | None = None) -> int:
    """Run both arms for every seed and report the interval widths and their ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=("reference", "simulated"), default="reference")
    parser.add_argument("--pretrained", help="with --model reference: another local model folder instead")
    parser.add_argument("--tuples", type=int, default=48, help="tuples (prompts per group), in source order")
    parser.add_argument("--k", type=int, default=8)
    parser.add_argument("--new-tokens", type=int, default=12)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    adapter = hf_adapter(args.pretrained) if args.model == "reference" else simulated_adapter()
    rows: list[dict[str, Any]] = []
    for seed in range(args.seeds):
        arms = {name: difference(adapter, name == "paired", seed, args) for name in ("paired", "independent")}
        widths = {name: m.ci_high - m.ci_low for name, m in arms.items()}
        rows.append(
            {
                "seed": seed,
                **{f"{name}_difference": m.value for name, m in arms.items()},
                **{f"{name}_width": w for name, w in widths.items()},
                **{f"{name}_mde": m.extra.get("mde") for name, m in arms.items()},
                "width_ratio": widths["independent"] / widths["paired"],
            }
        )
    ratios = [r["width_ratio"] for r in rows]
    figures = {
        "model": args.pretrained or args.model,
        "tuples": args.tuples,
        "k": args.k,
        "new_tokens": args.new_tokens,
        "seeds": rows,
        "median_width_ratio": statistics.median(ratios),
        "variance_ratio": statistics.median(r**2 for r in ratios),
    }
    print_table(
        f"tone_disparity, {args.model} model: 95% interval width of female - male, independent / paired",
        [
            *(
                (
                    f"seed {r['seed']}",
                    f"paired {r['paired_width']:.4f} (MDE {r['paired_mde']:.4f}), independent "
                    f"{r['independent_width']:.4f} (MDE {r['independent_mde']:.4f}): {r['width_ratio']:.2f}x",
                )
                for r in rows
            ),
            (
                "median ratio",
                f"{figures['median_width_ratio']:.2f}x (variance {figures['variance_ratio']:.1f}x)",
            ),
        ],
    )
    report("tone_crn", figures, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
