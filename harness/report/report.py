"""Report and leaderboard outputs: self-contained HTML, Markdown and CSV/parquet tables.

The report has a summary of every overall metric with its CI, n and errors; one section per
scenario with CI charts, group breakdowns and the scenario's own plots and tables; a sample browser
(filter by scenario, model, group, score range, status and text); the manifest of every run; and,
when several models are present, the leaderboard.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import harness
from harness.report.frames import (
    LoadedRun,
    metrics_frame,
    normalise_group,
    runs_frame,
    samples_frame,
    scorer_names,
)
from harness.report.guarded import guard_comparisons
from harness.report.leaderboard import Leaderboard, build_leaderboard, leaderboard_frame
from harness.report.markdown import leaderboard_document, report_markdown
from harness.report.render import Scale, image_data_uri, image_mime, render_page
from harness.report.sample_browser import group_filter_options, run_samples
from harness.report.tables import write_tables
from harness.untrusted import files_inside, read_file_inside

MAX_IMAGE_BYTES = 5_000_000
MAX_TABLE_BYTES = 2_000_000
TABLE_ROWS = 20
"""Rows of a scenario's table shown in the report; the file in the run directory has them all."""
REPORT_TABLES = frozenset({"metrics.csv", "runs.csv", "samples.csv", "leaderboard.csv"})


@dataclass
class ReportOptions:
    """Settings of one report: title, sample cap, leaderboard settings."""

    title: str = "Responsible-AI evaluation report"
    max_samples: int = 500
    headlines: dict[str, str] = field(default_factory=dict)
    refuse_mismatch: bool = False
    resamples: int = 1000
    seed: int = 0


@dataclass
class MetricRow:
    """One metric value of one run, ready to draw (bar geometry in percent)."""

    label: str
    run_id: str
    scenario: str
    metric: str
    value: float | None
    ci_low: float | None
    ci_high: float | None
    n: int
    n_errors: int
    direction: str
    bar: dict[str, float] | None
    n_clusters: int | None = None


@dataclass
class Breakdown:
    """A grouped metric: one row per group value, one cell per run."""

    metric: str
    key: str
    direction: str
    runs: list[str]
    rows: list[tuple[str, list[MetricRow | None]]]


@dataclass
class ScenarioSection:
    """Everything the report shows for one scenario."""

    name: str
    versions: list[str]
    overall: list[MetricRow]
    breakdowns: list[Breakdown]
    images: list[dict[str, str]]
    tables: list[ArtifactTable]
    notes: list[str]
    """Warnings about the runs (unfinished runs)."""
    readings: list[str]
    """The scenario's own notes (``Scenario.notes``): caveats and verdicts beside the numbers."""


def _row(run: LoadedRun, record: dict[str, Any], scale: Scale) -> MetricRow:
    value, low, high = record.get("value"), record.get("ci_low"), record.get("ci_high")
    return MetricRow(
        label=run.label,
        run_id=run.run_id,
        scenario=run.scenario,
        metric=str(record["name"]),
        value=value,
        ci_low=low,
        ci_high=high,
        n=int(record.get("n") or 0),
        n_errors=int(record.get("n_errors") or 0),
        direction=str(record.get("direction") or "none"),
        bar=scale.bar(value, low, high),
        n_clusters=record.get("n_clusters"),
    )


def natural_key(text: str) -> list[tuple[int, float | str]]:
    """Sort key that orders '25' before '100' and 'a2' before 'a10'."""
    return [(0, float(part)) if part.isdigit() else (1, part) for part in re.split(r"(\d+)", text) if part]


def metric_scales(runs: Sequence[LoadedRun]) -> dict[str, Scale]:
    """One axis per metric name (over every run and group), so bars of a metric line up."""
    numbers: dict[str, list[float | None]] = {}
    for run in runs:
        for record in run.metric_records:
            numbers.setdefault(record["name"], []).extend(
                [record.get("value"), record.get("ci_low"), record.get("ci_high")]
            )
    return {name: Scale.covering(values) for name, values in numbers.items()}


