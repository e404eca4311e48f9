"""The Scenario contract: what to ask, how to score it, and how scores aggregate.

A scenario is a plugin class registered under the entry-point group ``harness.scenarios``. It
declares a ``name``, a ``version`` and a typed ``Params`` dataclass (validated from the Hydra
``scenario`` group), the capabilities it needs, and four methods:

* :meth:`Scenario.instances` – the evaluation items (embedded data, a local file or a Hub dataset);
* :meth:`Scenario.requests` – what to ask the model for one instance;
* :meth:`Scenario.score_batch` – per-instance score dictionaries from the model's outputs;
* :meth:`Scenario.metrics` – the declared metrics with direction and unit (the unit picks the interval).

Optionally :meth:`Scenario.disparities` declares "metric M by group G": per-group estimates, the
max − min gap and pairwise differences (:class:`DisparitySpec`), and :meth:`Scenario.notes` the
sentences a reader needs beside the numbers. :meth:`Scenario.aggregate`
turns the per-instance table into :class:`MetricValue` records; the default computes every
declared ``MetricSpec`` that names a per-instance ``value`` and every declared disparity.
"""

from __future__ import annotations

import contextlib
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from harness import stats
from harness.errors import ConfigError, MetricUnitError
from harness.scorers.base import CachedScorer, Scorer
from harness.scorers.registry import build_scorer
from harness.types import (
    Capability,
    Completion,
    DisparitySpec,
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
    """The response cache, where scorers keep their scores (``scorer()`` wires it in); None: off."""
    resumed_protocol: str | None = None
    """The protocol recorded in the manifest of the run being resumed (None: a new run). A
    scenario that picks its protocol from the model's capabilities picks this one, so a resumed
    run never mixes protocols; the engine refuses a resume whose protocol differs."""
    extra: dict[str, Any] = field(default_factory=dict)

    def scorer(self, name: str, options: Mapping[str, Any]) -> Scorer:
        """The scorer ``name`` built from ``scenario.scorer_options``; with the response cache on,
        its scores are cached too, so a rerun that changes only what comes after the scores (a
        threshold) never runs the classifier again."""
        scorer = build_scorer(name, options, where="scenario.scorer_options")
        return scorer if self.score_store is None else CachedScorer(scorer, self.score_store)


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

    def disparities(self) -> list[DisparitySpec]:
        """Disparities to report: "metric M by group G, clustered by C" (default: none)."""
        return []

    def protocol(self) -> str | None:
        """The measurement protocol that runs (e.g. "loglikelihood" or "generative")."""
        return None

    def notes(self, metrics: list[MetricValue]) -> list[str]:
        """Sentences a reader needs beside the numbers: caveats and verdicts a metric row cannot carry.

        Written to ``metrics.json`` as ``notes`` and shown under the scenario's section of the
        report (default: none). Not for restating metrics: the table already shows them.
        """
        return []

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
        return declared_metric_values(self.metrics(), frame, self.context, self.disparities())

    def write_artifacts(self, frame: pd.DataFrame, metrics: list[MetricValue], run_dir: Path) -> list[Path]:
        """Write plots or tables into the run directory and return their paths."""
        return []


def declared_metric_values(
    specs: Iterable[MetricSpec],
    frame: pd.DataFrame,
    context: ScenarioContext,
    disparities: Sequence[DisparitySpec] = (),
) -> list[MetricValue]:
    """Compute every spec that names a per-instance ``value`` (overall and per group) and every disparity.

    Columns are converted once per spec and groups found once per key; each group's estimate
    then works on slices of those arrays. A breakdown that a disparity also declares (same
    metric, same column) is emitted once, by the disparity (:func:`disparity_metric_values`).
    """
    specs = list(specs)
    results: list[MetricValue] = []
    errored = _errored(frame)
    by_disparity = {(d.metric, d.by) for d in disparities}
    groupings: dict[str, list[tuple[Any, np.ndarray]]] = {}
    for spec in specs:
        if spec.value is None:
            continue
        values, clusters = _score_values(frame, spec.value), _clusters(frame, spec.cluster)
        results.append(_mean(spec, values, clusters, errored, None))
        for key in spec.group_by:
            if key not in frame or (spec.name, key) in by_disparity:
                continue
            if key not in groupings:
                indices = frame.groupby(key, sort=True, dropna=True).indices  # sorted, as iterating
                groupings[key] = [(_plain(value), rows) for value, rows in indices.items()]
            for group_value, rows in groupings[key]:
                part_clusters = None if clusters is None else clusters[rows]
                results.append(_mean(spec, values[rows], part_clusters, errored[rows], {key: group_value}))
    for disparity in disparities:
        results.extend(disparity_metric_values(disparity, specs, frame, context))
    return results


def disparity_metric_values(
    disparity: DisparitySpec, specs: Sequence[MetricSpec], frame: pd.DataFrame, context: ScenarioContext
) -> list[MetricValue]:
    """The records of one declared disparity (names fixed by the contract in harness/types.py).

    ``{metric}`` per group, ``{metric}_gap_by_{by}`` and ``{metric}_diff_by_{by}`` per compared
    pair, from :func:`harness.stats.disparity` over the rows that did not fail.
    """
    spec = next((s for s in specs if s.name == disparity.metric and s.value is not None), None)
    if spec is None:
        raise ValueError(
            f"disparity on {disparity.metric!r}: no declared metric of that name has a per-instance value"
        )
    values = _score_values(frame, spec.value)
    errored = _errored(frame)
    present = frame[disparity.by].notna().to_numpy() if disparity.by in frame else np.zeros(len(frame), bool)
    usable = ~errored & ~np.isnan(values) & present
    cluster_key = disparity.cluster or spec.cluster
    clusters = _clusters(frame, cluster_key)
    paired = _clusters(frame, disparity.paired_by)
    labels = frame[disparity.by].to_numpy() if disparity.by in frame else np.full(len(frame), None)
    plain = {str(v): _plain(v) for v in labels[usable]}
    baseline = None if disparity.baseline is None else str(disparity.baseline)
    # a limit or failures can leave the baseline group without rows: report the groups, not a crash
    no_baseline = baseline is not None and baseline not in plain
    with _naming(spec):
        result = stats.disparity(
            values[usable],
            labels[usable].astype(str),
            None if clusters is None else clusters[usable],
            paired_by=None if paired is None else paired[usable],
            baseline=None if no_baseline else baseline,
            compare=not no_baseline,
            support=spec.support,
            resamples=context.bootstrap_resamples,
            seed=context.seed,
        )
    n_errors = int((errored & present).sum()) if disparity.by in frame else int(errored.sum())
    failed = labels[errored & present].astype(str)
    errors_in = {name: int((failed == name).sum()) for name in result.per_group}
    common = {"value": spec.value, "cluster": cluster_key, "by": disparity.by}
    records = [
        _record(spec.name, estimate, spec, errors_in[name], {disparity.by: plain[name]}, dict(common))
        for name, estimate in result.per_group.items()
    ]
    worst = {
        "lower_is_better": list(result.highest),
        "higher_is_better": list(result.lowest),
    }.get(spec.direction, sorted({*result.highest, *result.lowest}))
    gap_extra = {
        **common,
        "highest": [plain[g] for g in result.highest],
        "lowest": [plain[g] for g in result.lowest],
        "worst_groups": [plain[g] for g in worst],
        "p_value": result.p_value,
        "bias_corrected": result.gap_bias_corrected,
        "group_means": {name: estimate.value for name, estimate in result.per_group.items()},
    }
    if len(result.per_group) < 2:
        gap_extra["note"] = f"needs scored rows from at least two groups of {disparity.by!r}"
    elif no_baseline:
        gap_extra["note"] = (
            f"no scored rows of the baseline {disparity.by}={baseline}: no differences from it"
        )
    gap_spec = MetricSpec(f"{spec.name}_gap_by_{disparity.by}", "", spec.direction, spec.unit)
    records.append(_record(gap_spec.name, result.gap, gap_spec, n_errors, None, gap_extra))
    diff_spec = MetricSpec(f"{spec.name}_diff_by_{disparity.by}", "", "none", "difference")
    for (a, b), estimate in result.differences.items():
        extra = {
            **common,
            "p_value": _finite(result.p_values[(a, b)]),
            "p_adjusted": _finite(result.p_adjusted[(a, b)]),
            "paired_by": disparity.paired_by,
        }
        group = {disparity.by: plain[a], "reference": plain[b]}
        records.append(
            _record(diff_spec.name, estimate, diff_spec, errors_in[a] + errors_in[b], group, extra)
        )
    return records


@contextlib.contextmanager
def _naming(spec: MetricSpec) -> Iterator[None]:
    """Turn values outside the metric's declared unit into one line naming the metric and the fix."""
    try:
        yield
    except stats.SupportError as error:
        raise MetricUnitError(
            f"metric {spec.name!r} declares unit {spec.unit!r}, but {error}; declare the unit its values "
            "have in its MetricSpec (e.g. unit='count' for counts, 'logit' or 'difference' for signed values)"
        ) from None


def _finite(value: float) -> float | None:
    return value if np.isfinite(value) else None


def _record(
    name: str,
    estimate: stats.Estimate,
    spec: MetricSpec,
    n_errors: int,
    group: dict[str, Any] | None,
    extra: dict[str, Any],
) -> MetricValue:
    return metric_value(
        name, estimate, n_errors, direction=spec.direction, unit=spec.unit, group=group, extra=extra
    )


def metric_value(
    name: str,
    estimate: stats.Estimate,
    n_errors: int,
    *,
    direction: str = "none",
    unit: str = "proportion",
    group: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
) -> MetricValue:
    """The `metrics.json` record of an estimate: value, interval, n, clusters and method come from it."""
    return MetricValue(
        name=name,
        value=estimate.value,
        ci_low=estimate.low,
        ci_high=estimate.high,
        n=estimate.n,
        n_errors=n_errors,
        ci_method=estimate.method,
        direction=direction,  # type: ignore[arg-type]
        unit=unit,
        group=group,
        extra=extra or {},
        n_clusters=estimate.n_clusters,
    )


def mean_metric(
    spec: MetricSpec,
    frame: pd.DataFrame,
    n_errors: int,
    group: dict[str, Any] | None,
    context: ScenarioContext,
) -> MetricValue:
    """The mean of ``spec.value`` over non-errored rows, with its cluster-robust interval."""
    values, clusters = _score_values(frame, spec.value), _clusters(frame, spec.cluster)
    return _mean(spec, values, clusters, _errored(frame), group, n_errors)


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
    n_errors: int | None = None,
) -> MetricValue:
    """The estimate over rows that did not fail and have a value (``n_errors``: default the failed rows)."""
    usable = ~errored & ~np.isnan(values)
    with _naming(spec):
        estimate = stats.mean_estimate(
            values[usable], None if clusters is None else clusters[usable], support=spec.support
        )
    n_errors = int(errored.sum()) if n_errors is None else n_errors
    return _record(spec.name, estimate, spec, n_errors, group, {"value": spec.value, "cluster": spec.cluster})


