"""`harness report`: the files it writes and what they contain (the browser tests open the HTML)."""

from __future__ import annotations

import json
import re
from html import unescape
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

from harness.report.cli import report_main
from harness.report.markdown import cell
from harness.report.render import format_number
from harness.report.report import natural_key

XSS_MODEL = '<img src=z onerror="window.__xss = 4">model'

EXPECTED_FILES = {
    "report.html",
    "summary.md",
    "metrics.csv",
    "metrics.parquet",
    "runs.csv",
    "runs.parquet",
    "samples.csv",
    "samples.parquet",
    "leaderboard.csv",
    "leaderboard.parquet",
}


def test_report_on_a_sweep_writes_every_output(make_run, tmp_path: Path) -> None:
    make_run("sweep/0/toy", model="model-a", p_a=0.9, p_b=0.7, n=40)
    make_run("sweep/1/toy", model="model-b", p_a=0.5, p_b=0.5, n=40)
    assert report_main([str(tmp_path / "sweep")]) == 0
    out = tmp_path / "sweep" / "report"
    assert {p.name for p in out.iterdir()} == EXPECTED_FILES
    metrics = pd.read_csv(out / "metrics.csv")
    recorded = json.loads((tmp_path / "sweep/0/toy/metrics.json").read_text())["metrics"]
    assert len(metrics) == 2 * len(recorded)
    assert len(pd.read_parquet(out / "samples.parquet")) == 80
    summary = (out / "summary.md").read_text()
    accuracy = next(m for m in recorded if m["name"] == "accuracy" and not m["group"])
    ci = f"[{accuracy['ci_low']:.3f}, {accuracy['ci_high']:.3f}]"
    row = f"| model-a | accuracy ↑ | {accuracy['value']:.3f} | {ci} | 40 | 0 |"
    assert row in summary
    assert "## Leaderboard" in summary and "Group breakdowns (see report.html): accuracy by group" in summary
    html = (out / "report.html").read_text()
    assert "<h3>accuracy by group" in html and 'id="sample-browser"' in html
    assert html.count('<article class="sample"') == 80


def test_html_is_self_contained_and_escapes_untrusted_text(make_run, tmp_path: Path) -> None:
    run_dir = make_run("r", model=XSS_MODEL, xss=True, n=10)
    assert report_main([str(run_dir), "--out", str(tmp_path / "out")]) == 0
    html = (tmp_path / "out" / "report.html").read_text()
    assert "<script>window.__xss" not in html and "<img src=x" not in html and "<img src=y" not in html
    assert "&lt;script&gt;window.__xss = 1&lt;/script&gt;" in html
    csp = unescape(re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', html).group(1))
    assert "default-src 'none'" in csp and "script-src 'sha256-" in csp
    assert len(re.findall(r"<script\b", html)) == 1
    assert not re.search(r'(src|href)="(https?:)?//', html)


def test_plots_in_the_run_directory_are_embedded(make_run, tmp_path: Path) -> None:
    run_dir = make_run("r", n=10)
    figure = Figure(figsize=(2, 2))
    figure.add_subplot().plot([0, 1], [0, 1])
    figure.savefig(run_dir / "calibration.png")
    assert report_main([str(run_dir), "--out", str(tmp_path / "out")]) == 0
    html = (tmp_path / "out" / "report.html").read_text()
    assert '<img src="data:image/png;base64,' in html and "calibration.png" in html


def test_sample_cap_is_stated(make_run, tmp_path: Path) -> None:
    run_dir = make_run("r", n=30)
    assert report_main([str(run_dir), "--out", str(tmp_path / "out"), "--max-samples", "5"]) == 0
    html = (tmp_path / "out" / "report.html").read_text()
    assert html.count('<article class="sample"') == 5
    assert "showing the first 5 of 30 instances" in html


def test_markdown_cells_cannot_break_tables_or_inject_html() -> None:
    assert cell("a|b\nc <b>&") == "a\\|b c &lt;b&gt;&amp;"


def test_report_cli_errors_exit_2(tmp_path: Path, capsys) -> None:
    assert report_main([str(tmp_path / "nothing")]) == 2
    assert "no run directories" in capsys.readouterr().err
    assert report_main(["--bogus"]) == 2


def test_number_formatting_and_natural_group_order() -> None:
    assert [format_number(v) for v in (0.5, 6.9e-18, 4e-4, 1234.56, None, float("nan"))] == [
        "0.500",
        "0.000",
        "4.00e-04",
        "1,234.6",
        "–",
        "–",
    ]
    assert sorted(["100", "25", "a10", "a2", "50"], key=natural_key) == ["25", "50", "100", "a2", "a10"]
