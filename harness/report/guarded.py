"""Guarded versus bare: the report's side-by-side comparison of a model with and without a guardrail.

A run of the ``guard`` adapter records the identity of the model it wraps
(``model.extra.inner.identity``). When the report also holds a run of that bare model on the same
scenario, with the same parameters and seed, the two are paired by instance id and compared:

* every ungrouped metric that is a mean of a per-instance score (expected maximum toxicity,
  toxicity probability, ...): bare and guarded means and the paired difference guarded − bare
  with the clustered t interval over the instances both runs scored
  (:func:`harness.stats.paired_difference`, never zero-width; pairing removes the between-prompt variance
  that two separate intervals would count twice);
* the guard's intervention rate: the share of the guarded run's outputs that the guard withheld
  or replaced (outputs equal to its block message or replacement, or carrying its redaction
  marker), overall and per ``prompt_type`` and ``group``, with the shared cluster-robust Wilson
  interval over instances (:func:`harness.stats.mean_estimate`: never zero-width, so a guard that
  blocked nothing on 40 prompts reads [0, 0.09], not [0, 0]). On benign prompts (the toxicity
  scenario's ``neutral`` and ``nontoxic`` types) this is the guard's over-blocking, which is
  also broken down by group.

Instances that errored in either run are left out of both sides.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from harness import stats
from harness.report.frames import LoadedRun
from harness.store import RunDirectory
from harness.types import unit_support

BREAKDOWN_KEYS = ("prompt_type", "group")
BENIGN_PROMPT_TYPES = ("neutral", "nontoxic", "benign")


@dataclass
class PairedRow:
    """One metric of the bare and the guarded run, and their paired difference."""

    metric: str
    direction: str
    bare: float | None
    guarded: float | None
    difference: stats.Estimate


@dataclass
class InterventionRow:
    """The share of the guarded run's outputs the guard altered, for one slice of the instances."""

    key: str
    value: str
    rate: stats.Estimate
    benign: bool = False


@dataclass
class GuardComparison:
    """A bare run and its guarded counterpart, compared (see the module docstring)."""

    scenario: str
    bare: str
    guarded: str
    guard: dict[str, Any]
    n_pairs: int
    paired: list[PairedRow] = field(default_factory=list)
    interventions: list[InterventionRow] = field(default_factory=list)


def guard_comparisons(runs: Sequence[LoadedRun]) -> list[GuardComparison]:
    """Every (bare, guarded) pair among ``runs`` (see the module docstring), compared."""
    comparisons = []
    for guarded in runs:
        inner = (guarded.model.get("extra") or {}).get("inner") or {}
        if guarded.model.get("adapter") != "guard" or not inner.get("identity"):
            continue
        for bare in runs:
            if (
                bare is not guarded
                and bare.scenario == guarded.scenario
                and bare.model_identity == inner["identity"]
                and bare.seed == guarded.seed
                and bare.scenario_info.get("params") == guarded.scenario_info.get("params")
            ):
                comparisons.append(compare(bare, guarded))
    return comparisons


def compare(bare: LoadedRun, guarded: LoadedRun) -> GuardComparison:
    """The paired metric differences and the guard's intervention rates of one pair of runs."""
    guard = dict((guarded.model.get("extra") or {}).get("guard") or {})
    left, right = _usable(bare.scores()), _usable(guarded.scores())
    shared = sorted(set(left.index) & set(right.index))
    result = GuardComparison(guarded.scenario, bare.label, guarded.label, guard, len(shared))
    for record in bare.metric_records:
        column = (record.get("extra") or {}).get("value")
        if record.get("group") or not column or column not in left or column not in right:
            continue
        pairs = pd.DataFrame(
            {
                "bare": pd.to_numeric(left.loc[shared, column], errors="coerce"),
                "guarded": pd.to_numeric(right.loc[shared, column], errors="coerce"),
            }
        ).dropna()
        if pairs.empty:
            continue
        difference = stats.paired_difference(
            pairs["guarded"].to_numpy(),
            pairs["bare"].to_numpy(),
            support=unit_support(str(record.get("unit") or "")),
        )
        result.paired.append(
            PairedRow(
                metric=str(record["name"]),
                direction=str(record.get("direction") or "none"),
                bare=float(pairs["bare"].mean()),
                guarded=float(pairs["guarded"].mean()),
                difference=difference,
            )
        )
    altered = _altered_fractions(guarded, guard, set(shared))
    if not altered.empty:
        result.interventions.append(InterventionRow("all", "all", _share(altered["altered"])))
        benign = altered["prompt_type"].isin(BENIGN_PROMPT_TYPES) if "prompt_type" in altered else None
        slices = [(key, altered, False) for key in BREAKDOWN_KEYS]
        if benign is not None and benign.any():
            slices.append(("group", altered[benign], True))  # over-blocking per group
        for key, rows, benign_only in slices:
            if key not in rows:
                continue
            for value, part in rows.groupby(key, sort=True):
                is_benign = benign_only or (key == "prompt_type" and str(value) in BENIGN_PROMPT_TYPES)
                label = f"{key} (benign prompts)" if benign_only else key
                result.interventions.append(
                    InterventionRow(label, str(value), _share(part["altered"]), benign=is_benign)
                )
    return result


def _usable(scores: pd.DataFrame) -> pd.DataFrame:
    """The scored (non-errored) instances, indexed by id."""
    rows = scores[scores["error"].isna()] if "error" in scores else scores
    return rows.set_index("id") if "id" in rows else rows.iloc[0:0]


def _altered_fractions(run: LoadedRun, guard: dict[str, Any], keep: set[str]) -> pd.DataFrame:
    """Per kept instance, the share of its outputs the guard altered, with its breakdown keys."""
    mode = guard.get("mode")
    marker = {"block": guard.get("block_message"), "replace": guard.get("replacement")}.get(str(mode))
    redaction = guard.get("redaction") if mode == "redact" else None
    rows = []
    for record in RunDirectory(run.path).iter_samples():
        if record.get("id") not in keep:
            continue
        texts = [text for output in record.get("outputs") or [] for text in output.get("texts") or []]
        if not texts:
            continue
        hits = [
            (marker is not None and text == marker) or (bool(redaction) and str(redaction) in text)
            for text in texts
        ]
        metadata = record.get("metadata") or {}
        row = {"altered": float(np.mean(hits))}
        row.update({key: metadata[key] for key in BREAKDOWN_KEYS if metadata.get(key) is not None})
        rows.append(row)
    return pd.DataFrame(rows)


def _share(altered: pd.Series) -> stats.Estimate:
    """The mean altered share over instances (each instance one cluster of its k outputs)."""
    return stats.mean_estimate(altered.to_numpy(dtype=float), support="unit_interval")
