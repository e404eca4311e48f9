"""The abstention / disclaimer detector on labelled responses."""

from __future__ import annotations

import pytest

from scenarios.citations.abstain import Hedging, detect_hedging
from scenarios.citations.extract import extract_citations, residual_text

ABSTAIN = [
    "I'm sorry, but I can't provide a list of papers by that author.",
    "I’m afraid I don’t have access to a database of publications.",
    "As an AI language model, I cannot browse the internet.",
    "I am not aware of any papers by Mara Lindqvist.",
    "I couldn't find any publications on that topic.",
    "I do not have any information about this researcher's work.",
]
DISCLAIM = [
    'Here are some papers, but please verify them before citing:\n1. "A Real Title" (2019)',
    'Note that these references may not exist.\n1. "A Real Title" (2019)',
    'I cannot verify these sources, so please check them.\n1. "A Real Title" (2019)',
    '1. "A Real Title" (2019)\nThese are hypothetical references for illustration.',
    'I can\'t browse the web, but here are papers I remember:\n1. "A Real Title" (2019)',
    '1. "A Real Title" (2019)\nYou can find more on Google Scholar.',
    'As of my knowledge cutoff, these were the main works:\n1. "A Real Title" (2019)',
]
PLAIN = [
    'Here are five papers on the topic:\n1. "A Real Title" (2019)',
    '1. "Verifying Cryptographic Protocols" (2001)\n2. "Checking Sources of Error in Sensors" (2010)',
    '1. "Fabricated Hallucination Detection" (2022)',
    'Papers by Mara Lindqvist:\n1. "Robust Estimation for Graph Streams" (2015), NeurIPS.',
]


def classify(text: str) -> tuple[bool, bool]:
    citations = extract_citations(text)
    hedging = detect_hedging(residual_text(text, citations), len(citations))
    return hedging.abstained, hedging.disclaimed


@pytest.mark.parametrize("text", ABSTAIN)
def test_refusals_without_citations_are_abstentions(text: str) -> None:
    assert classify(text) == (True, False)


@pytest.mark.parametrize("text", DISCLAIM)
def test_warnings_next_to_citations_are_disclaimers(text: str) -> None:
    assert classify(text) == (False, True)


@pytest.mark.parametrize("text", PLAIN)
def test_plain_answers_and_titles_with_trigger_words_are_neither(text: str) -> None:
    assert classify(text) == (False, False)


def test_evidence_and_hedged_flag() -> None:
    hedging = detect_hedging("I cannot verify these sources, so please check them.", 3)
    assert hedging.disclaimed and not hedging.abstained
    assert "verify" in (hedging.evidence or "")
    assert detect_hedging("", 0) == Hedging(abstained=False, disclaimed=False)