def scenario_sections(runs: Sequence[LoadedRun]) -> list[ScenarioSection]:
    """One section per scenario: overall metric rows, group breakdowns and plot images."""
    by_scenario: dict[str, list[LoadedRun]] = {}
    for run in runs:
        by_scenario.setdefault(run.scenario, []).append(run)
    sections = []
    for name in sorted(by_scenario):
        members = by_scenario[name]
        scales = metric_scales(members)
        overall: list[MetricRow] = []
        grouped: dict[tuple[str, str], dict[str, dict[str, MetricRow]]] = {}
        directions: dict[str, str] = {}
        for run in members:
            for record in run.metric_records:
                row = _row(run, record, scales[record["name"]])
                if not record.get("group"):
                    overall.append(row)
                    continue
                pairs = normalise_group(record["group"])
                key, value = ", ".join(k for k, _ in pairs), ", ".join(v for _, v in pairs)
                grouped.setdefault((row.metric, key), {}).setdefault(value, {})[run.run_id] = row
                directions[row.metric] = row.direction
        overall.sort(key=lambda r: (r.metric, r.label))
        labels = {run.run_id: run.label for run in members}
        breakdowns = []
        for (metric, key), by_value in grouped.items():
            run_ids = [
                run.run_id for run in members if any(run.run_id in cells for cells in by_value.values())
            ]
            ordered = sorted(by_value, key=natural_key)
            rows = [(value, [by_value[value].get(rid) for rid in run_ids]) for value in ordered]
            breakdowns.append(Breakdown(metric, key, directions[metric], [labels[r] for r in run_ids], rows))
        sections.append(
            ScenarioSection(
                name=name,
                versions=sorted({str(run.scenario_version) for run in members}),
                overall=overall,
                breakdowns=breakdowns,
                images=_images(members),
                tables=[table for run in members for table in artifact_tables(run)],
                notes=[
                    f"{run.label}: status {run.status}, no metrics.json"
                    for run in members
                    if run.metrics_payload is None
                ],
                readings=[
                    note if len(members) == 1 else f"{run.label}: {note}"
                    for run in members
                    for note in run.notes
                ],
            )
        )
    return sections


def _images(runs: Sequence[LoadedRun]) -> list[dict[str, str]]:
    """The runs' plots as data URIs: plain files inside each run directory, never through a link.

    A run directory is untrusted (docs/security.md): a symbolic link named ``*.png`` could point
    at any local file, which would then be embedded in a report that is shared.
    """
    images = []
    for run in runs:
        for path in files_inside(run.path):
            if image_mime(path) is None:
                continue
            data = read_file_inside(run.path, path, MAX_IMAGE_BYTES)
            if data is not None:
                name = path.relative_to(run.path).as_posix()
                images.append({"label": run.label, "name": name, "uri": image_data_uri(path, data)})
    return images


@dataclass
class ArtifactTable:
    """The first rows of a CSV table a scenario wrote into its run directory (its worst templates,
    its most divergent pairs), shown in the report as escaped text."""

    label: str
    name: str
    header: list[str]
    rows: list[list[str]]
    n_rows: int


def artifact_tables(run: LoadedRun) -> list[ArtifactTable]:
    """The scenario's CSV tables at the top of the run directory (not the report's own tables).

    Read like the plots: only plain files inside the run directory, never through a link, and at
    most ``MAX_TABLE_BYTES`` each; a file that is not UTF-8 CSV is left out.
    """
    tables = []
    for path in sorted(run.path.glob("*.csv")):
        if path.name in REPORT_TABLES:
            continue
        data = read_file_inside(run.path, path, MAX_TABLE_BYTES)
        try:
            rows = list(csv.reader(io.StringIO(data.decode("utf-8")))) if data is not None else []
        except (UnicodeDecodeError, csv.Error):
            continue
        if rows:
            body = [[_shown(cell) for cell in row] for row in rows[1 : TABLE_ROWS + 1]]
            tables.append(ArtifactTable(run.label, path.name, rows[0], body, len(rows) - 1))
    return tables


def _shown(cell: str) -> str:
    """A CSV cell as the report shows it: decimals to 4 significant digits, anything else as is."""
    if "." not in cell and "e" not in cell.lower():
        return cell
    try:
        return f"{float(cell):.4g}"
    except ValueError:
        return cell


