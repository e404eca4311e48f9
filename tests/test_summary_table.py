"""The console summary: every ungrouped metric once, then the scenario's notes, then what was skipped."""

from __future__ import annotations

from pathlib import Path

from harness.evaluate import JobResult, summary_table
from harness.runner import RunResult
from harness.types import MetricValue


def test_the_summary_lists_ungrouped_metrics_once_then_the_notes() -> None:
    overall = MetricValue("tone", 0.61, 0.6, 0.62, n=96, n_errors=0, n_clusters=24)
    by_group = MetricValue("tone", 0.58, 0.57, 0.59, n=48, n_errors=0, group={"group": "female"})
    note = "female - male: -0.042 [-0.062, -0.021]: a difference is detected (MDE 0.028)"
    run = RunResult(Path("results/tone_disparity"), [overall, by_group], 96, 0, "completed", [note])
    table = summary_table(JobResult([run], {"watermark": "needs a watermarking model"}))
    lines = table.splitlines()
    assert lines[1] == "tone_disparity  (96 instances, 0 errors)"
    assert lines[2].split() == ["tone", "0.610", "[0.600,", "0.620]", "96", "0", "24"]
    assert lines[3:] == [f"  note: {note}", "watermark  skipped: needs a watermarking model"]
