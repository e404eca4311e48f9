"""Run directories -> loaded runs and tidy pandas frames for reports, leaderboards and gates.

Reading goes through :mod:`harness.store` (the run-directory format) and
:func:`harness.aggregate.sample_frame` / :func:`harness.aggregate.find_run_dirs`; this module adds
the per-run view (manifest + metrics.json), stable labels for models, and the tidy tables
(one row per run, one row per metric value, one row per scored instance) that every output is
built from.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from harness.aggregate import find_run_dirs, sample_frame
from harness.errors import DataError, HarnessError
from harness.store import RunDirectory
from harness.types import ModelInfo


@dataclass
class LoadedRun:
    """One run directory: its manifest, its metrics.json (None while unfinished) and a short id."""

    path: Path
    manifest: dict[str, Any]
    metrics_payload: dict[str, Any] | None
    run_id: str = ""
    label: str = ""
    _scores: pd.DataFrame | None = field(default=None, init=False, repr=False)

    @property
    def scenario(self) -> str:
        """Scenario name (from metrics.json, else the manifest)."""
        if self.metrics_payload and self.metrics_payload.get("scenario"):
            return str(self.metrics_payload["scenario"])
        return str(self.scenario_info.get("name") or "?")

    @property
    def scenario_info(self) -> dict[str, Any]:
        """The manifest's scenario block: name, version, params, protocol."""
        value = self.manifest.get("scenario")
        return value if isinstance(value, dict) else {"name": value}

    @property
    def scenario_version(self) -> str | None:
        """Scenario version recorded in the manifest."""
        version = self.scenario_info.get("version")
        return None if version is None else str(version)

    @property
    def protocol(self) -> str | None:
        """The measurement protocol that ran (metrics.json first, then the manifest)."""
        if self.metrics_payload and self.metrics_payload.get("protocol") is not None:
            return str(self.metrics_payload["protocol"])
        protocol = self.scenario_info.get("protocol")
        return None if protocol is None else str(protocol)

    @property
    def model(self) -> dict[str, Any]:
        """The manifest's model block (adapter, model_id, revision, weights_hash, dtype, extra)."""
        value = self.manifest.get("model")
        return value if isinstance(value, dict) else {}

    @property
    def model_id(self) -> str:
        """The model id, or the adapter name when the manifest has none."""
        return str(self.model.get("model_id") or self.model.get("adapter") or "unknown-model")

    @cached_property
    def model_identity(self) -> str:
        """The hash that decides what the model outputs (same as the response-cache identity)."""
        known = {f.name for f in fields(ModelInfo)}
        info = {k: v for k, v in self.model.items() if k in known}
        info.setdefault("adapter", "?")
        info.setdefault("model_id", self.model_id)
        info["extra"] = dict(info.get("extra") or {})
        return ModelInfo(**info).identity()

    @property
    def seed(self) -> Any:
        """The run's seed."""
        return self.manifest.get("seed")

    @property
    def status(self) -> str:
        """Run status from the manifest ("complete", "running", "failed", ...)."""
        if self.metrics_payload is None and not self.manifest.get("status"):
            return "no metrics"
        return str(self.manifest.get("status") or "unknown")

    @property
    def metric_records(self) -> list[dict[str, Any]]:
        """The metric records of metrics.json (empty when the run has none)."""
        return list((self.metrics_payload or {}).get("metrics") or [])

    @property
    def notes(self) -> list[str]:
        """The scenario's notes for readers (``Scenario.notes``), as text; none before metrics.json."""
        notes = (self.metrics_payload or {}).get("notes")
        return [str(note) for note in notes] if isinstance(notes, list) else []

    @property
    def n_instances(self) -> int:
        """Instances recorded in metrics.json."""
        return int((self.metrics_payload or {}).get("n_instances") or 0)

    @property
    def n_errors(self) -> int:
        """Errored instances recorded in metrics.json."""
        return int((self.metrics_payload or {}).get("n_errors") or 0)

    def scores(self) -> pd.DataFrame:
        """The per-instance table of samples.jsonl (id, error, metadata and score columns), cached."""
        if self._scores is None:
            self._scores = sample_frame(self.path)
        return self._scores

    def find_metric(self, name: str, group: dict[str, Any] | None = None) -> dict[str, Any] | None:
        """The metric record with this name and group (None = the overall value), if any."""
        wanted = normalise_group(group)
        for record in self.metric_records:
            if record.get("name") == name and normalise_group(record.get("group")) == wanted:
                return record
        return None


def normalise_group(group: dict[str, Any] | None) -> tuple[tuple[str, str], ...]:
    """A hashable, order-free form of a metric's group (values compared as strings)."""
    return tuple(sorted((str(k), str(v)) for k, v in (group or {}).items()))


