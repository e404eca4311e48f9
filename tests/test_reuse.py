"""Reuse of finished aggregations: unchanged samples give back stored metrics and artifacts."""

from __future__ import annotations

import importlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from harness import reuse
from harness.adapters.simulated import SimulatedAdapter, SimulatedParams
from harness.config import HarnessSettings
from harness.evaluate import ScenarioRun, run_scenario
from harness.scenario import ScenarioContext
from harness.store import ResponseCache
from harness.types import Completion, Instance, MetricValue, to_jsonable
from tests.helpers import CoinParams, CoinScenario, coin_rules


class ChartingCoin(CoinScenario):
    """The coin scenario, counting its aggregations and writing one artifact into a subfolder."""

    aggregations = 0
    scored = 0

    def score(self, instance: Instance, outputs: Sequence[Completion]) -> dict[str, Any]:
        """The default score, counted."""
        type(self).scored += 1
        return super().score(instance, outputs)

    def aggregate(self, frame: pd.DataFrame) -> list[MetricValue]:
        """The default metrics, counted."""
        type(self).aggregations += 1
        return super().aggregate(frame)

    def write_artifacts(self, frame: pd.DataFrame, metrics: list[MetricValue], run_dir: Path) -> list[Path]:
        """A small binary file standing in for a chart."""
        path = run_dir / "charts" / "heads.bin"
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(bytes(range(256)) + f"{metrics[0].value}".encode())
        return [path]


def _run(run_dir: Path, cache: ResponseCache | None, n: int = 40, p_heads: float = 0.5, seed: int = 0):
    adapter = SimulatedAdapter(SimulatedParams(rules=coin_rules(p_heads)))
    settings = HarnessSettings(progress=False, bootstrap_resamples=200, seed=seed)
    context = ScenarioContext(seed=seed, capabilities=adapter.capabilities(), bootstrap_resamples=200)
    scenario = ChartingCoin(CoinParams(n=n, k=5), context)
    return run_scenario(ScenarioRun(scenario, adapter, run_dir, {}, settings), cache)


def _manifest(run_dir: Path) -> dict:
    return json.loads((run_dir / "run.json").read_text())


@pytest.fixture(autouse=True)
def _reset_count() -> None:
    ChartingCoin.aggregations = 0
    ChartingCoin.scored = 0


def test_unchanged_records_get_their_scores_back(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path / "cache.sqlite")
    _run(tmp_path / "first", cache)
    _run(tmp_path / "second", cache)
    assert ChartingCoin.scored == 40, "the second run must not score the same outputs again"
    assert (tmp_path / "second/samples.jsonl").read_bytes() == (tmp_path / "first/samples.jsonl").read_bytes()
    assert _manifest(tmp_path / "first")["counts"]["windows_scores_reused"] == 0
    assert _manifest(tmp_path / "second")["counts"]["windows_scores_reused"] == 1
    _run(tmp_path / "uncached", None)
    assert ChartingCoin.scored == 80, "without a cache nothing is remembered"


class FlakyCoin(ChartingCoin):
    """The coin scenario whose scorer fails on one instance."""

    def score(self, instance: Instance, outputs: Sequence[Completion]) -> dict[str, Any]:
        """Fails on c3, else the counted default."""
        if instance.id == "c3":
            raise ValueError("scorer unavailable")
        return super().score(instance, outputs)


def test_a_window_with_a_failed_score_is_scored_again(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path / "cache.sqlite")
    adapter = SimulatedAdapter(SimulatedParams(rules=coin_rules(0.5)))
    settings = HarnessSettings(progress=False, bootstrap_resamples=200)
    context = ScenarioContext(seed=0, capabilities=adapter.capabilities(), bootstrap_resamples=200)
    for name in ("first", "second"):
        scenario = FlakyCoin(CoinParams(n=10, k=5), context)
        run_scenario(ScenarioRun(scenario, adapter, tmp_path / name, {}, settings), cache)
        assert _manifest(tmp_path / name)["counts"]["windows_scores_reused"] == 0
    lines = (tmp_path / "second/samples.jsonl").read_text().splitlines()
    errors = [json.loads(line)["error"] for line in lines]
    assert errors.count("scoring failed: ValueError: scorer unavailable") == 1


def test_scoring_key_follows_the_scenario_parameters_seed_and_model() -> None:
    manifest = {"scenario": {"name": "coin", "params": {"n": 40}}, "seed": 0, "packages": {"x": "1"}}
    key = reuse.scoring_key(manifest, "model-a", ChartingCoin)
    assert reuse.scoring_key(dict(manifest), "model-a", ChartingCoin) == key
    other_params = {**manifest, "scenario": {"name": "coin", "params": {"n": 41}}}
    assert reuse.scoring_key(other_params, "model-a", ChartingCoin) != key
    assert reuse.scoring_key({**manifest, "seed": 1}, "model-a", ChartingCoin) != key
    assert reuse.scoring_key({**manifest, "packages": {"x": "2"}}, "model-a", ChartingCoin) != key
    assert reuse.scoring_key(manifest, "model-b", ChartingCoin) != key
    assert reuse.scoring_key(manifest, "model-a", FlakyCoin) != key


