"""Leaderboards: comparability splits, direction, rank intervals, ties and mean win rate."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from harness.errors import ConfigError
from harness.report.cli import leaderboard_main
from harness.report.comparability import ComparabilityError
from harness.report.frames import load_runs
from harness.report.leaderboard import build_leaderboard, parse_headlines


@pytest.fixture
def three_models(make_run, tmp_path: Path) -> Path:
    """Planted truth: 'strong' answers yes 95% of the time; 'twin-a' and 'twin-b' behave identically (60%)."""
    make_run("sweep/0/toy", model="strong", p_a=0.95, p_b=0.95, n=120)
    make_run("sweep/1/toy", model="twin-a", p_a=0.6, p_b=0.6, n=120)
    make_run("sweep/2/toy", model="twin-b", p_a=0.6, p_b=0.6, n=120)
    return tmp_path / "sweep"


def _entries(board):
    return {entry.label: entry for entry in board.entries}


def test_known_answer_ranking_with_tie_and_win_rate(three_models: Path) -> None:
    board = build_leaderboard(load_runs([three_models]), resamples=400).boards[0]
    assert board.headline.name == "accuracy" and board.headline.rank_method == "paired bootstrap"
    entries = _entries(board)
    strong, twin_a, twin_b = (entries[k].cells["accuracy"] for k in ("strong", "twin-a", "twin-b"))
    assert (strong.shown_rank, strong.rank_low, strong.rank_high, strong.tied) == (1, 1, 1, False)
    # Identical behaviour -> identical per-instance scores -> a statistical (and exact) tie.
    assert twin_a.shown_rank == twin_b.shown_rank == 2 and twin_a.tied and twin_b.tied
    assert entries["strong"].win_rate == 1.0
    assert entries["twin-a"].win_rate == entries["twin-b"].win_rate == 0.25
    assert board.entries[0].label == "strong"


def test_direction_is_respected(three_models: Path) -> None:
    # 'yes' is longer than 'no', so the model that says yes most has the worst (highest) length.
    board = build_leaderboard(load_runs([three_models]), headlines={"toy": "length"}, resamples=400).boards[0]
    length = {e.label: e.cells["length"] for e in board.entries}
    assert length["strong"].value > length["twin-a"].value
    assert length["strong"].shown_rank == 3 and length["twin-a"].shown_rank == 1
    assert board.entries[-1].label == "strong"


def test_overall_mean_win_rate(three_models: Path) -> None:
    overall = build_leaderboard(load_runs([three_models]), resamples=400).overall
    assert [(e.label, e.mean_win_rate, e.rank) for e in overall] == [
        ("strong", 1.0, 1),
        ("twin-a", 0.25, 2),
        ("twin-b", 0.25, 2),
    ]


def test_runs_scored_differently_are_split_and_the_key_is_named(make_run, tmp_path: Path) -> None:
    make_run("s/0", model="m1", scorer_version="1")
    make_run("s/1", model="m2", scorer_version="1")
    make_run("s/2", model="m3", scorer_version="2")
    runs = load_runs([tmp_path / "s"])
    leaderboard = build_leaderboard(runs, resamples=200)
    assert [b.board_id for b in leaderboard.boards] == ["toy [1]", "toy [2]"]
    assert [sorted(e.label for e in b.entries) for b in leaderboard.boards] == [["m1", "m2"], ["m3"]]
    assert len(leaderboard.notes) == 1
    note = leaderboard.notes[0]
    assert "differ in scorer identity" in note and "exact_match 1" in note and "exact_match 2" in note
    assert "dataset fingerprint" not in note
    with pytest.raises(ComparabilityError, match="scenario 'toy': runs differ in scorer identity"):
        build_leaderboard(runs, refuse_mismatch=True)


def test_different_datasets_are_split(make_run, tmp_path: Path) -> None:
    make_run("s/0", model="m1", n=40)
    make_run("s/1", model="m2", n=50)
    leaderboard = build_leaderboard(load_runs([tmp_path / "s"]), resamples=200)
    assert len(leaderboard.boards) == 2
    assert "differ in dataset fingerprint" in leaderboard.notes[0]


def test_headline_errors_name_the_choices(three_models: Path) -> None:
    runs = load_runs([three_models])
    with pytest.raises(ConfigError, match=r"no such ungrouped metric\. Metrics of toy: accuracy, length"):
        build_leaderboard(runs, headlines={"toy": "accurcy"})
    with pytest.raises(ConfigError, match="scenarios with no runs: nope"):
        build_leaderboard(runs, headlines={"nope": "x"})
    with pytest.raises(ConfigError, match="expected SCENARIO=METRIC"):
        parse_headlines(["toy"])


def test_ci_overlap_when_no_per_instance_scores(write_run, tmp_path: Path) -> None:
    def metric(value: float, low: float, high: float) -> dict:
        return {
            "name": "gap",
            "value": value,
            "ci_low": low,
            "ci_high": high,
            "n": 50,
            "n_errors": 0,
            "direction": "lower_is_better",
        }

    write_run("r/a", model="a", metrics=[metric(0.10, 0.05, 0.15)])
    write_run("r/b", model="b", metrics=[metric(0.12, 0.08, 0.16)])
    write_run("r/c", model="c", metrics=[metric(0.40, 0.30, 0.50)])
    board = build_leaderboard(load_runs([tmp_path / "r"])).boards[0]
    assert board.headline.rank_method == "CI overlap"
    cells = {e.label: e.cells["gap"] for e in board.entries}
    assert [(cells[k].shown_rank, cells[k].rank_low, cells[k].rank_high) for k in "abc"] == [
        (1, 1, 2),
        (1, 1, 2),
        (3, 3, 3),
    ]
    assert {e.label: e.win_rate for e in board.entries} == {"a": 0.75, "b": 0.75, "c": 0.0}


def test_unfinished_run_is_skipped_with_a_note(make_run, tmp_path: Path) -> None:
    make_run("s/0", model="m1")
    unfinished = make_run("s/1", model="m2")
    (unfinished / "metrics.json").unlink()
    leaderboard = build_leaderboard(load_runs([tmp_path / "s"]), resamples=200)
    assert [e.label for e in leaderboard.boards[0].entries] == ["m1"]
    assert "has no metrics.json" in leaderboard.notes[0]


def test_leaderboard_cli_writes_html_markdown_and_csv(three_models: Path, tmp_path: Path) -> None:
    out = tmp_path / "lb"
    assert leaderboard_main([str(three_models), "--out", str(out), "--resamples", "300"]) == 0
    html = (out / "leaderboard.html").read_text()
    assert 'class="sortable board"' in html and "twin-b" in html
    markdown = (out / "leaderboard.md").read_text()
    assert "| 1 | strong | 1.000 | 1 | 1 |" in markdown
    assert "| 2 (tied) | twin-a | 0.250 |" in markdown
    table = pd.read_csv(out / "leaderboard.csv")
    headline = table[(table.board == "toy") & table.headline.astype(bool)]
    assert headline.set_index("model")["rank"].to_dict() == {"strong": 1, "twin-a": 2, "twin-b": 2}
    overall = table[table.board == "overall"].set_index("model")["value"].to_dict()
    assert overall == {"strong": 1.0, "twin-a": 0.25, "twin-b": 0.25}
    assert pd.read_parquet(out / "leaderboard.parquet").shape == table.shape


def test_leaderboard_cli_refuses_mismatch_with_exit_2(make_run, tmp_path: Path, capsys) -> None:
    make_run("s/0", model="m1", scorer_version="1")
    make_run("s/1", model="m2", scorer_version="2")
    code = leaderboard_main([str(tmp_path / "s"), "--refuse-mismatch", "--out", str(tmp_path / "o")])
    assert code == 2
    assert "differ in scorer identity" in capsys.readouterr().err
    assert leaderboard_main([str(tmp_path / "missing")]) == 2
