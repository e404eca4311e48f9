"""Secrets stay out of the configuration, and known secrets are redacted before any cut."""

from __future__ import annotations

import pytest

from harness.errors import ConfigError
from harness.secrets import Redactor, check_config, config_problem, strip_url_logins


@pytest.mark.parametrize(
    ("config", "key"),
    [
        ({"model": {"base_url": "https://u:p4ss@gw.example/v1"}}, "model.base_url holds a URL"),
        ({"model": {"api_key_env": "sk-proj-abc"}}, "model.api_key_env must name"),
        ({"model": {"api_key_env": "a1b2c3d4e5f6a7b8c9d0"}}, "model.api_key_env must name"),
        ({"model": {"extra_body": {"api_key": "abc"}}}, "model.extra_body.api_key looks like a secret"),
        ({"scenario": {"hf_token": "hf_abc"}}, "scenario.hf_token looks like a secret"),
        ({"suite": {"scenarios": {"x": {"urls": ["http://a:b@h"]}}}}, "suite.scenarios.x.urls[0] holds"),
    ],
)
def test_secrets_in_the_configuration_are_refused_naming_the_key_not_the_value(config, key) -> None:
    with pytest.raises(ConfigError) as caught:
        check_config(config)
    assert str(caught.value).startswith(key)
    assert not any(secret in str(caught.value) for secret in ("p4ss", "sk-proj-abc", "a1b2c3", "hf_abc"))


def test_ordinary_settings_are_not_secrets() -> None:
    config = {
        "model": {
            "base_url": "http://127.0.0.1:8000/v1",
            "api_key_env": "OPENAI_API_KEY",
            "api_key_header": "Authorization",
            "max_tokens_field": "max_tokens",
            "pad_token": "<eos>",
            "tokenizer": "gpt2",
            "tokens_per_minute": 1000,
        },
        "cache": {"path": "${oc.env:RAI_HARNESS_CACHE,results/.cache/responses.sqlite}"},
    }
    assert config_problem(config) is None


def test_redaction_comes_before_the_cut_and_url_logins_always_go() -> None:
    key = "sk-" + "abcdef0123456789" * 3
    assert Redactor([key]).cut("." * 190 + key, 200) == "." * 190 + "***"
    assert strip_url_logins("dir model.base_url=http:__u:pw@h") == "dir model.base_url=http:__u:pw@h"
    assert strip_url_logins("model.base_url=http://u:pw@h/v1") == "model.base_url=http://***@h/v1"


def test_the_run_directory_name_never_carries_a_url_login() -> None:
    from omegaconf import OmegaConf

    from harness.cli import _register_resolvers

    _register_resolvers()
    cfg = OmegaConf.create({"name": "${harness_dirname:'model.base_url=http://u:pw@h/v1,seed=1'}"})
    assert cfg.name == "model.base_url=http:__***@h_v1,seed=1"