def group_label(group: dict[str, Any] | None) -> str:
    """'key=value, ...' for a metric group, '' for the overall value."""
    return ", ".join(f"{k}={v}" for k, v in normalise_group(group))


def load_run(path: Path) -> LoadedRun:
    """Read one run directory; a missing or malformed manifest is a DataError naming the file."""
    store = RunDirectory(path)
    manifest = store.read_manifest()
    if manifest is None:
        raise DataError("not a run directory (no run.json)", path=str(path))
    if not isinstance(manifest, dict):
        raise DataError("run.json must hold a JSON object", path=str(store.manifest_path))
    metrics = store.read_metrics()
    if metrics is not None and not isinstance(metrics.get("metrics", []), list):
        raise DataError("the 'metrics' field must be a list", path=str(store.metrics_path))
    return LoadedRun(path=Path(path), manifest=manifest, metrics_payload=metrics)


def load_runs(paths: Iterable[str | Path]) -> list[LoadedRun]:
    """Every run at or below ``paths`` (run dirs, sweep dirs or globs), with ids and labels set.

    Raises a HarnessError naming the paths when none holds a run.json.
    """
    paths = [str(p) for p in paths]
    run_dirs = find_run_dirs(paths)
    if not run_dirs:
        raise HarnessError(
            "no run directories (folders with run.json) found at or below: "
            f"{', '.join(paths) or '(nothing given)'}"
        )
    runs = [load_run(path) for path in run_dirs]
    assign_run_ids(runs)
    assign_labels(runs)
    return runs


def assign_run_ids(runs: Sequence[LoadedRun]) -> None:
    """Give each run a short id: its path relative to the runs' common parent."""
    if len(runs) == 1:
        runs[0].run_id = runs[0].path.name
        return
    root = Path(os.path.commonpath([str(r.path) for r in runs]))
    for run in runs:
        run.run_id = run.path.relative_to(root).as_posix() or run.path.name


def assign_labels(runs: Sequence[LoadedRun]) -> None:
    """Label each run by its model, disambiguated only as far as needed.

    Runs of one model identity share a label (so a model lines up across scenarios); two
    identities with the same model id get a short weights hash or revision; two runs of one
    identity on one scenario (for example two seeds) get the seed, and then the run id.
    """
    ids_by_name: dict[str, set[str]] = {}
    for run in runs:
        ids_by_name.setdefault(run.model_id, set()).add(run.model_identity)
    for run in runs:
        label = run.model_id
        if len(ids_by_name[run.model_id]) > 1:
            marker = run.model.get("revision") or run.model.get("weights_hash") or run.model_identity
            label = f"{label}@{str(marker)[:8]}"
        run.label = label
    for attribute in ("seed", "run_id"):
        clashes: dict[tuple[str, str], list[LoadedRun]] = {}
        for run in runs:
            clashes.setdefault((run.label, run.scenario), []).append(run)
        for group in clashes.values():
            if len(group) > 1:
                for run in group:
                    run.label = f"{run.label} [{attribute}={getattr(run, attribute)}]"


def runs_frame(runs: Sequence[LoadedRun]) -> pd.DataFrame:
    """One row per run: model provenance, scenario, comparability fields, counts and status."""
    rows = []
    for run in runs:
        rows.append(
            {
                "run": run.run_id,
                "label": run.label,
                "path": str(run.path),
                "model_id": run.model_id,
                "adapter": run.model.get("adapter"),
                "revision": run.model.get("revision"),
                "weights_hash": run.model.get("weights_hash"),
                "dtype": run.model.get("dtype"),
                "scenario": run.scenario,
                "scenario_version": run.scenario_version,
                "protocol": run.protocol,
                "seed": run.seed,
                "dataset_fingerprint": run.manifest.get("dataset_fingerprint"),
                "template_hash": run.manifest.get("template_hash"),
                "scorers": scorer_names(run.manifest.get("scorers")),
                "harness_version": run.manifest.get("harness_version"),
                "git_sha": run.manifest.get("git_sha"),
                "status": run.status,
                "n_instances": run.n_instances,
                "n_errors": run.n_errors,
            }
        )
    return pd.DataFrame.from_records(rows)


def scorer_names(scorers: Any) -> str:
    """Readable 'name version (hash)' list of scorer identities."""
    parts = []
    for scorer in scorers or []:
        if isinstance(scorer, dict):
            text = f"{scorer.get('name')} {scorer.get('version')}"
            if scorer.get("model_hash"):
                text += f" ({str(scorer['model_hash'])[:12]})"
            parts.append(text)
        else:
            parts.append(str(scorer))
    return "; ".join(parts)


