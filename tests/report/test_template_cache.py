"""Compiled report templates are cached under $RAI_HARNESS_HOME; an unusable cache is only a miss."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.report.render import render_page


def render(monkeypatch: pytest.MonkeyPatch, home: Path) -> str:
    monkeypatch.setenv("RAI_HARNESS_HOME", str(home))
    return render_page("script.js.j2")


def test_templates_compile_once_into_the_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = render(monkeypatch, tmp_path / "home")
    stored = sorted((tmp_path / "home" / "templates").glob("*/__jinja2_*.cache"))
    assert stored, "compiled templates were not stored"
    inodes = [p.stat().st_ino for p in stored]  # jinja2 writes a new file and renames it over the old
    assert render(monkeypatch, tmp_path / "home") == first
    assert [p.stat().st_ino for p in stored] == inodes  # loaded, not compiled and written again


def test_cache_is_separate_per_environment_options(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from harness.report import render as render_module

    render(monkeypatch, tmp_path / "home")
    monkeypatch.setitem(render_module.ENVIRONMENT_OPTIONS, "autoescape", False)
    render(monkeypatch, tmp_path / "home")
    assert len(list((tmp_path / "home" / "templates").iterdir())) == 2


def test_a_home_that_is_not_a_directory_still_renders(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = render(monkeypatch, tmp_path / "home")
    blocked = tmp_path / "file"
    blocked.write_text("")
    assert render(monkeypatch, blocked) == expected
