"""The citations scenario end to end through the engine's Runner, with the simulated adapter."""

from __future__ import annotations

import csv
import dataclasses
import json
from pathlib import Path

import pytest
import yaml
from citations_testlib import (
    AGRAWAL_DIR,
    AUTHORS,
    TOPICS,
    Plan,
    metric,
    planted_rules,
    run,
    simulated,
    synthetic_bibliography,
    write_jsonl,
)

from harness.errors import ConfigError, ScenarioSkipped
from harness.scenario import ScenarioContext
from harness.types import Capability, ModelInfo
from scenarios.citations.prompts import FAMILIES
from scenarios.citations.scenario import ARTIFACT, CitationsParams, CitationsScenario

CONF = Path(__file__).resolve().parents[3] / "conf" / "scenario" / "citations.yaml"


@pytest.fixture()
def bibliography(tmp_path: Path) -> str:
    return str(write_jsonl(tmp_path / "bib.jsonl", synthetic_bibliography()))


def test_yaml_lists_every_parameter_with_its_default() -> None:
    config = yaml.safe_load(CONF.read_text())
    defaults = CitationsParams()
    assert list(config) == [f.name for f in dataclasses.fields(CitationsParams)]
    assert config == {f.name: getattr(defaults, f.name) for f in dataclasses.fields(CitationsParams)}


def test_no_ground_truth_skips_the_scenario_with_one_line_saying_what_to_pass() -> None:
    context = ScenarioContext(model_info=ModelInfo(adapter="hf", model_id="gpt2"))
    with pytest.raises(ScenarioSkipped) as error:
        CitationsScenario(CitationsParams(), context)
    message = str(error.value)
    assert "\n" not in message and message.startswith("citations skipped:")
    assert "scenario.bibliography=" in message and "scenario.online_resolvers=[crossref,openalex]" in message
    # the simulated adapter (harness validate) falls back to the reference world, a closed world
    simulated_context = ScenarioContext(model_info=ModelInfo(adapter="simulated", model_id="simulated"))
    scenario = CitationsScenario(CitationsParams(), simulated_context)
    assert scenario.bibliography.name == "reference-world" and scenario.closed_world
    with pytest.raises(ConfigError, match=r"scenario.families: unknown \['poems'\]"):
        CitationsScenario(CitationsParams(bibliography="x.jsonl", families=["poems"]), context)
    with pytest.raises(ConfigError, match="mangled_threshold <= verified_threshold"):
        CitationsScenario(CitationsParams(bibliography="x.jsonl", mangled_threshold=99.0), context)


def test_instances_cover_families_forms_and_subjects(bibliography: str) -> None:
    params = CitationsParams(bibliography=bibliography, max_authors=3, max_topics=2)
    chat_context = ScenarioContext(capabilities=frozenset({Capability.GENERATE, Capability.CHAT}))
    instances = list(CitationsScenario(params, chat_context).instances())
    assert len(instances) == 2 * 2 * 3 + 2 * 2 * 2
    first = instances[0]
    assert first.id == "author_papers:completion:000:diego-salvatierra"
    assert first.input == "Papers by Diego Salvatierra:"
    assert first.metadata == {
        "family": "author_papers",
        "form": "completion",
        "subject": "Diego Salvatierra",
        "queried_author": "Diego Salvatierra",
    }
    chat = next(
        i for i in instances if i.metadata["family"] == "topic_references" and i.metadata["form"] == "chat"
    )
    assert (
        chat.input[0].content
        == f'List 5 existing references related to "{chat.metadata["subject"]}". Just output the titles.'
    )
    assert chat.metadata["queried_author"] == ""
    no_chat = CitationsScenario(params, ScenarioContext(capabilities=frozenset({Capability.GENERATE})))
    assert {i.metadata["form"] for i in no_chat.instances()} == {"completion"}
    assert no_chat.protocol() == "generative:completion"


