"""``harness scorer-check``: how valid is a toxicity scorer on labelled statements?

For each scorer it reports, on a labelled set (``--data``: ``text``, ``label`` 1 = hateful /
0 = neutral, ``target_group``; for example the 722 ToxiGen seed statements):

* ROC-AUC (threshold-free ranking quality) with a bootstrap CI over statements;
* accuracy, true-positive rate and false-positive rate at the decision threshold (Wilson CIs):
  the scorer's own operating point where its identity records one, else 0.5 (or ``--threshold``);
* the expected calibration error of the scores as probabilities (10 equal-width bins) with a
  BCa bootstrap CI over statements;
* the false-positive rate on the *neutral* statements about each identity group, because
  toxicity classifiers are known to flag neutral mentions of identity terms (Dixon et al. 2018;
  Hartvigsen et al. 2022);
* the false-positive rate on ordinary, harmless text (``--ordinary``, for example the Winogender
  sentences and BOLD gender prompts), whole and as random 1–6-word spans (continuations are
  fragments), and the Toxicity Probability that rate alone would produce with k = 25 samples
  per prompt, 1 − (1 − FPR)^25: a scenario can never measure a TP below it.

A scorer trained on the very statements being checked (the ``embedding`` head, whose identity
names its training data and held-out groups) is evaluated on the held-out groups only: groups it
never saw in training, calibration or the choice of its threshold, so the numbers measure
transfer to an unseen group rather than memory of the training set.

Usage::

    harness scorer-check --data statements.jsonl --ordinary all_sentences.tsv   # every offline built-in
    harness scorer-check --data statements.jsonl --scorer hf --option hf.model=path/to/model \
        --option 'hf.toxic_labels=[toxic]'
    harness scorer-check --data my_labelled.jsonl --threshold 0.7 --json check.json
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from harness import stats
from harness.errors import ConfigError, HarnessError
from harness.quiet import quiet_libraries
from harness.scorers.base import Scorer
from harness.scorers.labelled import LabelledSet, load_labelled, load_texts, random_spans
from harness.scorers.registry import OFFLINE_BUILTIN, build_scorer

DEFAULT_RESAMPLES = 1000
DEFAULT_ORDINARY_LIMIT = 500
FLOOR_K = 25
DEFAULT_THRESHOLD = 0.5
"""The threshold of a scorer without an operating point."""
ECE_BINS = 10


@dataclass
class CheckResult:
    """Validity numbers of one scorer on one labelled set."""

    scorer: str
    identity: dict[str, Any]
    protocol: str
    n: int
    n_unscored: int
    threshold: float
    roc_auc: stats.Estimate
    accuracy: stats.Estimate
    true_positive_rate: stats.Estimate
    false_positive_rate: stats.Estimate
    expected_calibration_error: stats.Estimate
    group_false_positive_rate: dict[str, stats.Estimate] = field(default_factory=dict)
    ordinary_false_positive_rate: dict[str, stats.Estimate] = field(default_factory=dict)


def roc_auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """ROC-AUC (scikit-learn); NaN when only one class is present."""
    from sklearn.metrics import roc_auc_score

    if np.unique(labels).size < 2:
        return float("nan")
    return float(roc_auc_score(labels, scores))


def expected_calibration_error(scores: np.ndarray, labels: np.ndarray, bins: int = ECE_BINS) -> float:
    """ECE: the bin-size-weighted mean |observed rate − mean score| over equal-width score bins.

    Written here because scikit-learn offers ``calibration_curve`` (the per-bin points) but not
    the error itself (Guo et al. 2017, eq. 3; Naeini et al. 2015).
    """
    scores, labels = np.asarray(scores, float), np.asarray(labels, float)
    index = np.clip(np.digitize(scores, np.linspace(0.0, 1.0, bins + 1)[1:-1]), 0, bins - 1)
    total = 0.0
    for b in np.unique(index):
        members = index == b
        total += members.sum() * abs(labels[members].mean() - scores[members].mean())
    return float(total / scores.size)


def calibration_error_interval(
    scores: np.ndarray, labels: np.ndarray, *, resamples: int, seed: int
) -> stats.Estimate:
    """ECE with a BCa bootstrap interval over statements (scipy.stats.bootstrap, paired).

    ECE is biased upward in small samples, so a percentile interval can miss its own estimate;
    BCa corrects for that bias. Should it still exclude the estimate, the interval is widened to
    include it (an interval never excludes its estimate).
    """
    from scipy.stats import bootstrap

    point = expected_calibration_error(scores, labels)
    if scores.size < 2:
        return stats.Estimate(point if scores.size else None, None, None, int(scores.size), "bca_bootstrap")
    result = bootstrap(
        (scores, labels),
        expected_calibration_error,
        paired=True,
        vectorized=False,
        n_resamples=resamples,
        method="BCa",
        random_state=seed,
    )
    low, high = float(result.confidence_interval.low), float(result.confidence_interval.high)
    if not (math.isfinite(low) and math.isfinite(high)):
        return stats.Estimate(point, None, None, int(scores.size), "bca_bootstrap")
    return stats.Estimate(point, min(low, point), max(high, point), int(scores.size), "bca_bootstrap")


def evaluate_scores(
    scores: np.ndarray,
    labels: np.ndarray,
    groups: np.ndarray,
    threshold: float,
    *,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
) -> dict[str, Any]:
    """ROC-AUC, accuracy, TPR, FPR, per-group neutral FPR and ECE of scores against binary labels."""
    scores, labels, groups = (
        np.asarray(scores, float),
        np.asarray(labels, int),
        np.asarray(groups).astype(str),
    )
    flagged = scores >= threshold
    positives, negatives = labels == 1, labels == 0
    auc = stats.cluster_bootstrap_statistic(
        np.arange(labels.size),
        lambda rows: roc_auc(scores[rows], labels[rows]),
        resamples=resamples,
        seed=seed,
    )
    per_group = {
        str(group): stats.wilson_interval(
            int(flagged[negatives & (groups == group)].sum()), int((negatives & (groups == group)).sum())
        )
        for group in np.unique(groups)
    }
    return {
        "roc_auc": auc,
        "accuracy": stats.wilson_interval(int((flagged == positives).sum()), int(labels.size)),
        "true_positive_rate": stats.wilson_interval(int(flagged[positives].sum()), int(positives.sum())),
        "false_positive_rate": stats.wilson_interval(int(flagged[negatives].sum()), int(negatives.sum())),
        "expected_calibration_error": calibration_error_interval(
            scores, labels, resamples=resamples, seed=seed
        ),
        "group_false_positive_rate": per_group,
    }


def _rounded(estimate: stats.Estimate) -> dict[str, Any]:
    def r(x: float | None) -> float | None:
        return None if x is None else round(float(x), 4)

    return {"value": r(estimate.value), "low": r(estimate.low), "high": r(estimate.high), "n": estimate.n}


def figures_json(figures: dict[str, Any], n: int) -> dict[str, Any]:
    """:func:`evaluate_scores` output as plain JSON (values and 95% intervals, 4 decimals)."""
    out: dict[str, Any] = {"n": n}
    for key, value in figures.items():
        if isinstance(value, dict):
            out[key] = {group: _rounded(estimate) for group, estimate in value.items()}
        else:
            out[key] = _rounded(value)
    return out


def check_scorer(
    name: str,
    scorer: Scorer,
    statements: LabelledSet,
    threshold: float | None = None,
    *,
    ordinary: dict[str, list[str]] | None = None,
    resamples: int = DEFAULT_RESAMPLES,
) -> CheckResult:
    """Score the statements (only the held-out groups when the scorer was trained on them) and evaluate.

    ``threshold`` None means the scorer's operating point (else 0.5). ``ordinary`` maps a name to
    harmless texts whose flagged share is the ordinary-text FPR.
    """
    if threshold is None:
        threshold = scorer.operating_threshold or DEFAULT_THRESHOLD
    texts, labels, groups = statements.texts, np.asarray(statements.labels), np.asarray(statements.groups)
    point = scorer.identity.operating_point or {}
    protocol = "direct"
    if point.get("training_fingerprint") == statements.fingerprint:
        held_out = sorted(point.get("held_out_groups") or [])
        keep = np.isin(groups, held_out)
        if not keep.any():
            raise ConfigError(
                f"scorer {name} was trained on {statements.source} and holds none of its groups out; "
                "check it on other labelled data (--data)"
            )
        texts = [t for t, k in zip(texts, keep, strict=True) if k]
        labels, groups = labels[keep], groups[keep]
        protocol = f"held-out groups ({', '.join(held_out)}: never used to train or calibrate the scorer)"
    scores = np.asarray(scorer.score(texts), float)
    ok = np.isfinite(scores)
    numbers = evaluate_scores(scores[ok], labels[ok], groups[ok], threshold, resamples=resamples)
    ordinary_fpr = {}
    for source, ordinary_texts in (ordinary or {}).items():
        values = np.asarray(scorer.score(ordinary_texts), float)
        values = values[np.isfinite(values)]
        ordinary_fpr[source] = stats.wilson_interval(int((values >= threshold).sum()), int(values.size))
    return CheckResult(
        scorer=name,
        identity=asdict(scorer.identity),
        protocol=protocol,
        n=int(ok.sum()),
        n_unscored=int((~ok).sum()),
        threshold=threshold,
        ordinary_false_positive_rate=ordinary_fpr,
        **numbers,
    )


def tp_floor(fpr: float, k: int = FLOOR_K) -> float:
    """Toxicity Probability produced by false positives alone: 1 − (1 − FPR)^k."""
    return 1.0 - (1.0 - fpr) ** k


def _fmt(estimate: stats.Estimate) -> str:
    if estimate.value is None or not math.isfinite(estimate.value):
        return "n/a"
    if estimate.low is None or estimate.high is None:
        return f"{estimate.value:.3f}"
    return f"{estimate.value:.3f} [{estimate.low:.3f}, {estimate.high:.3f}]"


def render_markdown(results: list[CheckResult], source: str) -> str:
    """A summary table (one row per scorer) and a per-group neutral false-positive-rate table."""
    lines = [
        f"Scorer check on {source} (95% CIs; each scorer at its threshold)",
        "",
        "| scorer | protocol | n | threshold | ROC-AUC | accuracy | TPR | FPR (neutral) | ECE |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r.scorer} | {r.protocol.split(' (')[0]} | {r.n} | {r.threshold:g} | {_fmt(r.roc_auc)} | "
            f"{_fmt(r.accuracy)} | {_fmt(r.true_positive_rate)} | {_fmt(r.false_positive_rate)} | "
            f"{_fmt(r.expected_calibration_error)} |"
        )
    for r in results:
        if r.identity.get("operating_point"):
            point = r.identity["operating_point"]
            rule = point.get("rule", "")
            lines.append(f"\n{r.scorer} operating point: threshold {point['threshold']:g} ({rule})")
        if r.protocol.startswith("held-out"):
            lines.append(f"\n{r.scorer}: {r.protocol}")
    groups = sorted({g for r in results for g in r.group_false_positive_rate})
    if groups:
        lines += ["", "False-positive rate on neutral statements, by identity group:", ""]
        lines.append("| group | n neutral | " + " | ".join(r.scorer for r in results) + " |")
        lines.append("|---|---|" + "---|" * len(results))
        for group in groups:
            n_neutral = max(
                r.group_false_positive_rate[group].n for r in results if group in r.group_false_positive_rate
            )
            cells = [
                _fmt(r.group_false_positive_rate[group]) if group in r.group_false_positive_rate else "–"
                for r in results
            ]
            lines.append(f"| {group} | {n_neutral} | " + " | ".join(cells) + " |")
    sources = sorted({s for r in results for s in r.ordinary_false_positive_rate})
    if sources:
        lines += [
            "",
            f"False-positive rate on ordinary text (and the TP it alone implies at k={FLOOR_K}):",
            "",
        ]
        lines.append("| text | " + " | ".join(r.scorer for r in results) + " |")
        lines.append("|---|" + "---|" * len(results))
        for source in sources:
            cells = []
            for r in results:
                estimate = r.ordinary_false_positive_rate.get(source)
                if estimate is None or estimate.value is None:
                    cells.append("n/a")
                else:
                    cells.append(
                        f"{_fmt(estimate)} (n={estimate.n}; TP floor {tp_floor(estimate.value):.2f})"
                    )
            lines.append(f"| {source} | " + " | ".join(cells) + " |")
    for r in results:
        if r.n_unscored:
            lines.append(f"\n{r.scorer}: {r.n_unscored} statements could not be scored and were left out.")
    return "\n".join(lines)


def parse_options(pairs: list[str], scorers: list[str]) -> dict[str, dict[str, Any]]:
    """``NAME.KEY=VALUE`` pairs (values parsed as YAML) grouped by scorer name."""
    import yaml

    options: dict[str, dict[str, Any]] = {name: {} for name in scorers}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        name, dot, option = key.partition(".")
        if not sep or not dot or not option:
            raise ConfigError(f"--option {pair!r}: expected SCORER.KEY=VALUE, e.g. hf.model=path/to/model")
        if name not in options:
            raise ConfigError(
                f"--option {pair!r}: scorer {name!r} is not selected (selected: {', '.join(scorers)})"
            )
        options[name][option] = yaml.safe_load(raw)
    return options


def main(argv: list[str]) -> int:
    """Entry point of ``harness scorer-check``; returns the process exit code."""
    parser = argparse.ArgumentParser(prog="harness scorer-check", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--scorer", action="append", help=f"scorer name (repeatable; default: {', '.join(OFFLINE_BUILTIN)})"
    )
    parser.add_argument(
        "--option", action="append", default=[], help="scorer option as SCORER.KEY=VALUE (repeatable)"
    )
    parser.add_argument(
        "--data",
        required=True,
        help="labelled statements (text, label 1 = hateful / 0 = neutral, target_group): file or Hub id",
    )
    parser.add_argument("--split", default="train", help="split of a Hub dataset")
    parser.add_argument(
        "--threshold",
        type=float,
        default=None,
        help="decision threshold (default: each scorer's operating point, else 0.5)",
    )
    parser.add_argument(
        "--resamples", type=int, default=DEFAULT_RESAMPLES, help="bootstrap resamples for the AUC CI"
    )
    parser.add_argument(
        "--ordinary",
        action="append",
        default=[],
        help="harmless texts for the ordinary-text FPR (repeatable; none: that FPR is not measured)",
    )
    parser.add_argument(
        "--ordinary-limit", type=int, default=DEFAULT_ORDINARY_LIMIT, help="texts used per file"
    )
    parser.add_argument("--json", dest="json_out", help="also write the results as JSON to this file")
    args = parser.parse_args(argv)
    quiet_libraries()
    names = args.scorer or list(OFFLINE_BUILTIN)
    try:
        options = parse_options(args.option, names)
        statements = load_labelled(args.data, args.split)
        ordinary = {}
        for path in args.ordinary:
            texts = load_texts(path, args.ordinary_limit)
            ordinary[Path(path).name] = texts
            ordinary[f"{Path(path).name} (1-6-word spans)"] = random_spans(texts)
        results = [
            check_scorer(
                name,
                build_scorer(name, options[name], where=f"--option {name}"),
                statements,
                args.threshold,
                ordinary=ordinary,
                resamples=args.resamples,
            )
            for name in names
        ]
    except HarnessError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(render_markdown(results, args.data))
    if args.json_out:
        Path(args.json_out).write_text(
            json.dumps([asdict(r) for r in results], indent=2) + "\n", encoding="utf-8"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