def manifest_view(run: LoadedRun) -> dict[str, Any]:
    """The manifest fields a reader checks first, plus the full JSON for the rest."""
    model = run.model
    scenario = run.scenario_info
    fields = {
        "Run directory": str(run.path),
        "Model": run.model_id,
        "Adapter": model.get("adapter"),
        "Revision": model.get("revision"),
        "Weights hash": model.get("weights_hash"),
        "Dtype": model.get("dtype"),
        "Scenario": f"{run.scenario} (version {run.scenario_version})",
        "Protocol": run.protocol,
        "Seed": run.seed,
        "Dataset fingerprint": run.manifest.get("dataset_fingerprint"),
        "Template hash": run.manifest.get("template_hash"),
        "Scorers": scorer_names(run.manifest.get("scorers")) or "none",
        "Decoding": json.dumps(run.manifest.get("decoding"), sort_keys=True, default=str),
        "Harness version": run.manifest.get("harness_version"),
        "Git SHA": run.manifest.get("git_sha"),
        "Status": run.status,
        "Instances / errors": f"{run.n_instances} / {run.n_errors}",
    }
    return {
        "label": run.label,
        "run_id": run.run_id,
        "fields": {k: ("–" if v is None else str(v)) for k, v in fields.items()},
        "scenario_params": json.dumps(scenario.get("params"), indent=2, sort_keys=True, default=str),
        "packages": run.manifest.get("packages") or {},
        "timings": json.dumps(run.manifest.get("timings"), indent=2, sort_keys=True, default=str),
        "full": json.dumps(run.manifest, indent=2, sort_keys=True, default=str),
    }


def report_context(
    runs: Sequence[LoadedRun],
    options: ReportOptions,
    leaderboard: Leaderboard | None,
) -> dict[str, Any]:
    """Everything the report template needs."""
    sample_parts = [run_samples(run, options.max_samples) for run in runs]
    sample_notes = [
        f"{run.label} ({run.scenario}): showing the first {part.shown} of {part.total} instances"
        for run, part in zip(runs, sample_parts, strict=True)
        if part.shown < part.total
    ]
    scales = metric_scales(runs)
    summary = [
        _row(run, record, scales[record["name"]])
        for run in runs
        for record in run.metric_records
        if not record.get("group")
    ]
    return {
        "title": options.title,
        "generated": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "harness_version": harness.__version__,
        "runs": runs,
        "models": sorted({run.label for run in runs}),
        "scenarios": sorted({run.scenario for run in runs}),
        "summary": summary,
        "sections": scenario_sections(runs),
        "sample_parts": sample_parts,
        "sample_notes": sample_notes,
        "group_options": group_filter_options(sample_parts, runs),
        "score_keys": sorted({key for part in sample_parts for key in part.score_keys}),
        "manifests": [manifest_view(run) for run in runs],
        "leaderboard": leaderboard,
        "guard_comparisons": guard_comparisons(runs),
    }


def has_several_models(runs: Sequence[LoadedRun]) -> bool:
    """True when the runs cover more than one model identity (a leaderboard is then included)."""
    return len({run.model_identity for run in runs}) > 1


def write_report(
    runs: Sequence[LoadedRun],
    out_dir: Path,
    options: ReportOptions,
) -> list[Path]:
    """Write report.html, summary.md and the metrics/runs/samples tables; returns the paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    leaderboard = None
    if has_several_models(runs):
        leaderboard = build_leaderboard(
            runs,
            headlines=options.headlines,
            refuse_mismatch=options.refuse_mismatch,
            resamples=options.resamples,
            seed=options.seed,
        )
    context = report_context(runs, options, leaderboard)
    html_path = out_dir / "report.html"
    html_path.write_text(render_page("report.html.j2", **context), encoding="utf-8")
    md_path = out_dir / "summary.md"
    md_path.write_text(report_markdown(runs, options.title, leaderboard), encoding="utf-8")
    tables = {"metrics": metrics_frame(runs), "runs": runs_frame(runs), "samples": samples_frame(runs)}
    if leaderboard is not None:
        tables["leaderboard"] = leaderboard_frame(leaderboard)
    return [html_path, md_path, *write_tables(tables, out_dir)]


def write_leaderboard(runs: Sequence[LoadedRun], out_dir: Path, options: ReportOptions) -> list[Path]:
    """Write leaderboard.html, leaderboard.md and leaderboard.csv/.parquet; returns the paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    leaderboard = build_leaderboard(
        runs,
        headlines=options.headlines,
        refuse_mismatch=options.refuse_mismatch,
        resamples=options.resamples,
        seed=options.seed,
    )
    html_path = out_dir / "leaderboard.html"
    html_path.write_text(
        render_page(
            "leaderboard.html.j2",
            title=options.title,
            leaderboard=leaderboard,
            n_runs=len(runs),
            n_models=len({run.label for run in runs}),
            generated=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            harness_version=harness.__version__,
        ),
        encoding="utf-8",
    )
    md_path = out_dir / "leaderboard.md"
    md_path.write_text(leaderboard_document(leaderboard, options.title), encoding="utf-8")
    return [html_path, md_path, *write_tables({"leaderboard": leaderboard_frame(leaderboard)}, out_dir)]
