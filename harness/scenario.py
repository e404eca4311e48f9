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

import numpy as np
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
        """Per-instance scores from the completions of :meth:`requests`, in the same order."""
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


def declared_metric_values(
    specs: Iterable[MetricSpec], frame: pd.DataFrame, context: ScenarioContext
) -> list[MetricValue]:
    """Compute every spec that names a per-instance ``value``: overall and per group.

    Columns are converted once per spec and groups found once per key; each group's estimate
    then works on slices of those arrays (building a sub-table per group and metric was most of
    a scenario's aggregation time). The values are those :func:`mean_metric` gives per group.
    """
    results: list[MetricValue] = []
    errored = _errored(frame)
    groupings: dict[str, list[tuple[Any, np.ndarray]]] = {}
    for spec in specs:
        if spec.value is None:
            continue
        values, clusters = _score_values(frame, spec.value), _clusters(frame, spec.cluster)
        results.append(_mean(spec, values, clusters, errored, None, context))
        for key in spec.group_by:
            if key not in frame:
                continue
            if key not in groupings:
                indices = frame.groupby(key, sort=True, dropna=True).indices  # sorted, as iterating
                groupings[key] = [(_plain(value), rows) for value, rows in indices.items()]
            for group_value, rows in groupings[key]:
                part_clusters = None if clusters is None else clusters[rows]
                results.append(
                    _mean(spec, values[rows], part_clusters, errored[rows], {key: group_value}, context)
                )
    return results


def mean_metric(
    spec: MetricSpec,
    frame: pd.DataFrame,
    n_errors: int,
    group: dict[str, Any] | None,
    context: ScenarioContext,
) -> MetricValue:
    """The mean of ``spec.value`` over non-errored rows, with its clustered bootstrap CI."""
    values, clusters = _score_values(frame, spec.value), _clusters(frame, spec.cluster)
    return _mean(spec, values, clusters, _errored(frame), group, context, n_errors)


def _errored(frame: pd.DataFrame) -> np.ndarray:
    """True for the rows whose instance failed."""
    return frame["error"].notna().to_numpy() if "error" in frame else np.zeros(len(frame), dtype=bool)


def _score_values(frame: pd.DataFrame, column: str | None) -> np.ndarray:
    """A score column as floats (NaN where missing or not a number; all NaN when no row has it)."""
    if column is None or column not in frame:
        return np.full(len(frame), np.nan)
    return pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=float, na_value=np.nan)


def _clusters(frame: pd.DataFrame, column: str | None) -> np.ndarray | None:
    """The cluster ids of the rows, or None when the spec names no cluster column the table has."""
    return frame[column].to_numpy() if column and column in frame else None


def _plain(value: Any) -> Any:
    """A group value as a Python scalar (pandas hands numpy scalars to ``indices``)."""
    return value.item() if isinstance(value, np.generic) else value


def _mean(
    spec: MetricSpec,
    values: np.ndarray,
    clusters: np.ndarray | None,
    errored: np.ndarray,
    group: dict[str, Any] | None,
    context: ScenarioContext,
    n_errors: int | None = None,
) -> MetricValue:
    """The estimate over rows that did not fail and have a value (``n_errors``: default the failed rows)."""
    usable = ~errored & ~np.isnan(values)
    estimate = stats.cluster_bootstrap_mean(
        values[usable],
        None if clusters is None else clusters[usable],
        resamples=context.bootstrap_resamples,
        seed=context.seed,
    )
    return MetricValue(
        name=spec.name,
        value=estimate.value,
        ci_low=estimate.low,
        ci_high=estimate.high,
        n=int(usable.sum()),
        n_errors=int(errored.sum()) if n_errors is None else n_errors,
        ci_method=estimate.method,
        direction=spec.direction,
        unit=spec.unit,
        group=group,
        extra={"value": spec.value, "cluster": spec.cluster},
    )