LOGLIKELIHOOD, GENERATIVE = "loglikelihood", "generative"
"""The two protocols of a scenario that can either score fixed answers or sample and parse."""


def resolve_protocol(requested: str, capabilities: frozenset[Capability], resumed: str | None = None) -> str:
    """The protocol that runs: the requested one, or for ``auto`` log-likelihood when available.

    For scenarios that can score either way (``loglikelihood`` of fixed answers, or ``generative``
    sampling and parsing). A resumed run (``resumed``: the protocol its manifest records) keeps
    its protocol under ``auto``.
    """
    pinned = requested == "auto" and resumed in (LOGLIKELIHOOD, GENERATIVE)
    if pinned:
        requested = str(resumed)
    elif requested == "auto":
        return LOGLIKELIHOOD if Capability.LOGLIKELIHOOD in capabilities else GENERATIVE
    needed = Capability.LOGLIKELIHOOD if requested == LOGLIKELIHOOD else Capability.GENERATE
    if needed not in capabilities:
        has = ", ".join(sorted(c.value for c in capabilities))
        if pinned:
            raise ConfigError(
                f"the run being resumed used the {requested} protocol, which needs the model capability "
                f"{needed.value!r} that this model now lacks (it has: {has}); give the model that "
                "capability back (e.g. model.loglikelihood=true), or pass overwrite=true to start over"
            )
        raise ConfigError(
            f"scenario.protocol={requested} needs the model capability {needed.value!r}, which this model "
            f"lacks (it has: {has}); use scenario.protocol=auto"
        )
    return requested
