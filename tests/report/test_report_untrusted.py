"""A report embeds only plain files inside the run directory: no link is followed, nothing outside is read."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest

from harness.errors import DataError
from harness.report.cli import report_main
from harness.untrusted import files_inside, read_file_inside, relative_inside

SECRET = b"machine example.com login me password netrc-canary-5f1e"
PLOT = b"\x89PNG\r\n\x1a\n own plot"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def test_links_and_outside_files_never_reach_the_report(make_run, tmp_path: Path) -> None:
    outside = tmp_path / "home"
    (outside / "pics").mkdir(parents=True)
    (outside / ".netrc").write_bytes(SECRET)
    (outside / "pics" / "leak.png").write_bytes(SECRET)
    run_dir = make_run("r", n=6)
    (run_dir / "plot.png").write_bytes(PLOT)
    (run_dir / "netrc.png").symlink_to(outside / ".netrc")  # a link to a file outside
    (run_dir / "linked").symlink_to(outside / "pics", target_is_directory=True)  # a linked folder
    (run_dir / "inner.png").symlink_to(run_dir / "plot.png")  # even a link that stays inside
    os.link(outside / ".netrc", run_dir / "hard.png")  # a hard link names the outside file too
    assert report_main([str(run_dir), "--out", str(tmp_path / "out")]) == 0
    html = (tmp_path / "out" / "report.html").read_text()
    assert b64(PLOT) in html and "plot.png" in html
    assert b64(SECRET) not in html and b64(SECRET)[:40] not in html
    for name in ("netrc.png", "leak.png", "inner.png", "hard.png"):
        assert name not in html


def test_files_inside_skips_links_and_read_refuses_them(tmp_path: Path) -> None:
    (tmp_path / "run" / "sub").mkdir(parents=True)
    (tmp_path / "run" / "sub" / "a.png").write_bytes(PLOT)
    (tmp_path / "secret").write_bytes(SECRET)
    (tmp_path / "run" / "b.png").symlink_to(tmp_path / "secret")
    run = tmp_path / "run"
    assert list(files_inside(run)) == [run / "sub" / "a.png"]
    assert read_file_inside(run, run / "sub" / "a.png", 100) == PLOT
    assert read_file_inside(run, run / "b.png", 100) is None  # O_NOFOLLOW
    assert read_file_inside(run, tmp_path / "secret", 100) is None  # outside the root
    assert read_file_inside(run, run / "sub" / "a.png", 3) is None  # over the size cap


@pytest.mark.parametrize(
    "stored", ["../x.png", "/etc/passwd", "a/../../x", "a//b", "./a", "a/.", "", "C:x", "a\\..\\b", "a\x00b"]
)
def test_stored_paths_that_could_leave_the_root_are_refused(tmp_path: Path, stored: str) -> None:
    with pytest.raises(DataError, match="paths must be relative, normalized and inside"):
        relative_inside(tmp_path, stored)


def test_a_normalized_relative_path_is_accepted(tmp_path: Path) -> None:
    assert relative_inside(tmp_path, "plots/a.png") == tmp_path / "plots" / "a.png"


def test_a_scenario_note_is_shown_escaped_under_its_section(make_run, tmp_path: Path) -> None:
    import json

    run_dir = make_run("r", n=6)
    payload = json.loads((run_dir / "metrics.json").read_text())
    assert payload["notes"] == []  # the toy scenario has none
    payload["notes"] = ["approval ratio 0.7 <script>window.__xss = 4</script>", 3]
    (run_dir / "metrics.json").write_text(json.dumps(payload))
    assert report_main([str(run_dir), "--out", str(tmp_path / "out")]) == 0
    html = (tmp_path / "out" / "report.html").read_text()
    assert (
        '<div class="readings"><ul><li>approval ratio 0.7 &lt;script&gt;window.__xss = 4&lt;/script&gt;</li>'
        in html
    )
    assert "<li>3</li>" in html and "window.__xss = 4</script>" not in html


def test_a_scenarios_csv_tables_are_shown_escaped_and_links_are_not_followed(
    make_run, tmp_path: Path
) -> None:
    run_dir = make_run("r", n=6)
    rows = ["template,score"] + [f"t{i},{i}" for i in range(25)] + ['"<script>alert(1)</script>",99']
    (run_dir / "worst_templates.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    (tmp_path / "secret.csv").write_bytes(b"key\n" + SECRET + b"\n")
    (run_dir / "leak.csv").symlink_to(tmp_path / "secret.csv")
    (run_dir / "metrics.csv").write_text("a\nnot a scenario table\n")  # a report's own table
    assert report_main([str(run_dir), "--out", str(tmp_path / "out")]) == 0
    html = (tmp_path / "out" / "report.html").read_text()
    assert "worst_templates.csv" in html and "<td>t19</td><td>19</td>" in html
    assert "<td>t20</td>" not in html and "The first 20 of 26 rows" in html
    assert "<script>alert(1)" not in html  # the 26th row is not shown, and every cell is escaped
    assert "leak.csv" not in html and "netrc-canary" not in html and "not a scenario table" not in html


def test_a_table_cell_is_escaped(make_run, tmp_path: Path) -> None:
    run_dir = make_run("r", n=6)
    (run_dir / "pairs.csv").write_text('text\n"<img src=x onerror=alert(1)>"\n', encoding="utf-8")
    assert report_main([str(run_dir), "--out", str(tmp_path / "out")]) == 0
    html = (tmp_path / "out" / "report.html").read_text()
    assert "<td>&lt;img src=x onerror=alert(1)&gt;</td>" in html and "<img src=x" not in html


def test_table_decimals_are_shortened_and_text_is_kept(make_run, tmp_path: Path) -> None:
    run_dir = make_run("r", n=6)
    (run_dir / "t.csv").write_text("a,b,c,d\n0.6236859450786373,12,e.g. text,1.5e-07\n", encoding="utf-8")
    assert report_main([str(run_dir), "--out", str(tmp_path / "out")]) == 0
    html = (tmp_path / "out" / "report.html").read_text()
    assert "<td>0.6237</td><td>12</td><td>e.g. text</td><td>1.5e-07</td>" in html