def test_unchanged_samples_reuse_metrics_and_artifacts(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path / "cache.sqlite")
    first = _run(tmp_path / "first", cache)
    second = _run(tmp_path / "second", cache)
    assert ChartingCoin.aggregations == 1, "the second run must not recompute its metrics"
    for written in ("metrics.json", "charts/heads.bin"):
        assert (tmp_path / "second" / written).read_bytes() == (tmp_path / "first" / written).read_bytes()
    assert second.metrics == [MetricValue(**m) for m in json.loads(json.dumps(to_jsonable(first.metrics)))]
    assert second.n_instances == first.n_instances == 40
    assert _manifest(tmp_path / "first")["aggregation"]["reused"] is False
    aggregation = _manifest(tmp_path / "second")["aggregation"]
    assert aggregation == {"key": _manifest(tmp_path / "first")["aggregation"]["key"], "reused": True}


def test_different_samples_or_seed_recompute(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path / "cache.sqlite")
    _run(tmp_path / "a", cache, n=40)
    _run(tmp_path / "b", cache, n=30)  # other instances: other samples
    _run(tmp_path / "c", cache, n=40, seed=1)  # other seed: other bootstrap draws
    assert ChartingCoin.aggregations == 3
    keys = {_manifest(tmp_path / d)["aggregation"]["key"] for d in "abc"}
    assert len(keys) == 3


def test_edited_samples_are_never_served_stale_metrics(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path / "cache.sqlite")
    _run(tmp_path / "a", cache)
    samples = tmp_path / "a" / "samples.jsonl"
    records = [json.loads(line) for line in samples.read_text().splitlines()]
    records[0]["scores"]["heads"] = 1.0 - records[0]["scores"]["heads"]
    key_before = _manifest(tmp_path / "a")["aggregation"]["key"]
    samples.write_text("".join(json.dumps(r) + "\n" for r in records))
    _run(tmp_path / "a", cache)  # resumes the completed run: recomputes from the edited samples
    assert ChartingCoin.aggregations == 2
    assert _manifest(tmp_path / "a")["aggregation"]["key"] != key_before


def test_without_a_cache_nothing_is_stored_or_reused(tmp_path: Path) -> None:
    _run(tmp_path / "a", None)
    _run(tmp_path / "b", None)
    assert ChartingCoin.aggregations == 2
    assert _manifest(tmp_path / "b")["aggregation"] == {"key": None, "reused": False}


def _write_sources(root: Path, files: dict[str, str]) -> None:
    """Write plugin source files below ``root`` (folders created as needed)."""
    for relative, text in files.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_text(text)


def _fingerprint_after(root: Path, files: dict[str, str], scenario_class: type) -> str:
    """The scenario's code fingerprint after writing ``files`` (the per-process digest memo cleared)."""
    _write_sources(root, files)
    reuse._source_digest.cache_clear()
    return reuse.code_fingerprint(scenario_class)


def _plugin_class(
    root: Path, monkeypatch: pytest.MonkeyPatch, files: dict[str, str], module: str, name: str
) -> type:
    """Write a plugin's sources below ``root``, put ``root`` on the path and import ``module.name``."""
    _write_sources(root, files)
    monkeypatch.syspath_prepend(str(root))
    return getattr(importlib.import_module(module), name)


def test_code_fingerprint_follows_the_scenario_source(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = {"myplugin/__init__.py": "", "myplugin/scenario.py": "class Mine:\n    VALUE = 1\n"}
    mine = _plugin_class(tmp_path, monkeypatch, files, "myplugin.scenario", "Mine")
    before = reuse.code_fingerprint(mine)
    edited = _fingerprint_after(tmp_path, {"myplugin/scenario.py": "class Mine:\n    VALUE = 2\n"}, mine)
    assert edited != before
    helpers = {"myplugin/helpers/__init__.py": "WEIGHT = 1\n"}
    assert _fingerprint_after(tmp_path, helpers, mine) != edited, "subpackages count"


def test_a_single_module_plugin_counts_only_its_own_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = {"loneplugin.py": "class Lone:\n    VALUE = 1\n"}
    lone = _plugin_class(tmp_path, monkeypatch, files, "loneplugin", "Lone")
    before = reuse.code_fingerprint(lone)
    # another project installed beside it
    assert _fingerprint_after(tmp_path, {"unrelated.py": "X = 1\n"}, lone) == before
    assert _fingerprint_after(tmp_path, {"loneplugin.py": "class Lone:\n    VALUE = 2\n"}, lone) != before


def test_a_namespace_package_plugin_counts_its_whole_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # PEP 420: no __init__.py
    files = {"nsplugin/scen.py": "class Spaced:\n    VALUE = 1\n", "nsplugin/helper.py": "W = 1\n"}
    spaced = _plugin_class(tmp_path, monkeypatch, files, "nsplugin.scen", "Spaced")
    before = reuse.code_fingerprint(spaced)
    assert _fingerprint_after(tmp_path, {"nsplugin/helper.py": "W = 2\n"}, spaced) != before


def test_artifacts_outside_the_run_directory_are_not_stored(tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere.png"
    outside.write_bytes(b"png")
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    assert reuse.pack("{}", [outside], run_dir) is None
    inside = run_dir / "chart.png"
    inside.write_bytes(b"png")
    packed = reuse.pack("{}", [inside], run_dir)
    assert packed is not None
    restored = tmp_path / "restored"
    assert reuse.unpack_artifacts(packed, restored) == [restored / "chart.png"]
    assert (restored / "chart.png").read_bytes() == b"png"


def test_clearing_the_cache_forgets_aggregations(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path / "cache.sqlite")
    _run(tmp_path / "a", cache)
    cache.clear()
    _run(tmp_path / "b", cache)
    assert ChartingCoin.aggregations == 2
