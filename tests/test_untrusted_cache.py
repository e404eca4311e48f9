"""A tampered response cache cannot write outside the run, inject HTML or formulas, or crash a run."""

from __future__ import annotations

import json
import math
import sqlite3
import subprocess
import sys
from pathlib import Path

from harness.store import ResponseCache
from harness.untrusted import completion_from_cache, score_from_cache

REPO = Path(__file__).resolve().parents[1]
PAYLOAD = "<script>window.__xss = 1</script>"
FORMULA = '=HYPERLINK("http://evil.example","x")'
INVALID_ROWS = [
    json.dumps({"texts": "../../../escaped", "path": "/tmp/evil"}),  # unknown field, wrong type
    json.dumps({"texts": [1, 2]}),
    json.dumps({"logprobs": ["nan"], "texts": []}),
    json.dumps({"texts": ["x"], "error": "boom"}),
    "[1, 2]",
    "not json",
]


def harness(tmp_path: Path, run_dir: Path) -> subprocess.CompletedProcess[str]:
    command = [
        sys.executable, "-m", "harness", "model=simulated", "scenario=pronoun_fairness",
        "scenario.protocol=generative", "scenario.samples=2", "limit=12", "progress=false",
        f"cache.path={tmp_path / 'cache.sqlite'}", f"hydra.run.dir={run_dir}",
    ]  # fmt: skip
    env = {
        "PYTHONPATH": str(REPO),
        "HF_HUB_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
        "PATH": "/usr/bin:/bin",
    }
    return subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)


def test_a_tampered_cache_is_read_as_untrusted_text(tmp_path: Path) -> None:
    first = harness(tmp_path, tmp_path / "first")
    assert first.returncode == 0, first.stderr[-2000:]
    with sqlite3.connect(tmp_path / "cache.sqlite") as db:
        keys = [row[0] for row in db.execute("SELECT key FROM responses ORDER BY key")]
        assert len(keys) > len(INVALID_ROWS)
        for index, key in enumerate(keys):
            value = (
                INVALID_ROWS[index]
                if index < len(INVALID_ROWS)
                else json.dumps({"texts": [PAYLOAD, FORMULA]})
            )
            db.execute("UPDATE responses SET value = ? WHERE key = ?", (value, key))
        db.execute("UPDATE scores SET value = 'not a number'")
    before = {p for p in tmp_path.rglob("*") if "second" not in p.parts}

    second = harness(tmp_path, tmp_path / "second")

    assert second.returncode == 0 and "Traceback" not in second.stderr, second.stderr[-2000:]
    after = {
        p for p in tmp_path.rglob("*") if "second" not in p.parts and not p.name.startswith("cache.sqlite")
    }
    assert after <= before  # nothing was written outside the new run directory (and the cache)
    run = tmp_path / "second" / "pronoun_fairness"
    samples = [json.loads(line) for line in (run / "samples.jsonl").read_text().splitlines()]
    texts = [t for record in samples for output in record["outputs"] for t in output["texts"]]
    assert PAYLOAD in texts  # a well-formed row is an answer (the cache cannot be authenticated) ...
    assert "../../../escaped" not in json.dumps(samples)  # ... a malformed one is asked again
    html = (tmp_path / "second" / "report" / "report.html").read_text()
    assert "<script>window.__xss" not in html and "&lt;script&gt;window.__xss = 1&lt;/script&gt;" in html
    csv_text = (tmp_path / "second" / "report" / "samples.csv").read_text()
    assert FORMULA.replace('"', '""') not in csv_text.replace("'" + FORMULA.replace('"', '""'), "")


def test_only_well_formed_rows_become_completions_or_scores(tmp_path: Path) -> None:
    assert [completion_from_cache(row) for row in INVALID_ROWS] == [None] * len(INVALID_ROWS)
    good = completion_from_cache(
        '{"texts": [], "logprobs": [-1.5, -Infinity], "token_counts": [2, 1], "error": null}'
    )
    assert good is not None and good.logprobs == [-1.5, -math.inf] and good.token_counts == [2, 1]
    assert [score_from_cache(v) for v in ("0.25", 0.5, "nan", "inf", "x", True, None)] == [
        0.25, 0.5, None, None, None, None, None,
    ]  # fmt: skip
    cache = ResponseCache(tmp_path / "c.sqlite")
    cache._conn.execute("INSERT INTO responses VALUES ('k', '{\"texts\": 5}', 0)")
    cache._conn.execute("INSERT INTO scores VALUES ('s', 'abc', 0)")
    assert cache.get_many(["k"]) == {} and cache.get_scores(["s"]) == {}
    cache.close()