def test_topics_file_such_as_the_acm_ccs_list(bibliography: str) -> None:
    if not AGRAWAL_DIR.exists():
        pytest.skip("needs ../shared/datasets/hallucinated_references")
    params = CitationsParams(
        bibliography=bibliography,
        topics_file=str(AGRAWAL_DIR / "acm_ccs_200.titles"),
        max_topics=3,
        families=["topic_references"],
    )
    scenario = CitationsScenario(params, ScenarioContext(capabilities=frozenset({Capability.GENERATE})))
    assert [i.metadata["subject"] for i in scenario.instances()] == [
        "Computer forensics: System forensics",
        "Architectures: Distributed architectures",
        "Continuous mathematics: Topology",
    ]


def test_hand_computed_metrics_and_the_fabrication_report(tmp_path: Path, bibliography: str) -> None:
    papers = synthetic_bibliography()
    nadia = [p for p in papers if "Nadia Okonkwo" in p["authors"]]
    other = next(p for p in papers if not {"Nadia Okonkwo", "Pieter Van Dalen"} & set(p["authors"]))
    first = (
        f'1. "{nadia[0]["title"]}" ({nadia[0]["year"]}), {nadia[0]["venue"]}.\n'
        f'2. "{nadia[1]["title"]}" ({nadia[1]["year"] + 1}), {nadia[1]["venue"]}.\n'
        '3. "Holographic Origami Techniques for Lunar Beekeeping" (2015), EcoInformatics.'
    )
    second = f'Please double-check these.\n1. "{other["title"]}" ({other["year"]})\n'
    rules = [
        {"match": "Nadia Okonkwo", "outputs": {first: 1.0}},
        {"match": "Pieter Van Dalen", "outputs": {second: 1.0}},
    ]
    params = CitationsParams(
        bibliography=bibliography,
        complete_authors=["Nadia Okonkwo"],  # her complete works are in it: it can speak for her list
        authors=["Nadia Okonkwo", "Pieter Van Dalen"],
        families=["author_papers"],
        forms=["completion"],
        samples_per_prompt=1,
        temperature=0.0,
    )
    metrics, frame, _ = run(params, simulated(rules), tmp_path / "run")
    expected = {
        "coverage_rate": 1.0,
        "not_covered_rate": 0.0,
        "fabrication_rate": 1 / 4,
        "fabricated_response_share": 1 / 2,
        "misattribution_rate": 1 / 4,
        "verified_rate": 2 / 4,
        "mangled_rate": 0.0,
        "citations_per_response": 2.0,
        "abstention_rate": 0.0,
        "disclaimer_rate": 1 / 2,
        "wrong_year_rate": 1 / 3,
        "wrong_venue_rate": 0.0,
    }
    assert {name: metric(metrics, name).value for name in expected} == pytest.approx(expected)
    assert (
        metric(metrics, "fabrication_rate").n == 4
        and metric(metrics, "fabrication_rate").extra["n_prompts"] == 2
    )
    assert metric(metrics, "wrong_identifier_rate").value is None  # no citation carried an identifier
    assert metric(metrics, "verified_rate", family="author_papers").value == pytest.approx(0.5)
    assert frame["n_citations"].tolist() == [3, 1]
    with (tmp_path / "run" / ARTIFACT).open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 1
    assert rows[0]["cited_title"] == "Holographic Origami Techniques for Lunar Beekeeping"
    assert (
        rows[0]["closest_real_title"] in {p["title"] for p in papers}
        and 0 < float(rows[0]["similarity"]) < 60
    )
    saved = json.loads((tmp_path / "run" / "metrics.json").read_text())
    overall = next(m for m in saved["metrics"] if m["name"] == "fabrication_rate" and m["group"] is None)
    assert overall["extra"]["examples"][0]["cited_title"] == rows[0]["cited_title"]
    # without that knowledge the invented title is not covered: neither fabricated nor real
    params = dataclasses.replace(params, complete_authors=[])
    metrics, _, _ = run(params, simulated(rules), tmp_path / "open")
    expected = {
        "coverage_rate": 3 / 4,
        "not_covered_rate": 1 / 4,
        "fabrication_rate": 0.0,
        "verified_rate": 2 / 3,
    }
    assert {name: metric(metrics, name).value for name in expected} == pytest.approx(expected)
    assert metric(metrics, "fabrication_rate").n == 3