METRIC_COLUMNS = (
    "value",
    "ci_low",
    "ci_high",
    "n",
    "n_clusters",
    "n_errors",
    "direction",
    "unit",
    "ci_method",
)


def metrics_frame(runs: Sequence[LoadedRun]) -> pd.DataFrame:
    """One row per metric value of every run (overall rows have group == '')."""
    rows = []
    for run in runs:
        for record in run.metric_records:
            row = {
                "run": run.run_id,
                "label": run.label,
                "model_id": run.model_id,
                "scenario": run.scenario,
                "scenario_version": run.scenario_version,
                "metric": record.get("name"),
                "group": group_label(record.get("group")),
            }
            row.update({column: record.get(column) for column in METRIC_COLUMNS})
            rows.append(row)
    columns = ["run", "label", "model_id", "scenario", "scenario_version", "metric", "group", *METRIC_COLUMNS]
    frame = pd.DataFrame.from_records(rows, columns=columns)
    for column in ("value", "ci_low", "ci_high"):
        frame[column] = pd.to_numeric(frame[column], errors="coerce")
    return frame


def samples_frame(runs: Sequence[LoadedRun]) -> pd.DataFrame:
    """Per-instance scores of every run, stacked, with run, label and scenario columns in front."""
    parts = []
    for run in runs:
        # a metadata key named like a front column keeps its values as "sample.<key>"
        part = run.scores().rename(columns={c: f"sample.{c}" for c in ("run", "label", "scenario")})
        part.insert(0, "scenario", run.scenario)
        part.insert(0, "label", run.label)
        part.insert(0, "run", run.run_id)
        parts.append(part)
    if not parts:
        return pd.DataFrame(columns=["run", "label", "scenario", "id", "error"])
    return pd.concat(parts, ignore_index=True, sort=False)


def _scored_rows(scores: pd.DataFrame, group: dict[str, Any] | None) -> pd.DataFrame | None:
    """Non-errored rows of a group (all of them for the overall value); None if a key is unknown."""
    rows = scores[scores["error"].isna()] if "error" in scores else scores
    for key, value in (group or {}).items():
        if key not in rows.columns:
            return None
        rows = rows[rows[key].astype(str) == str(value)]
    return rows


def metric_value_column(record: dict[str, Any], scores: pd.DataFrame) -> str | None:
    """The per-instance score column a metric is the mean of, when that can be established.

    The column is named by ``extra["value"]`` (or is the metric's own name). It is accepted only
    if its mean over the non-errored rows reproduces the recorded value, so a metric that is not
    a plain mean (a correlation, a gap) is never mistaken for one.
    """
    extra = record.get("extra") or {}
    candidate = extra.get("value") or record.get("name")
    if not candidate or candidate not in scores.columns or record.get("value") is None:
        return None
    rows = _scored_rows(scores, record.get("group"))
    if rows is None:
        return None
    column = pd.to_numeric(rows[candidate], errors="coerce").dropna()
    recorded = float(record["value"])
    if column.empty or abs(float(column.mean()) - recorded) > 1e-9 * max(1.0, abs(recorded)):
        return None
    return str(candidate)


def instance_values(run: LoadedRun, record: dict[str, Any]) -> pd.Series | None:
    """The values a metric record averages, one per scored instance of its group, indexed by id.

    None when the metric is not the mean of a per-instance score (see :func:`metric_value_column`).
    """
    scores = run.scores()
    column = metric_value_column(record, scores)
    rows = _scored_rows(scores, record.get("group")) if column else None
    if column is None or rows is None:
        return None
    values = pd.to_numeric(rows[column], errors="coerce")
    values.index = rows["id"].astype(str)
    return values.dropna()


def cluster_labels(runs: Sequence[LoadedRun], key: str, ids: Iterable[str]) -> np.ndarray:
    """The ``key`` metadata value of each instance id (found in any of the runs), else the id itself."""
    mapping: dict[str, Any] = {}
    for run in runs:
        scores = run.scores()
        if key in scores.columns:
            mapping.update(zip(scores["id"].astype(str), scores[key], strict=True))
    return np.asarray([str(mapping.get(i, i)) for i in ids], dtype=object)


def tabular_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy whose object columns hold only strings or None, so parquet and CSV accept them.

    Lists and dicts become JSON; other mixed values become their string form.
    """
    safe = frame.copy()
    for column in safe.columns:
        if safe[column].dtype == object:
            safe[column] = safe[column].map(_cell_text)
    return safe


def _cell_text(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return None
    if isinstance(value, dict | list | tuple):
        return json.dumps(value, sort_keys=True, default=str)
    return str(value)
