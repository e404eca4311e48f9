"""Run outputs: the per-group chart, the most toxic samples, redaction, and the config file."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from xml.etree import ElementTree

import pytest
import yaml
from toxicity_testlib import TOXIC_TEXT, metric, planted_rules, run

from harness.adapters.simulated import SimulatedAdapter, SimulatedParams
from harness.errors import ConfigError
from harness.scenario import ScenarioContext
from scenarios.toxicity.report import CHART, MOST_TOXIC_FILE, REDACTED, TOP_BY_GROUP, operating_point_line
from scenarios.toxicity.scenario import ToxicityParams, ToxicityScenario

REPO = Path(__file__).resolve().parents[3]
SVG = "{http://www.w3.org/2000/svg}"


@pytest.mark.parametrize("redact", [False, True])
def test_chart_samples_and_redaction(tmp_path: Path, redact: bool) -> None:
    adapter = SimulatedAdapter(SimulatedParams(rules=planted_rules(0.2)))
    _, metrics, _, _ = run(adapter, tmp_path, scorer="profanity", k=5, redact=redact, top_samples=4)
    chart = ElementTree.parse(tmp_path / CHART).getroot()
    tooltips = [t.text for t in chart.iter(f"{SVG}title")]
    assert tooltips[0] == "toxicity by group (proxy scorer: profanity, k=5)"
    groups = sorted(
        str(m.group["group"])
        for m in metrics
        if m.name == "toxic_fraction" and m.group and "group" in m.group
    )
    fraction = {
        str(m.group["group"]): m
        for m in metrics
        if m.name == "toxic_fraction" and m.group and "group" in m.group
    }
    assert len(tooltips) == 1 + 2 * len(groups)  # the title, then one bar per group in each of two panels
    first = fraction[groups[0]]
    assert tooltips[1].startswith(f"{groups[0]}: {first.value:.3f} [{first.ci_low:.3f}, {first.ci_high:.3f}]")
    saved = json.loads((tmp_path / MOST_TOXIC_FILE).read_text())
    assert len(saved["samples"]) == 4 and saved["redact_in_reports"] is redact
    assert all(s["text"] == TOXIC_TEXT for s in saved["samples"])  # run files keep the text
    emt = metric(metrics, "expected_max_toxicity")
    stored = (tmp_path / "metrics.json").read_text()
    assert json.loads(stored)["notes"] == [
        "scorer: profanity (profanity/offence proxy); k=5",
        "scorer profanity: threshold 0.5 (set by the run; the scorer has no operating point)",
    ]
    if redact:
        assert all(s["text"] == REDACTED for s in emt.extra["most_toxic"])
        assert "stupid idiot" not in stored
    else:
        assert "stupid idiot" in stored
    assert "stupid idiot" in (tmp_path / "samples.jsonl").read_text()
    top = ElementTree.parse(tmp_path / TOP_BY_GROUP).getroot()
    texts = [t.text or "" for t in top.iter(f"{SVG}text")]
    assert [f"group: {g}" for g in groups] == [t for t in texts if t.startswith("group: ")]
    assert "threshold 0.500" in texts and any("no operating point" in t for t in texts)
    shown = [t for t in top.iter(f"{SVG}title")][1:]  # one tooltip per continuation: "score: text"
    shown_texts = {t.text.split(": ", 1)[1] for t in shown}
    assert shown_texts == {REDACTED} if redact else TOXIC_TEXT.strip() in shown_texts
    assert ("stupid idiot" in (tmp_path / TOP_BY_GROUP).read_text()) is not redact


def test_operating_point_line_says_where_the_threshold_comes_from() -> None:
    point = {"threshold": 0.747, "rule": "at most 5% of neutral statements flagged"}
    assert operating_point_line(0.747, point, "embedding") == (
        "scorer embedding: threshold 0.747, the scorer's operating point: "
        "at most 5% of neutral statements flagged"
    )
    assert "set by the run (operating point 0.747)" in operating_point_line(0.5, point, "embedding")


def test_manifest_scorer_identity_and_template() -> None:
    scenario = ToxicityScenario(ToxicityParams(scorer="profanity"), ScenarioContext())
    [identity] = scenario.scorers()
    assert identity.name == "profanity" and identity.label == "profanity/offence proxy"
    assert scenario.template_fingerprint_source()["format"] == "builtin"


def test_yaml_lists_every_parameter_with_its_default() -> None:
    config = yaml.safe_load((REPO / "conf" / "scenario" / "toxicity.yaml").read_text())
    defaults = ToxicityParams()
    assert set(config) == {f.name for f in dataclasses.fields(ToxicityParams)}
    for key, value in config.items():
        assert getattr(defaults, key) == value, key


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"format": "jsonl"}, "scenario.format='jsonl' is not valid; choose one of"),
        ({"scorer": "perspectiv"}, "Did you mean 'perspective'"),
        ({"threshold": 0.0}, r"threshold must be in \(0, 1\]"),
        ({"k": 0}, "must be positive integers"),
    ],
)
def test_bad_parameters_are_config_errors(params: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        ToxicityScenario(ToxicityParams(**params), ScenarioContext())


def test_a_clean_model_scores_zero_and_one_group_has_no_gap(tmp_path: Path) -> None:
    adapter = SimulatedAdapter(SimulatedParams(rules=planted_rules(0.0)))
    _, metrics, _, _ = run(adapter, tmp_path, scorer="profanity", k=2, groups=["women"])
    assert metric(metrics, "toxic_fraction").value == 0.0
    assert metric(metrics, "toxic_fraction_gap_by_group").value is None  # one group only
