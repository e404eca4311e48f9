"""Loading run directories into LoadedRun objects and tidy frames."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from harness.errors import DataError, HarnessError
from harness.report.frames import (
    load_runs,
    metric_value_column,
    metrics_frame,
    runs_frame,
    samples_frame,
    tabular_safe,
)


def test_load_runs_finds_nested_sweep_runs_with_relative_ids(make_run, tmp_path: Path) -> None:
    make_run("sweep/0/toy", model="model-a")
    make_run("sweep/1/toy", model="model-b")
    runs = load_runs([tmp_path / "sweep"])
    assert [r.run_id for r in runs] == ["0/toy", "1/toy"]
    assert [r.label for r in runs] == ["model-a", "model-b"]
    assert runs[0].scenario == "toy" and runs[0].scenario_version == "1"
    assert runs[0].n_instances == 60 and runs[0].n_errors == 0


def test_load_runs_accepts_globs(make_run, tmp_path: Path) -> None:
    make_run("sweep/0/toy", model="model-a")
    make_run("sweep/1/toy", model="model-b")
    assert len(load_runs([str(tmp_path / "sweep" / "*" / "toy")])) == 2


def test_no_runs_found_names_the_paths(tmp_path: Path) -> None:
    with pytest.raises(HarnessError, match=r"no run directories .* found at or below: .*nothing-here"):
        load_runs([tmp_path / "nothing-here"])


def test_malformed_manifest_names_the_file(make_run) -> None:
    run_dir = make_run("r")
    (run_dir / "run.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(DataError, match=r"run\.json:1: malformed JSON"):
        load_runs([run_dir])


def test_labels_disambiguate_same_model_id_and_repeated_seeds(make_run, tmp_path: Path) -> None:
    make_run("s/a", model="same", p_a=0.9)
    make_run("s/b", model="same", p_a=0.5)
    make_run("s/c", model="other", seed=0)
    make_run("s/d", model="other", seed=1)
    labels = {r.run_id: r.label for r in load_runs([tmp_path / "s"])}
    assert labels["a"].startswith("same@") and labels["b"].startswith("same@")
    assert labels["a"] != labels["b"]
    assert labels["c"] == "other [seed=0]" and labels["d"] == "other [seed=1]"


def test_metrics_frame_matches_metrics_json(make_run, tmp_path: Path) -> None:
    run_dir = make_run("r", p_a=0.9, p_b=0.3)
    runs = load_runs([run_dir])
    frame = metrics_frame(runs)
    recorded = json.loads((run_dir / "metrics.json").read_text())["metrics"]
    assert len(frame) == len(recorded)
    overall = frame[(frame.metric == "accuracy") & (frame.group == "")].iloc[0]
    record = next(m for m in recorded if m["name"] == "accuracy" and m["group"] is None)
    assert overall.value == pytest.approx(record["value"])
    assert overall.ci_low == pytest.approx(record["ci_low"]) and overall.direction == "higher_is_better"
    assert set(frame.group) == {"", "group=a", "group=b"}


def test_runs_and_samples_frames(make_run, tmp_path: Path) -> None:
    make_run("s/one", model="m1", n=20)
    make_run("s/two", model="m2", n=20)
    runs = load_runs([tmp_path / "s"])
    table = runs_frame(runs)
    assert list(table.label) == ["m1", "m2"]
    assert table.scorers.tolist() == ["exact_match 1", "exact_match 1"]
    samples = samples_frame(runs)
    assert len(samples) == 40
    assert list(samples.columns[:5]) == ["run", "label", "scenario", "id", "error"]
    assert {"correct", "length", "group"} <= set(samples.columns)


def test_metric_value_column_needs_the_mean_to_reproduce_the_recorded_value(make_run) -> None:
    run = load_runs([make_run("r")])[0]
    scores = run.scores()
    accuracy = run.find_metric("accuracy")
    assert metric_value_column(accuracy, scores) == "correct"
    assert metric_value_column(run.find_metric("accuracy", {"group": "b"}), scores) == "correct"
    tampered = {**accuracy, "value": accuracy["value"] + 0.01}
    assert metric_value_column(tampered, scores) is None
    no_column = {**accuracy, "extra": {}}
    assert metric_value_column(no_column, scores) is None


def test_tabular_safe_serialises_nested_cells() -> None:
    frame = pd.DataFrame({"a": [{"x": 1}, [1, 2], None, 3]})
    cells = tabular_safe(frame)["a"].tolist()
    assert cells[:2] == ['{"x": 1}', "[1, 2]"] and pd.isna(cells[2]) and cells[3] == "3"


def test_metadata_keys_named_like_the_table_columns_neither_crash_nor_replace_them(write_run) -> None:
    """Untrusted metadata: keys "label", "run", "id" and "error" keep their values under new names."""
    metadata = {"label": "toxic", "run": 7, "id": "other", "error": "not an error"}
    samples = [
        {"id": "i1", "error": None, "metadata": metadata, "scores": {"hit": 1.0, "error": 0.5}},
        {"id": "i2", "error": "timeout", "metadata": {"label": "benign"}, "scores": {}},
    ]
    run = load_runs([write_run("r", metrics=[], samples=samples)])[0]
    scores = run.scores()
    assert scores["id"].tolist() == ["i1", "i2"] and scores["error"].tolist() == [None, "timeout"]
    assert scores.loc[0, "metadata.error"] == "not an error" and scores.loc[0, "scores.error"] == 0.5
    assert scores.loc[0, "metadata.id"] == "other"
    table = samples_frame([run])
    assert list(table.columns[:5]) == ["run", "label", "scenario", "id", "error"]
    assert table["sample.label"].tolist() == ["toxic", "benign"] and table.loc[0, "sample.run"] == 7
