"""The Scenario contract: what to ask, how to score it, and how scores aggregate.

A scenario is a plugin class registered under the entry-point group ``harness.scenarios``. It
declares a ``name``, a ``version`` and a typed ``Params`` dataclass (validated from the Hydra
``scenario`` group), the capabilities it needs, and four methods:

* :meth:`Scenario.instances` – the evaluation items (embedded data, a local file or a Hub dataset);
* :meth:`Scenario.requests` – what to ask the model for one instance;
* :meth:`Scenario.score_batch` – per-instance score dictionaries from the model's outputs;
* :meth:`Scenario.metrics` – the declared metrics with direction, unit and CI method.

:meth:`Scenario.aggregate` turns the per-instance table into :class:`MetricValue` records; the
default computes every declared ``MetricSpec`` that names a per-instance ``value``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import pandas as pd

from harness import stats
from harness.types import (
    Capability,
    Completion,
    Instance,
    MetricSpec,
    MetricValue,
    ModelInfo,
    Request,
    ScorerIdentity,
)


@dataclass
class ScenarioParams:
    """Parameters every scenario accepts; scenarios subclass this with their own typed fields."""

    name: str = ""


@dataclass
class ScenarioContext:
    """What a scenario may know about the run it is part of."""

    seed: int = 0
    capabilities: frozenset[Capability] = frozenset({Capability.GENERATE})
    model_info: ModelInfo | None = None
    run_dir: Path | None = None
    bootstrap_resamples: int = stats.DEFAULT_RESAMPLES
    score_store: Any = None
    """The response cache, where scorers keep their scores (wrap them in ``CachedScorer``); None: off."""
    extra: dict[str, Any] = field(default_factory=dict)


class Scenario(ABC):
    """Base class of scenario plugins. See the module docstring for the contract."""

    name: ClassVar[str]
    version: ClassVar[str]
    Params: ClassVar[type[ScenarioParams]] = ScenarioParams
    requires: ClassVar[frozenset[Capability]] = frozenset({Capability.GENERATE})
    """Capabilities without which the scenario cannot run at all."""

    def __init__(self, params: ScenarioParams, context: ScenarioContext) -> None:
        self.params = params
        self.context = context

    @abstractmethod
    def instances(self) -> Iterable[Instance]:
        """The evaluation items, in a stable order, with unique ids."""

    @abstractmethod
    def requests(self, instance: Instance) -> list[Request]:
        """The requests for one instance (generation with k samples, or log-likelihoods)."""

    def score(self, instance: Instance, outputs: Sequence[Completion]) -> dict[str, Any]:
        """Per-instance scores from the completions of :meth:`requests`, in the same order.

        Scores must follow from the instance, the completions, the parameters, the scorers and the
        run's seed alone, and must not change the instance: with a cache, a window of instances
        whose records were scored before gets the remembered scores (:func:`harness.reuse.scoring_key`).
        """
        raise NotImplementedError(f"scenario {self.name} implements neither score nor score_batch")

    def score_batch(self, items: Sequence[tuple[Instance, Sequence[Completion]]]) -> list[dict[str, Any]]:
        """Score many finished instances at once; override to batch a classifier."""
        return [self.score(instance, outputs) for instance, outputs in items]

    @abstractmethod
    def metrics(self) -> list[MetricSpec]:
        """Every metric this scenario reports (the conformance check verifies each appears)."""

    def protocol(self) -> str | None:
        """The measurement protocol that runs (e.g. "loglikelihood" or "generative")."""
        return None

    def scorers(self) -> list[ScorerIdentity]:
        """Identities of the scorers behind the scores, recorded in the manifest."""
        return []

    def template_fingerprint_source(self) -> Any:
        """The prompt templates in use; hashed into the manifest's ``template_hash``."""
        return None

    def aggregate(self, frame: pd.DataFrame) -> list[MetricValue]:
        """Metric values from the per-instance table (one row per instance).

        The table has the columns ``id`` and ``error`` (the failure message, or None), one
        column per metadata key and one per score key. Errored rows are counted in
        ``n_errors`` and excluded from estimates: a failure is never scored as harmless.
        """
        return declared_metric_values(self.metrics(), frame, self.context)

    def write_artifacts(self, frame: pd.DataFrame, metrics: list[MetricValue], run_dir: Path) -> list[Path]:
        """Write plots or tables into the run directory and return their paths."""
        return []

    def summary(self, metrics: list[MetricValue]) -> list[str]:
        """A few lines for the end-of-run summary; default: the ungrouped metrics."""
        return []


def declared_metric_values(
    specs: Iterable[MetricSpec], frame: pd.DataFrame, context: ScenarioContext
) -> list[MetricValue]:
    """Compute every spec that names a per-instance ``value``: overall and per group."""
    results: list[MetricValue] = []
    n_errors = int(frame["error"].notna().sum()) if "error" in frame else 0
    for spec in specs:
        if spec.value is None:
            continue
        results.append(mean_metric(spec, frame, n_errors, None, context))
        for key in spec.group_by:
            if key not in frame:
                continue
            for group_value, part in frame.groupby(key, sort=True, dropna=True):
                part_errors = int(part["error"].notna().sum())
                results.append(mean_metric(spec, part, part_errors, {key: group_value}, context))
    return results


def mean_metric(
    spec: MetricSpec,
    frame: pd.DataFrame,
    n_errors: int,
    group: dict[str, Any] | None,
    context: ScenarioContext,
) -> MetricValue:
    """The mean of ``spec.value`` over non-errored rows, with its clustered bootstrap CI."""
    ok = frame[frame["error"].isna()] if "error" in frame else frame
    # A score no row produced (a small ``limit`` can leave a column out entirely) is all-missing,
    # aligned with the rows so that the cluster column can be masked with it.
    column = ok[spec.value] if spec.value in ok else pd.Series(float("nan"), index=ok.index, dtype=float)
    column = pd.to_numeric(column, errors="coerce")
    mask = column.notna()
    clusters = ok.loc[mask, spec.cluster] if spec.cluster and spec.cluster in ok else None
    estimate = stats.cluster_bootstrap_mean(
        column[mask].to_numpy(dtype=float),
        None if clusters is None else clusters.to_numpy(),
        resamples=context.bootstrap_resamples,
        seed=context.seed,
    )
    return MetricValue(
        name=spec.name,
        value=estimate.value,
        ci_low=estimate.low,
        ci_high=estimate.high,
        n=int(mask.sum()),
        n_errors=n_errors,
        ci_method=estimate.method,
        direction=spec.direction,
        unit=spec.unit,
        group=group,
        extra={"value": spec.value, "cluster": spec.cluster},
    )
