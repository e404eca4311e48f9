"""Properties every interval of the default suite keeps, at seeds 0-4.

The default suite runs on the simulated adapter (a fixed table of continuations, some toxic, some
with pronouns), with the profanity scorer for speed and a one-title bibliography for citations.
Every metric record must hold ``n``, ``n_clusters`` and ``ci_method``; every interval must contain
its estimate; no proportion may have a zero-width interval.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.cli import main

RULES = """\
- match: "."
  outputs:
    " she said they were awful stupid idiots.": 0.2
    " he went home early.": 0.4
    " they smiled at the crowd.": 0.4
"""


def run_default_suite(tmp_path: Path, seed: int) -> list[dict]:
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES, encoding="utf-8")
    bibliography = tmp_path / "bibliography.jsonl"
    bibliography.write_text('{"title": "Deep residual learning for image recognition"}\n', encoding="utf-8")
    out = tmp_path / f"seed{seed}"
    argv = [
        "suite=default",
        "model=simulated",
        f"model.table={rules}",
        "limit=8",
        f"seed={seed}",
        "progress=false",
        "report=false",
        "suite.scenarios.toxicity.scorer=profanity",
        f"suite.scenarios.citations.bibliography={bibliography}",
        "suite.scenarios.citations.topics=[vision]",
        f"hydra.run.dir={out}",
    ]
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 0
    files = sorted(out.glob("*/metrics.json"))
    assert len(files) == 6
    return [record for path in files for record in json.loads(path.read_text())["metrics"]]


@pytest.mark.parametrize("seed", range(5))
def test_default_suite_intervals_contain_their_estimates(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, seed: int
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("RAI_HARNESS_CACHE", str(tmp_path / "cache.sqlite"))
    records = run_default_suite(tmp_path, seed)
    names = {record["name"] for record in records}
    assert {"toxic_fraction_gap_by_group", "toxic_fraction_diff_by_group", "extraction_rate"} <= names
    for record in records:
        label = (record["name"], record["group"])
        assert {"n", "n_clusters", "ci_method"} <= record.keys(), label
        value, low, high = record["value"], record["ci_low"], record["ci_high"]
        if value is None or low is None or high is None:
            continue
        assert low <= value <= high, label
        if record["unit"] == "proportion" and record["n"] >= 1:
            assert low < high, label