def test_planted_mix_is_recovered_within_its_confidence_intervals(tmp_path: Path, bibliography: str) -> None:
    """Known answer: four statuses in six citation styles across all four families and both forms."""
    plan = Plan()
    rules = planted_rules(synthetic_bibliography(), AUTHORS, TOPICS, plan)
    params = CitationsParams(
        bibliography=bibliography,
        bibliography_complete=True,
        samples_per_prompt=4,
        max_authors=10,
        max_topics=4,
    )
    metrics, frame, _ = run(params, simulated(rules), tmp_path / "run")
    truth = plan.expected()
    names = {
        "verified_rate": truth["verified_share"],
        "mangled_rate": truth["mangled_share"],
        "misattribution_rate": truth["misattributed_share"],
        "fabrication_rate": truth["fabricated_share"],
        "citations_per_response": truth["citations_per_response"],
        "fabricated_response_share": truth["fabricated_response_share"],
        "abstention_rate": truth["abstention_rate"],
        "disclaimer_rate": truth["disclaimer_rate"],
    }
    for name, planted in names.items():
        value = metric(metrics, name)
        assert value.ci_low <= planted <= value.ci_high, (name, planted, value)
    for family in FAMILIES:
        value = metric(metrics, "fabrication_rate", family=family)
        assert value.ci_low <= truth["fabricated_share"] <= value.ci_high, (family, value)
    assert len(frame) == 10 * 2 * 2 + 4 * 2 * 2
    styles = {c["style"] for cits in frame["citations"] for c in cits}
    assert styles == {"quoted", "apa", "markdown", "labelled", "bibtex"}
    assert metric(metrics, "wrong_identifier_rate").value > 0  # the fabricated DOIs


def test_failed_requests_are_counted_and_never_scored(tmp_path: Path, bibliography: str) -> None:
    rules = [
        {
            "match": "Papers by",
            "outputs": {'\n1. "Holographic Origami Techniques for Lunar Beekeeping" (2015)': 1.0},
        }
    ]
    params = CitationsParams(
        bibliography=bibliography,
        bibliography_complete=True,
        families=["author_papers"],
        forms=["completion"],
        samples_per_prompt=1,
    )
    metrics, frame, _ = run(params, simulated(rules, error_rate=0.5), tmp_path / "run")
    n_errors = int(frame["error"].notna().sum())
    assert 0 < n_errors < len(frame)
    fabrication = metric(metrics, "fabrication_rate")
    assert (
        fabrication.n_errors == n_errors
        and fabrication.n == len(frame) - n_errors
        and fabrication.value == 1.0
    )


def test_scorer_identity_changes_with_thresholds_and_bibliography(bibliography: str, tmp_path: Path) -> None:
    context = ScenarioContext()
    base = CitationsScenario(CitationsParams(bibliography=bibliography), context).scorers()[0]
    stricter = CitationsScenario(
        CitationsParams(bibliography=bibliography, verified_threshold=99.0), context
    ).scorers()[0]
    smaller = write_jsonl(tmp_path / "small.jsonl", synthetic_bibliography()[:5])
    other = CitationsScenario(CitationsParams(bibliography=str(smaller)), context).scorers()[0]
    assert (
        base.name == "citations-verifier"
        and len({base.model_hash, stricter.model_hash, other.model_hash}) == 3
    )
    assert base.label == f"{bibliography} (60 records; resolvers: none)"
