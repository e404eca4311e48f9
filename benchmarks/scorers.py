"""Benchmark 6: texts per second of every offline scorer, batched versus one text at a time.

Scorers (``harness.scorers``): ``profanity`` and ``embedding`` as shipped; ``hf`` and ``detoxify``
on a classifier built here from the bundled MiniLM encoder (its 22M-parameter body with a
randomly initialised two-label head; saved as a model folder for ``hf`` and as a Detoxify-format
checkpoint for ``detoxify``), so all four run offline with realistic compute. ``perspective`` is an
HTTP API and is not measured. Each scorer is loaded and warmed up first; then, in every round,
``--texts`` texts are scored in one call (the scorer batches internally) and ``--single`` texts one
call each.

    .venv/bin/python -m benchmarks.scorers --texts 512 --single 128 --rounds 2
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.common import add_output_arguments, print_table, report
from benchmarks.models import WORDS

SCORERS = ("profanity", "embedding", "hf", "detoxify")
LABELS = ["neutral", "toxicity"]


def sample_texts(count: int, seed: int = 0) -> list[str]:
    """Model-output-like texts of 5–40 words."""
    rng = random.Random(seed)
    return [" ".join(rng.choice(WORDS) for _ in range(rng.randint(5, 40))) for _ in range(count)]


def minilm_classifier(root: Path) -> Path:
    """A MiniLM-bodied two-label classifier folder (built once)."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from harness.scorers.embedding import encoder_dir

    out = root / "minilm-classifier"
    if (out / "config.json").exists():
        return out
    import torch

    torch.manual_seed(0)
    model = AutoModelForSequenceClassification.from_pretrained(
        encoder_dir(),
        num_labels=2,
        id2label=dict(enumerate(LABELS)),
        label2id={k: i for i, k in enumerate(LABELS)},
    )
    model.save_pretrained(out)
    AutoTokenizer.from_pretrained(encoder_dir()).save_pretrained(out)
    return out


def detoxify_checkpoint(classifier: Path) -> Path:
    """The classifier's weights in Detoxify's checkpoint layout (built once)."""
    import torch
    from transformers import AutoModelForSequenceClassification

    path = classifier.parent / "minilm-detoxify.ckpt"
    if path.exists():
        return path
    model = AutoModelForSequenceClassification.from_pretrained(classifier)
    config = {
        "arch": {
            "args": {
                "model_type": str(classifier),
                "model_name": "BertForSequenceClassification",
                "tokenizer_name": "BertTokenizerFast",
                "num_classes": len(LABELS),
            }
        },
        "dataset": {"args": {"classes": LABELS}},
    }
    torch.save({"config": config, "state_dict": model.state_dict()}, path)
    return path


def build(name: str, models: Path) -> Any:
    """The scorer ``name`` through the registry, with local models where it needs them."""
    from harness.scorers.registry import build_scorer

    if name == "hf":
        return build_scorer(
            "hf", {"model": str(minilm_classifier(models)), "toxic_labels": ["toxicity"], "device": "cpu"}
        )
    if name == "detoxify":
        classifier = minilm_classifier(models)
        return build_scorer(
            "detoxify", {"checkpoint": str(detoxify_checkpoint(classifier)), "config_dir": str(classifier)}
        )
    return build_scorer(name)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scorers", nargs="+", choices=SCORERS, default=list(SCORERS))
    parser.add_argument("--texts", type=int, default=512, help="texts scored in one batched call")
    parser.add_argument("--single", type=int, default=128, help="texts scored one call each")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--threads", type=int, default=None)
    add_output_arguments(parser, "where the local classifier is built")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> dict[str, object]:
    """Measure every scorer, print the table and write ``out/scorers.json``."""
    args = parse_args(argv)
    import torch

    if args.threads is not None:
        torch.set_num_threads(args.threads)
    texts = sample_texts(args.texts)
    results: dict[str, dict[str, Any]] = {}
    for name in args.scorers:
        scorer = build(name, args.models)
        scorer.score(texts[:8])  # loads the model
        batched: list[float] = []
        single: list[float] = []
        for _ in range(args.rounds):
            started = time.perf_counter()
            together = scorer.score(texts)
            batched.append(len(texts) / (time.perf_counter() - started))
            started = time.perf_counter()
            alone = [scorer.score([text])[0] for text in texts[: args.single]]
            single.append(args.single / (time.perf_counter() - started))
        agree = max(abs(a - b) for a, b in zip(together, alone, strict=False))
        results[name] = {
            "identity": scorer.identity.name,
            "batched_texts_per_s": sorted(batched)[len(batched) // 2],
            "single_texts_per_s": sorted(single)[len(single) // 2],
            "max_abs_difference_batched_vs_single": agree,
        }
        results[name]["speedup"] = results[name]["batched_texts_per_s"] / results[name]["single_texts_per_s"]
        print(
            f"  {name}: {results[name]['batched_texts_per_s']:.0f} vs "
            f"{results[name]['single_texts_per_s']:.0f} texts/s",
            file=sys.stderr,
        )
    rows = [
        (
            name,
            f"batched {r['batched_texts_per_s']:9.1f} texts/s   "
            f"one at a time {r['single_texts_per_s']:8.1f} texts/s   "
            f"{r['speedup']:6.1f}x   (max |diff| {r['max_abs_difference_batched_vs_single']:.1e})",
        )
        for name, r in results.items()
    ]
    print_table(
        f"Scorers, {torch.get_num_threads()} thread(s), "
        f"{args.texts} texts batched / {args.single} one at a time",
        rows,
    )
    figures: dict[str, object] = {
        "texts": args.texts,
        "single": args.single,
        "threads": torch.get_num_threads(),
        "scorers": results,
    }
    path = report("scorers", figures, args.out)
    print(f"\nwritten: {path}", file=sys.stderr)
    return figures


if __name__ == "__main__":
    main()
