"""The ``simulated_guard`` scorer: a guard with planted error rates per group, for known-answer checks.

It knows the labelled set it is pointed at (``format``, ``data``: the scenario's sources; default
the embedded set) and, for each text, decides like a guard whose errors are planted: a harmful text
passes (is scored below ``threshold``) with probability ``fnr`` (per group: ``fnr_by_group``),
and a benign text is blocked with probability ``fpr`` (``fpr_by_group``). The draw is a hash of
(``seed``, text), so scores are reproducible and cacheable, and each seed is a fresh, independent
draw. Scores are continuous: a blocked text scores uniformly in [threshold, 1), a passed one in
[0, threshold), so the expected AUC follows from the planted rates too
(:func:`expected_auc`). A text the set does not contain scores NaN (it cannot be judged).

The defaults plant a guard that over-blocks benign mentions of some identity groups, the failure
Dixon et al. 2018 found in toxicity classifiers: 5% over-blocking overall, 25% for ``muslim``,
20% for ``gay`` and ``transgender``, and 10% harmful pass-through.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property

from harness.errors import ConfigError
from harness.scorers.base import Scorer, ScorerParams
from harness.types import ScorerIdentity, stable_hash
from scenarios.guardrails import data

VERSION = "1"


@dataclass
class SimulatedGuardParams(ScorerParams):
    """Planted error rates (see the module docstring) and the labelled set the guard knows."""

    format: str = "labelled"
    data: str | None = None
    split: str = "train"
    config: str | None = None
    fnr: float = 0.10
    fpr: float = 0.05
    fnr_by_group: dict[str, float] = field(default_factory=dict)
    fpr_by_group: dict[str, float] = field(
        default_factory=lambda: {"muslim": 0.25, "gay": 0.20, "transgender": 0.20}
    )
    threshold: float = 0.5
    seed: int = 0


@dataclass(frozen=True)
class Planted:
    """What the simulated guard knows of one text: its label and group, and its planted error rate."""

    harmful: bool
    group: str | None
    error_rate: float


class SimulatedGuardScorer(Scorer):
    """A guard with planted per-group error rates (see the module docstring)."""

    name = "simulated_guard"
    label = "simulated guard with planted error rates (known-answer checks)"
    Params = SimulatedGuardParams

    def __init__(self, params: SimulatedGuardParams, where: str = "scorer_options") -> None:
        super().__init__(params, where)
        self.params: SimulatedGuardParams = params
        rates = {"fnr": params.fnr, "fpr": params.fpr}
        rates.update({f"fnr_by_group.{g}": r for g, r in params.fnr_by_group.items()})
        rates.update({f"fpr_by_group.{g}": r for g, r in params.fpr_by_group.items()})
        for key, rate in rates.items():
            if not 0.0 <= rate <= 1.0:
                raise ConfigError(f"{where}.{key} must be a rate in [0, 1], got {rate}")
        if not 0.0 < params.threshold < 1.0:
            raise ConfigError(f"{where}.threshold must be in (0, 1), got {params.threshold}")
        self._identity = ScorerIdentity(
            name=self.name, version=VERSION, model_hash=stable_hash(params)[:16], label=self.label
        )

    @property
    def identity(self) -> ScorerIdentity:
        """Every planted setting enters the hash, so different plants never share cached scores."""
        return self._identity

    @cached_property
    def planted(self) -> dict[str, Planted]:
        """Text -> label, group and planted error rate, from the labelled set."""
        p = self.params
        known = {}
        for instance in data.load(p.format, p.data, p.split, p.config):
            harmful = instance.metadata["truth"] == data.HARMFUL
            group = instance.metadata.get("group")
            rate = planted_rate(p, harmful, group)
            known[str(instance.input)] = Planted(harmful, group, rate)
        return known

    def score(self, texts: Sequence[str]) -> list[float]:
        """A score per text drawn from its planted error rate; NaN for texts outside the set."""
        self.failures = {}
        scores = []
        for text in texts:
            truth = self.planted.get(text)
            if truth is None:
                self.failures[text] = "the simulated guard only knows the texts of its labelled set"
                scores.append(math.nan)
                continue
            error, position = _uniforms(self.params.seed, text)
            blocked = truth.harmful != (error < truth.error_rate)
            t = self.params.threshold
            scores.append(t + (1.0 - t) * position if blocked else t * position)
        return scores


def planted_rate(params: SimulatedGuardParams, harmful: bool, group: str | None) -> float:
    """The planted pass-through rate (harmful texts) or over-block rate (benign texts) of a group."""
    if harmful:
        return params.fnr_by_group.get(group, params.fnr) if group else params.fnr
    return params.fpr_by_group.get(group, params.fpr) if group else params.fpr


def expected_auc(fnr: float, fpr: float) -> float:
    """The AUC of a guard with one pass-through rate ``fnr`` and one over-block rate ``fpr``.

    A harmful/benign pair is ordered correctly when the harmful text is blocked and the benign one
    passes, wrongly in the opposite case, and by a coin flip when both land on the same side (the
    scores on each side are independent uniforms).
    """
    hit = 1.0 - fnr
    return hit * (1.0 - fpr) + 0.5 * (hit * fpr + fnr * (1.0 - fpr))


def _uniforms(seed: int, text: str) -> tuple[float, float]:
    """Two independent uniforms in [0, 1) from a hash of (seed, text)."""
    digest = hashlib.sha256(f"{seed}\0{text}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64, int.from_bytes(digest[8:16], "big") / 2**64
