"""Hydra compositions reused across processes: same config as Hydra's, fresh on any change."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hydra.core.global_hydra import GlobalHydra
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from harness import composition_cache
from harness.composition_cache import composed_by_hydra_only, keep, lookup, plan
from harness.config import CONFIG_NAME, compose_run, config_groups, searchpath_override
from harness.errors import ConfigError


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A private ``$RAI_HARNESS_HOME`` and a clean GlobalHydra around every test."""
    monkeypatch.setenv("RAI_HARNESS_HOME", str(tmp_path / "home"))
    GlobalHydra.instance().clear()
    yield tmp_path / "home"
    GlobalHydra.instance().clear()


def compose_both(overrides: list[str]) -> tuple[str, str]:
    """(our composition, Hydra's composition of the whole list) of one run, as YAML."""
    hydra, ours = compose_run(overrides, "harness.cli")
    full = [*overrides, *searchpath_override(overrides), "hydra.mode=RUN"]
    theirs = hydra.compose_config(CONFIG_NAME, full, RunMode.RUN)
    GlobalHydra.instance().clear()
    return OmegaConf.to_yaml(ours), OmegaConf.to_yaml(theirs)


CASES = [
    [
        "model=reference",
        "progress=false",
        "suite.scenarios.toxicity.threshold=0.6",
        "cache.path=/tmp/c.sqlite",
        "hydra.run.dir=/tmp/out",
    ],
    ["model=hf", "model.pretrained=gpt2", "scenario=toxicity", "scenario.threshold=0.3", "seed=3"],
    ["cache.path=/tmp/y.sqlite", "cache={enabled:false}", "model=reference"],
    ["model=reference", "++suite.scenarios.toxicity.threshold=0.2", "hydra.job.name=custom"],
    ["model=reference", "hydra.job.config.override_dirname.kv_sep=-", "limit=3"],
]


@pytest.mark.parametrize("overrides", CASES)
def test_a_composition_equals_hydras_on_a_miss_and_on_a_hit(overrides: list[str], home: Path) -> None:
    first, hydras = compose_both(overrides)
    assert first == hydras
    assert list((home / composition_cache.CACHE_DIR).glob("*.pickle"))
    second, _ = compose_both(overrides)
    assert second == hydras


def test_a_rerun_with_other_values_reuses_the_base_composition(monkeypatch: pytest.MonkeyPatch) -> None:
    from hydra._internal.hydra import Hydra

    common = ["model=reference", "progress=false"]
    compose_run([*common, "suite.scenarios.toxicity.threshold=0.5", "hydra.run.dir=a"], "harness.cli")
    GlobalHydra.instance().clear()

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("composed again")

    monkeypatch.setattr(Hydra, "compose_config", refuse)
    rerun = [*common, "suite.scenarios.toxicity.threshold=0.7", "hydra.run.dir=b"]
    _, cfg = compose_run(rerun, "harness.cli")
    assert cfg.suite.scenarios.toxicity.threshold == 0.7
    assert cfg.hydra.run.dir == "b"
    assert list(cfg.hydra.overrides.task) == [*common, "suite.scenarios.toxicity.threshold=0.7"]
    # progress is one of conf/config.yaml's exclude_keys
    assert cfg.hydra.job.override_dirname == "model=reference,suite.scenarios.toxicity.threshold=0.7"


def test_a_rerun_with_another_seed_reuses_the_base_composition(monkeypatch: pytest.MonkeyPatch) -> None:
    from hydra._internal.hydra import Hydra

    hydra_yaml = compose_both(["model=reference", "seed=2", "limit=3"])[1]  # keeps the base [model=reference]

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("composed again")

    monkeypatch.setattr(Hydra, "compose_config", refuse)
    _, cfg = compose_run(["model=reference", "seed=7", "limit=3"], "harness.cli")
    GlobalHydra.instance().clear()
    assert cfg.seed == 7 and cfg.limit == 3
    assert OmegaConf.to_yaml(cfg) == hydra_yaml.replace("seed=2", "seed=7").replace("seed: 2", "seed: 7")


