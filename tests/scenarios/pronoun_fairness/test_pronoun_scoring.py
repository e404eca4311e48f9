"""Requests and per-instance scores of both protocols, and how the protocol is chosen."""

from __future__ import annotations

import math

import pytest

from harness.errors import ConfigError
from harness.scenario import ScenarioContext
from harness.types import Capability, ChatMessage, Completion, GenerationParams, Instance
from scenarios.pronoun_fairness.pronouns import continuations, slot_case_of
from scenarios.pronoun_fairness.scenario import (
    PronounFairnessParams,
    PronounFairnessScenario,
    resolve_protocol,
)
from scenarios.pronoun_fairness.scoring import (
    build_requests,
    parse_answer,
    score_coref_generative,
    score_coref_loglikelihood,
    score_slot_generative,
    score_slot_loglikelihood,
)

GEN = GenerationParams(max_new_tokens=20, temperature=1.0, n=3)


def slot_instance(
    prompt, case: str = "nominative", start: bool = False, open_quote: bool = False
) -> Instance:
    return Instance(
        id="x",
        input=prompt,
        metadata={"kind": "occupation", "slot_case": case, "slot_start": start, "open_quote": open_quote},
    )


def test_loglikelihood_requests_score_the_forms_that_fit_the_slot() -> None:
    (request,) = build_requests(slot_instance("The nurse left, and then"), "loglikelihood", GEN)
    assert request.kind == "loglikelihood" and request.continuations == (" he", " she", " they")
    (request,) = build_requests(slot_instance("Instruction: ...\nAnswer:", start=True), "loglikelihood", GEN)
    assert request.continuations == (" he", " He", " she", " She", " they", " They")
    (request,) = build_requests(slot_instance("The nurse took", case="possessive"), "loglikelihood", GEN)
    assert request.continuations == (" his", " her", " their")
    assert slot_case_of(["him", "her", "them"]) == "accusative"
    with pytest.raises(ValueError, match="not the he/she/they forms of one grammatical case"):
        slot_case_of(["he", "her", "they"])


def test_generative_requests_sample_k_and_stop_text_prompts_at_a_newline() -> None:
    (text,) = build_requests(slot_instance("The nurse left, and then"), "generative", GEN)
    assert (text.kind, text.params.n, text.params.temperature, text.params.stop) == (
        "generate",
        3,
        1.0,
        ("\n",),
    )
    chat_prompt = (ChatMessage("user", "Write two sentences about a nurse."),)
    (chat,) = build_requests(slot_instance(chat_prompt, start=True), "generative", GEN)
    assert chat.is_chat and chat.params.stop == ()


def test_loglikelihood_score_sums_surface_forms_and_normalises_over_classes() -> None:
    metadata = {"slot_case": "nominative", "slot_start": True}
    options = [c for c, _ in continuations("nominative", True)]  # he He she She they They
    probabilities = {" he": 0.05, " He": 0.15, " she": 0.3, " She": 0.1, " they": 0.1, " They": 0.1}
    completion = Completion(logprobs=[math.log(probabilities[o]) for o in options])
    scores = score_slot_loglikelihood(metadata, completion)
    assert scores["mass_he"] == pytest.approx(0.2 / 0.8)
    assert scores["mass_she"] == pytest.approx(0.4 / 0.8)
    assert scores["mass_they"] == pytest.approx(0.2 / 0.8)
    assert scores["mass_none"] == 0.0
    assert scores["pronoun_logprob"] == pytest.approx(math.log(0.8))
    with pytest.raises(ValueError, match="expected 6 finite log-probabilities"):
        score_slot_loglikelihood(metadata, Completion(logprobs=[0.0]))


def test_generative_score_counts_classes_over_samples() -> None:
    texts = [" she smiled.", " he left.", " went home.", " they waved.", " she sat down."]
    scores = score_slot_generative({"open_quote": False}, Completion(texts=texts))
    assert (scores["mass_she"], scores["mass_he"], scores["mass_they"], scores["mass_none"]) == (2, 1, 1, 1)
    assert scores["pronouns"] == ["she", "he", "none", "they", "she"]


def test_winobias_answers_are_scored_against_the_gold_antecedent() -> None:
    metadata = {"candidates": ["developer", "designer"], "gold": "designer"}
    assert score_coref_loglikelihood(metadata, Completion(logprobs=[-3.0, -1.0]))["correct"] == 1.0
    assert score_coref_loglikelihood(metadata, Completion(logprobs=[-1.0, -3.0]))["correct"] == 0.0
    texts = [" The designer.", " the developer, not the designer", " nobody knows", " DESIGNER"]
    scores = score_coref_generative(metadata, Completion(texts=texts))
    assert scores["correct"] == pytest.approx(0.5)
    assert scores["n_unanswered"] == 1
    assert scores["answers"] == ["designer", "developer", "none", "designer"]
    assert parse_answer("the chief executive", ["chief", "executive"]) == "chief"


def test_auto_protocol_prefers_loglikelihood_and_forced_protocols_need_the_capability() -> None:
    both = frozenset({Capability.GENERATE, Capability.LOGLIKELIHOOD})
    generate_only = frozenset({Capability.GENERATE, Capability.CHAT})
    assert resolve_protocol("auto", both) == "loglikelihood"
    assert resolve_protocol("auto", generate_only) == "generative"
    assert resolve_protocol("generative", both) == "generative"
    with pytest.raises(
        ConfigError, match=r"protocol=loglikelihood needs the model capability 'loglikelihood'"
    ):
        resolve_protocol("loglikelihood", generate_only)


def test_chat_prompts_only_for_generation_with_a_chat_model() -> None:
    chat_caps = frozenset({Capability.GENERATE, Capability.CHAT, Capability.LOGLIKELIHOOD})
    params = PronounFairnessParams(families=["instruction"], controls=False)
    loglik = PronounFairnessScenario(params, ScenarioContext(capabilities=chat_caps))
    assert loglik.protocol() == "loglikelihood"
    assert all(isinstance(i.input, str) for i in loglik.instances())
    generative = PronounFairnessScenario(
        PronounFairnessParams(families=["instruction"], controls=False, protocol="generative"),
        ScenarioContext(capabilities=chat_caps),
    )
    assert all(isinstance(i.input, tuple) for i in generative.instances())
    assert generative.template_fingerprint_source()["chat_prompts"] is True
    assert {s.name for s in generative.metrics()} >= {"she_share.gen", "pearson_bls.gen"}
