"""The HTML report and leaderboard in a real browser (Debian's headless Chromium via playwright).

Checks: no console errors; sortable columns sort; the sample filters filter; model outputs,
metadata and model names carrying ``<script>`` / ``onerror=`` payloads are shown as text and
never run (each payload would set ``window.__xss``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from harness.report.cli import leaderboard_main, report_main

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
XSS_OUTPUT = '<script>window.__xss = 1</script><img src=x onerror="window.__xss = 2">yes'
XSS_METADATA = '<img src=y onerror="window.__xss = 3">'
XSS_MODEL = '<img src=z onerror="window.__xss = 4">evil-model'


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One headless Chromium for the module."""
    if not CHROMIUM.exists():
        pytest.fail(
            "the browser tests need Debian's chromium at /usr/bin/chromium: apt-get install -y chromium"
        )
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield instance
        instance.close()


def open_page(browser: Browser, path: Path) -> tuple[Page, list[str]]:
    """Open a file and collect console errors and uncaught page errors."""
    page = browser.new_page(viewport={"width": 1300, "height": 900})
    problems: list[str] = []
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.goto(path.as_uri())
    page.wait_for_load_state("load")
    return page, problems


@pytest.fixture
def sweep(make_run, tmp_path: Path) -> Path:
    """Two models: one with a hostile name whose outputs and metadata carry payloads, one plain."""
    make_run("sweep/0/toy", model=XSS_MODEL, p_a=0.9, p_b=0.8, xss=True, n=40)
    make_run("sweep/1/toy", model="plain-model", p_a=0.5, p_b=0.4, n=40, error_rate=0.1)
    return tmp_path / "sweep"


@pytest.fixture
def report_page(browser: Browser, sweep: Path) -> Iterator[tuple[Page, list[str]]]:
    assert report_main([str(sweep), "--resamples", "200"]) == 0
    page, problems = open_page(browser, sweep / "report" / "report.html")
    yield page, problems
    page.close()


def column(page: Page, table: str, index: int) -> list[str]:
    """The sort keys (data-sort, else text) of one column of a table, in display order."""
    return page.eval_on_selector_all(
        f"{table} tbody tr",
        "(rows, i) => rows.map(r => r.cells[i].getAttribute('data-sort') ?? r.cells[i].textContent.trim())",
        index,
    )


def test_report_renders_and_payloads_stay_text(report_page: tuple[Page, list[str]]) -> None:
    page, problems = report_page
    assert problems == []
    assert page.evaluate("window.__xss") is None
    outputs = page.locator("pre.model-output").all_text_contents()
    assert XSS_OUTPUT in outputs
    body = page.evaluate("document.body.textContent")
    assert f"note={XSS_METADATA}" in body and XSS_MODEL in body
    assert page.evaluate("document.querySelectorAll('img, script').length") == 1
    assert page.locator("h2", has_text="Leaderboard").count() == 1


def test_report_columns_sort(report_page: tuple[Page, list[str]]) -> None:
    page, _ = report_page
    header = page.locator("#summary-table th", has_text="Value")
    header.click()
    ascending = [float(v) for v in column(page, "#summary-table", 3)]
    assert ascending == sorted(ascending) and header.get_attribute("aria-sort") == "ascending"
    header.click()
    descending = [float(v) for v in column(page, "#summary-table", 3)]
    assert descending == sorted(ascending, reverse=True) and header.get_attribute("aria-sort") == "descending"
    page.locator("#summary-table th", has_text="Model").click()
    labels = column(page, "#summary-table", 0)
    assert labels == sorted(labels, key=str.lower)


def _visible(page: Page, attribute: str) -> list[str]:
    return page.eval_on_selector_all(
        "#sample-browser article.sample:not([hidden])", f"els => els.map(e => e.getAttribute('{attribute}'))"
    )


def test_sample_browser_filters(report_page: tuple[Page, list[str]]) -> None:
    page, _ = report_page
    assert len(_visible(page, "data-model")) == 20
    page.click("#f-more")
    assert len(_visible(page, "data-model")) == 40
    assert "Showing 40 of 80 matching samples" in page.text_content("#f-count")
    page.select_option("#f-model", "plain-model")
    assert set(_visible(page, "data-model")) == {"plain-model"}
    page.select_option("#f-model", XSS_MODEL)
    assert set(_visible(page, "data-model")) == {XSS_MODEL}
    page.select_option("#f-model", "")
    page.select_option("#f-status", "error")
    errored = _visible(page, "data-status")
    assert errored and set(errored) == {"error"}
    page.select_option("#f-status", "")
    page.select_option("#f-group", label="group = b")
    page.select_option("#f-score", "correct")
    page.fill("#f-min", "1")
    metas = [json.loads(m) for m in _visible(page, "data-meta")]
    scores = [json.loads(s) for s in _visible(page, "data-scores")]
    assert metas and all(m["group"] == "b" for m in metas) and all(s["correct"] == 1 for s in scores)
    page.fill("#f-min", "")
    page.select_option("#f-group", "")
    page.select_option("#f-score", "")
    page.fill("#f-text", "question 7 ")
    assert sorted(page.locator("#sample-browser article.sample:not([hidden]) .sid").all_text_contents()) == [
        "q007",
        "q007",
    ]
    assert "Showing 2 of 2 matching samples" in page.text_content("#f-count")


def test_leaderboard_page_renders_and_sorts(browser: Browser, sweep: Path) -> None:
    assert leaderboard_main([str(sweep), "--resamples", "200"]) == 0
    page, problems = open_page(browser, sweep / "leaderboard" / "leaderboard.html")
    assert problems == []
    assert page.evaluate("window.__xss") is None
    assert XSS_MODEL in page.locator("table.board tbody").text_content()
    header = page.locator("table.board th", has_text="Win rate")
    header.click()
    ascending = [float(v) for v in column(page, "table.board", 3)]
    assert ascending == sorted(ascending) == [0.0, 1.0]
    header.click()
    assert [float(v) for v in column(page, "table.board", 3)] == [1.0, 0.0]
    page.close()
