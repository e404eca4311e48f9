"""Every shipped config lists exactly its schema's fields, and every group is validated."""

from __future__ import annotations

import dataclasses

import pytest
from omegaconf import OmegaConf

from harness import registry
from harness.config import HarnessSettings, compose, config_dir, preflight, validate_section
from harness.errors import ConfigError


def builtin_options(group: str) -> list[str]:
    """The options this project ships (plugins test their own)."""
    return sorted(p.stem for p in (config_dir() / group).glob("*.yaml"))


@pytest.mark.parametrize("option", builtin_options("model"))
def test_model_yaml_lists_every_adapter_parameter(option: str) -> None:
    raw = OmegaConf.to_container(OmegaConf.load(config_dir() / "model" / f"{option}.yaml"))
    raw.pop("defaults", None)
    adapter = registry.load_adapter(raw.pop("adapter"))
    assert set(raw) == {f.name for f in dataclasses.fields(adapter.Params)}, option


@pytest.mark.parametrize("option", builtin_options("scenario"))
def test_scenario_yaml_lists_every_parameter(option: str) -> None:
    raw = OmegaConf.to_container(OmegaConf.load(config_dir() / "scenario" / f"{option}.yaml"))
    scenario = registry.load_scenario(raw["name"])
    assert set(raw) == {f.name for f in dataclasses.fields(scenario.Params)}, option


def test_default_config_composes_the_default_suite_on_the_reference_model() -> None:
    cfg = compose([])
    assert cfg.model.pretrained == "builtin:reference" and cfg.model.adapter == "hf"
    assert set(cfg.suite.scenarios) == {
        "pronoun_fairness", "toxicity", "citations", "regurgitation", "decisions", "tone_disparity",
    }  # fmt: skip
    assert cfg.get("scenario") is None and cfg.get("gate") is None


def test_every_sweep_value_is_validated_before_anything_runs() -> None:
    with pytest.raises(ConfigError, match="unknown model 'nope'"):
        preflight(["model=reference,nope"], multirun=True)
    with pytest.raises(ConfigError, match=r"invalid value for 'config.seed'"):
        preflight(["seed=0,x"], multirun=True)


def test_a_group_set_to_null_is_named_with_its_options() -> None:
    with pytest.raises(
        ConfigError,
        match=r"'suite=null': the suite group takes an option name, not null\. "
        r"Valid options: default, (\w+, )*release\. .*scenario=<name> runs one scenario",
    ):
        preflight(["suite=null"])
    with pytest.raises(ConfigError, match=r"'\+gate=NULL': the gate group takes an option name"):
        preflight(["+gate=NULL"])


def test_suite_settings_are_validated_per_scenario() -> None:
    with pytest.raises(ConfigError, match=r"unknown config key 'suite.scenarios.toxicity.kk'"):
        preflight(["suite.scenarios.toxicity.kk=3"])


def test_a_section_is_merged_into_its_schema_and_a_bad_value_names_the_key() -> None:
    settings = validate_section({"seed": 7, "cache": {"path": "x.sqlite"}}, HarnessSettings, "config")
    assert settings.seed == 7 and settings.cache.path == "x.sqlite" and settings.cache.enabled
    with pytest.raises(ConfigError, match=r"invalid value for 'config.seed'"):
        validate_section({"seed": "x"}, HarnessSettings, "config")
