"""The report's sample browser: each run's instances (up to ``max_samples``) as escaped HTML."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from markupsafe import Markup

from harness.report.frames import LoadedRun
from harness.report.render import render_fragment
from harness.store import RunDirectory
from harness.types import prompt_from_json, prompt_text

GROUP_FILTER_MAX_VALUES = 50


@dataclass
class SampleView:
    """One instance in the sample browser (all text fields are shown escaped).

    The derived views are cached: the template reads each of them more than once per sample.
    """

    label: str
    scenario: str
    instance_id: str
    input: str
    references: list[str]
    outputs: list[dict[str, Any]]
    metadata: dict[str, str]
    scores: dict[str, Any]
    error: str | None

    @cached_property
    def meta_json(self) -> str:
        """Metadata as JSON (for the group filter)."""
        return json.dumps(self.metadata, sort_keys=True)

    @cached_property
    def numeric_scores(self) -> dict[str, float]:
        """Scores that are numbers (booleans as 0/1): shown as chips and filterable."""
        return {k: float(v) for k, v in self.scores.items() if isinstance(v, int | float)}

    @cached_property
    def other_scores(self) -> dict[str, str]:
        """Scores that are not numbers (texts, lists), as text."""
        return {
            k: v if isinstance(v, str) else json.dumps(v, default=str)
            for k, v in self.scores.items()
            if not isinstance(v, int | float)
        }

    @cached_property
    def scores_json(self) -> str:
        """Numeric scores as JSON (for the score filter)."""
        return json.dumps(self.numeric_scores, sort_keys=True)


@dataclass(frozen=True)
class RunSamples:
    """One run's part of the sample browser and what the browser's filters need from it."""

    html: Markup
    shown: int
    total: int
    metadata_values: dict[str, list[str]]
    score_keys: list[str]


def _output_views(record: dict[str, Any]) -> list[dict[str, Any]]:
    views = []
    for request, output in zip(record.get("requests") or [], record.get("outputs") or [], strict=False):
        if output.get("error"):
            views.append({"kind": "error", "error": str(output["error"])})
        elif output.get("texts") is not None:
            views.append({"kind": "texts", "texts": [str(t) for t in output["texts"]]})
        elif output.get("logprobs") is not None:
            continuations = request.get("continuations") or []
            views.append(
                {
                    "kind": "loglikelihood",
                    "items": [
                        {
                            "continuation": str(continuations[i]) if i < len(continuations) else f"#{i}",
                            "logprob": logprob,
                            "greedy": bool((output.get("greedy") or [False] * (i + 1))[i]),
                        }
                        for i, logprob in enumerate(output["logprobs"])
                    ],
                }
            )
    return views


def sample_views(run: LoadedRun, limit: int) -> tuple[list[SampleView], int]:
    """Up to ``limit`` instances of a run for the browser (0 = all), and the run's total count."""
    views = []
    total = 0
    for record in RunDirectory(run.path).iter_samples():
        total += 1
        if limit and len(views) >= limit:
            continue
        views.append(
            SampleView(
                label=run.label,
                scenario=run.scenario,
                instance_id=str(record.get("id")),
                input=prompt_text(prompt_from_json(record.get("input") or "")),
                references=[str(r) for r in record.get("references") or []],
                outputs=_output_views(record),
                metadata={str(k): str(v) for k, v in (record.get("metadata") or {}).items()},
                scores=dict(record.get("scores") or {}),
                error=record.get("error"),
            )
        )
    return views, total


def run_samples(run: LoadedRun, limit: int) -> RunSamples:
    """Draw one run's instances (at most ``limit``; 0 = all) for the browser."""
    views, total = sample_views(run, limit)
    values: dict[str, set[str]] = {}
    for view in views:
        for key, value in view.metadata.items():
            values.setdefault(key, set()).add(value)
    return RunSamples(
        html=render_fragment("samples.html.j2", samples=views),
        shown=len(views),
        total=total,
        metadata_values={key: sorted(found) for key, found in values.items()},
        score_keys=sorted({key for view in views for key in view.numeric_scores}),
    )


def group_filter_options(parts: Sequence[RunSamples], runs: Sequence[LoadedRun]) -> list[tuple[str, str]]:
    """(key, value) choices for the group filter: keys that metrics are broken down by, else small ones."""
    keys = {k for run in runs for r in run.metric_records for k in (r.get("group") or {})}
    values: dict[str, set[str]] = {}
    for part in parts:
        for key, found in part.metadata_values.items():
            values.setdefault(key, set()).update(found)
    if not keys:
        keys = {k for k, v in values.items() if len(v) <= GROUP_FILTER_MAX_VALUES}
    return [(k, v) for k in sorted(keys) for v in sorted(values.get(k, ()))[:GROUP_FILTER_MAX_VALUES]]