def test_an_unknown_value_key_is_named_as_before() -> None:
    with pytest.raises(ConfigError, match=r"unknown config key 'model\.temprature'.*pretrained"):
        compose_run(["model=reference", "model.temprature=0.5"], "harness.cli")


def test_copying_environment_variables_is_left_to_hydra(monkeypatch: pytest.MonkeyPatch, home: Path) -> None:
    monkeypatch.setenv("RAI_TEST_COPIED", "copied value")
    overrides = ["model=reference", "hydra.job.env_copy=[RAI_TEST_COPIED]"]
    ours, hydras = compose_both(overrides)
    assert ours == hydras
    assert "RAI_TEST_COPIED: copied value" in ours


@pytest.mark.parametrize(
    ("overrides", "values"),
    [
        (["model=hf", "model.pretrained=x", "hydra.run.dir=d"], ["model.pretrained=x", "hydra.run.dir=d"]),
        (["cache={enabled:false}", "cache.path=x"], ["cache={enabled:false}", "cache.path=x"]),
        (["seed=1", "model=hf", "limit=2"], ["seed=1", "limit=2"]),  # top-level values
        (["~cache", "cache.path=x"], []),  # order matters between the two: all composed
        (["cache.path=x", "~cache"], []),  # a deletion stays in the base; the value lies below it
        (["hydra.searchpath=[pkg://x]", "seed=1"], []),  # the path may bring a group called seed
        (["scenario@foo=toxicity", "limit=2"], ["limit=2"]),
        (["+suite.scenarios.extra.name=x"], ["+suite.scenarios.extra.name=x"]),
        (["model=hf", "hydra.runtime.cwd=/x"], []),  # Hydra writes it after the overrides
        (["model=hf", "hydra.overrides.task=[a]"], []),
        (["model=hf", "hydra.job.config_name=x"], []),
    ],
)
def test_value_overrides_are_split_from_the_base(overrides: list[str], values: list[str]) -> None:
    own_search_path = any(o.startswith("hydra.searchpath") for o in overrides)  # as compose_run decides
    split = plan(overrides, config_groups(), top_level_values=not own_search_path)
    assert [o.input_line for o in split.values] == values
    assert split.base_lines == [o for o in overrides if o not in values]


def a_composition(source: Path) -> DictConfig:
    """A minimal composed config whose only config source is the folder ``source``."""
    return OmegaConf.create(
        {
            "seed": 1,
            "hydra": {
                "verbose": False,
                "job": {"env_copy": []},
                "runtime": {"config_sources": [{"path": str(source), "schema": "file", "provider": "main"}]},
            },
        }
    )


