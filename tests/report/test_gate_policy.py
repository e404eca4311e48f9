"""Gate policies: validation messages, the shipped release policy, loading by name or file."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.config import compose
from harness.errors import ConfigError
from harness.gate import load_policy_file, parse_policy


def _policy(**rule: object) -> dict:
    return {"name": "p", "rules": [{"metric": "accuracy", "threshold": 0.5, **rule}]}


def test_release_policy_is_valid_and_composes_with_hydra() -> None:
    policy = parse_policy(load_policy_file("release"))
    assert policy.settings.name == "release"
    assert {r.scenario for r in policy.rules} == {
        "toxicity",
        "pronoun_fairness",
        "citations",
        "regurgitation",
    }
    assert all(r.threshold is not None for r in policy.rules)
    composed = compose(["gate=release"]).gate
    from omegaconf import OmegaConf

    assert parse_policy(OmegaConf.to_container(composed, resolve=True)).rules == policy.rules


def test_misspelled_key_names_the_rule_and_suggests_the_fix() -> None:
    with pytest.raises(
        ConfigError, match=r"unknown config key 'gate\.rules\[0\]\.treshold'.*'gate\.rules\[0\]\.threshold'"
    ):
        parse_policy({"rules": [{"metric": "accuracy", "treshold": 0.5}]})


@pytest.mark.parametrize(
    ("policy", "message"),
    [
        ({"rules": []}, r"gate\.rules is empty"),
        ({"rules": [{"threshold": 0.5}]}, r"gate\.rules\[0\]\.metric is missing"),
        (
            {"rules": [{"metric": "m"}]},
            r"gate\.rules\[0\]: give a threshold, a non_inferiority_margin, or both",
        ),
        (
            _policy(direction="up"),
            r"gate\.rules\[0\]\.direction must be one of higher_is_better, lower_is_better",
        ),
        (_policy(non_inferiority_margin=-0.1), r"non_inferiority_margin must be >= 0"),
        (
            {"rules": [{"metric": "m", "threshold": 1}, {"metric": "m", "threshold": 2}]},
            r"gate\.rules\[1\]\.id 'm' is used twice",
        ),
        ({**_policy(), "baseline": {"alpha": 0.7}}, r"gate\.baseline\.alpha must be in \(0, 0\.5\)"),
        (
            {"baseline": {"resamples": 100}, "rules": [{"metric": "m", "non_inferiority_margin": 0.1}]},
            r"gate\.baseline\.resamples': Key 'resamples' not in 'BaselineSettings'",
        ),
    ],
)
def test_invalid_policies_are_refused_with_the_key(policy: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_policy(policy)


def test_rule_ids_default_to_scenario_metric_and_group() -> None:
    policy = parse_policy(
        {"rules": [{"scenario": "toy", "metric": "accuracy", "group": {"group": "b"}, "threshold": 0.5}]}
    )
    assert policy.rules[0].id == "toy.accuracy[group=b]"


def test_unknown_policy_name_lists_the_options(tmp_path: Path) -> None:
    with pytest.raises(
        ConfigError, match=r"gate policy 'relase' is neither a file nor one of conf/gate/: .*release"
    ):
        load_policy_file("relase")


def test_malformed_policy_file_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text("name: x\nrules:\n  - metric: [unclosed\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"policy\.yaml:\d+: malformed YAML"):
        load_policy_file(str(path))
    path.write_text("- just a list\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="must be a YAML mapping"):
        load_policy_file(str(path))
