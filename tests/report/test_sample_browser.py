"""The sample browser's per-run drawings: kept in the response cache, redrawn when the samples change."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.report import sample_browser
from harness.report.frames import load_runs
from harness.report.report import ReportOptions, write_report
from harness.store import ResponseCache


@pytest.fixture
def drawings(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The scenario of every run whose samples were drawn (rather than taken from the cache)."""
    drawn: list[str] = []
    draw = sample_browser.render_run_samples

    def counting(run, limit):  # type: ignore[no-untyped-def]
        drawn.append(run.path.name)
        return draw(run, limit)

    monkeypatch.setattr(sample_browser, "render_run_samples", counting)
    return drawn


@pytest.fixture
def cache(tmp_path: Path) -> Iterator[ResponseCache]:
    """A response cache, closed after the test."""
    opened = ResponseCache(tmp_path / "cache.sqlite")
    yield opened
    opened.close()


def _report(run_dirs: list[Path], out: Path, cache: ResponseCache | None, max_samples: int = 500) -> str:
    write_report(load_runs([str(d) for d in run_dirs]), out, ReportOptions(max_samples=max_samples), cache)
    return re.sub(r"generated [0-9-]+ [0-9:]+ UTC", "", (out / "report.html").read_text())


def test_a_cached_drawing_gives_the_same_report(
    make_run, tmp_path: Path, drawings: list[str], cache: ResponseCache
) -> None:
    runs = [make_run("a", n=20, xss=True), make_run("b", model="model-b", n=12)]
    uncached = _report(runs, tmp_path / "plain", None)
    first = _report(runs, tmp_path / "first", cache)
    assert drawings == ["a", "b", "a", "b"]
    second = _report(runs, tmp_path / "second", cache, max_samples=500)
    assert drawings == ["a", "b", "a", "b"], "the second report must take both drawings from the cache"
    assert second == first == uncached
    assert second.count('<article class="sample"') == 32
    assert "&lt;script&gt;window.__xss = 1&lt;/script&gt;" in second and "<script>window.__xss" not in second
    # The filters' choices come back with the drawing: group values and score names.
    assert (
        'data-key="group" data-value="a"' in second and '<option value="correct">correct</option>' in second
    )


def test_changed_samples_or_cap_are_drawn_again(
    make_run, tmp_path: Path, drawings: list[str], cache: ResponseCache
) -> None:
    run = make_run("a", n=20)
    _report([run], tmp_path / "first", cache)
    capped = _report([run], tmp_path / "capped", cache, max_samples=5)
    assert drawings == ["a", "a"] and capped.count('<article class="sample"') == 5
    assert "showing the first 5 of 20 instances" in capped
    samples = run / "samples.jsonl"
    lines = samples.read_text().splitlines(keepends=True)
    samples.write_text("".join(lines[:7]))
    edited = _report([run], tmp_path / "edited", cache)
    assert drawings == ["a", "a", "a"]
    assert edited.count('<article class="sample"') == 7


def test_without_a_cache_every_report_draws(make_run, tmp_path: Path, drawings: list[str]) -> None:
    run = make_run("a", n=6)
    _report([run], tmp_path / "one", None)
    _report([run], tmp_path / "two", None)
    assert drawings == ["a", "a"]


def test_same_samples_under_another_label_or_code_are_drawn_again(
    make_run, tmp_path: Path, drawings: list[str], cache: ResponseCache, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = make_run("a", model="model-a", n=8), make_run("b", model="model-b", n=8)
    assert (first / "samples.jsonl").read_bytes() == (second / "samples.jsonl").read_bytes()
    one = _report([first], tmp_path / "one", cache)
    other = _report([second], tmp_path / "other", cache)
    assert drawings == ["a", "b"]
    assert 'data-model="model-a"' in one and 'data-model="model-b"' in other and "model-a" not in other
    monkeypatch.setattr(sample_browser, "_drawing_code", lambda: "edited templates")
    _report([first], tmp_path / "edited", cache)
    assert drawings == ["a", "b", "a"]


def test_a_damaged_or_unwritable_cache_only_means_drawing_again(
    make_run, tmp_path: Path, drawings: list[str], cache: ResponseCache, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = make_run("a", n=6)
    expected = _report([run], tmp_path / "first", cache)
    with sqlite3.connect(tmp_path / "cache.sqlite") as connection:
        connection.execute("UPDATE report_samples SET value = 'not json'")
    assert _report([run], tmp_path / "damaged", cache) == expected
    with sqlite3.connect(tmp_path / "cache.sqlite") as connection:
        connection.execute("UPDATE report_samples SET value = '[1, 2]'")
    assert _report([run], tmp_path / "wrong shape", cache) == expected

    def locked(*args: object, **kwargs: object) -> None:
        raise sqlite3.OperationalError("database is locked")

    monkeypatch.setattr(cache, "put_report_samples", locked)
    monkeypatch.setattr(cache, "get_report_samples", lambda key: None)
    assert _report([run], tmp_path / "locked", cache) == expected
    assert drawings == ["a", "a", "a", "a"]