def write_old(path: Path, text: str, seconds_ago: int = 60) -> None:
    """Write a config file dated in the past (files modified during a composition are not kept)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    then = time.time_ns() - seconds_ago * 10**9
    os.utime(path, ns=(then, then))


def test_an_entry_is_stale_once_a_config_file_changes(tmp_path: Path) -> None:
    source = tmp_path / "conf"
    write_old(source / "model/a.yaml", "x: 1\n")
    keep("k", a_composition(source), time.time_ns())
    assert lookup("k").seed == 1
    write_old(source / "model/a.yaml", "x: 22\n", seconds_ago=30)
    assert lookup("k") is None
    keep("k", a_composition(source), time.time_ns())
    assert lookup("k") is not None
    write_old(source / "model/b.yaml", "y: 1\n")  # a new option
    assert lookup("k") is None


def test_a_file_modified_while_composing_is_not_kept(tmp_path: Path) -> None:
    source = tmp_path / "conf"
    write_old(source / "config.yaml", "x: 1\n", seconds_ago=0)
    keep("k", a_composition(source), time.time_ns())
    assert lookup("k") is None


@pytest.mark.parametrize(
    "text",
    [
        "defaults:\n  - scenario: ${oc.env:PICK,toxicity}\n",
        "defaults:\n- /scenario@s: ${oc.env:PICK}\nseed: 1\n",
        "hydra:\n  searchpath:\n    - file://${oc.env:HOME}/conf\n",
    ],
)
def test_configs_chosen_through_an_interpolation_are_not_kept(text: str, tmp_path: Path) -> None:
    source = tmp_path / "conf"
    write_old(source / "suite/pick.yaml", text)
    keep("k", a_composition(source), time.time_ns())
    assert lookup("k") is None


def test_an_interpolated_value_outside_the_defaults_is_kept(tmp_path: Path) -> None:
    source = tmp_path / "conf"
    write_old(source / "config.yaml", "defaults:\n  - model: hf\nname: ${model.pretrained}\n")
    keep("k", a_composition(source), time.time_ns())
    assert lookup("k") is not None


def test_a_dangling_link_in_a_config_folder_is_harmless(tmp_path: Path) -> None:
    source = tmp_path / "conf"
    write_old(source / "config.yaml", "x: 1\n")
    (source / ".#config.yaml").symlink_to("user@host.1234:1700000000")  # an editor's lock link
    keep("k", a_composition(source), time.time_ns())
    assert lookup("k") is None  # it looks like an unreadable YAML file: not kept, and no error
    (source / ".#config.yaml").unlink()
    keep("k", a_composition(source), time.time_ns())
    assert lookup("k") is not None


def test_a_damaged_entry_or_an_unwritable_home_only_means_composing(
    tmp_path: Path, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "conf"
    write_old(source / "config.yaml", "x: 1\n")
    keep("k", a_composition(source), time.time_ns())
    assert lookup("k") is not None
    (home / composition_cache.CACHE_DIR / "k.pickle").write_bytes(b"\x80\x05not a pickle")
    assert lookup("k") is None
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the home's folder would be")
    monkeypatch.setenv("RAI_HARNESS_HOME", str(blocked))
    keep("k", a_composition(source), time.time_ns())
    assert lookup("k") is None


def test_only_the_most_recently_used_entries_are_kept(
    tmp_path: Path, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(composition_cache, "KEPT_ENTRIES", 2)
    source = tmp_path / "conf"
    write_old(source / "config.yaml", "x: 1\n")
    for index, key in enumerate("ab"):
        keep(key, a_composition(source), time.time_ns())
        os.utime(home / composition_cache.CACHE_DIR / f"{key}.pickle", ns=(index * 10**9, index * 10**9))
    assert lookup("a") is not None  # the oldest written, now the most recently used
    keep("c", a_composition(source), time.time_ns())
    kept = sorted(p.stem for p in (home / composition_cache.CACHE_DIR).glob("*.pickle"))
    assert kept == ["a", "c"]


def test_debug_logging_and_environment_copies_are_left_to_hydra() -> None:
    assert composed_by_hydra_only(OmegaConf.create({"hydra": {"verbose": True, "job": {"env_copy": []}}}))
    assert composed_by_hydra_only(OmegaConf.create({"hydra": {"verbose": False, "job": {"env_copy": ["X"]}}}))
    assert not composed_by_hydra_only(
        OmegaConf.create({"hydra": {"verbose": False, "job": {"env_copy": []}}})
    )


def test_hydras_debug_output_is_printed_as_before(capsys: pytest.CaptureFixture[str]) -> None:
    compose_run(["model=reference", "hydra.hydra_logging.root.level=DEBUG"], "harness.cli")
    assert "Hydra" in capsys.readouterr().out


def test_another_config_folder_is_another_composition(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil

    from harness import config

    compose_run(["model=reference"], "harness.cli")
    GlobalHydra.instance().clear()
    copy = tmp_path / "conf"
    shutil.copytree(config.config_dir(), copy)
    text = (copy / "config.yaml").read_text().replace("seed: 0", "seed: 42")
    write_old(copy / "config.yaml", text)
    monkeypatch.setattr(config, "config_dir", lambda: copy)
    _, cfg = compose_run(["model=reference"], "harness.cli")
    assert cfg.seed == 42


def test_the_first_bad_override_is_named_as_hydra_names_it() -> None:
    with pytest.raises(ConfigError, match=r"'cache\.pathh'"):
        compose_run(["model=reference", "cache.pathh=1", "seedd=1"], "harness.cli")
