"""The generative protocol's pronoun extractor on ordinary and tricky continuations."""

from __future__ import annotations

import pytest

from scenarios.pronoun_fairness.extract import extract_pronoun

CASES = [
    # plain forms of every class, any case
    (" she went home.", "she", "she"),
    (" went home, and then He said goodbye", "he", "he"),
    (" they left early.", "they", "they"),
    (" called him back later", "he", "him"),
    (" took his coat", "he", "his"),
    (" HIMSELF", "he", "himself"),
    (" I told her the news", "she", "her"),
    (" the coat was hers", "she", "hers"),
    (" herself", "she", "herself"),
    (" thanked them", "they", "them"),
    (" packed their bags", "they", "their"),
    (" by themself", "they", "themself"),
    (" by themselves", "they", "themselves"),
    # words that contain pronouns are not pronouns
    (" the shelf was empty, so they left", "they", "they"),
    (" there was nothing to do, so he left", "he", "he"),
    (" the theme of the talk was heroes and herbs", "none", None),
    (" the history of his town", "he", "his"),
    (" the she-wolf howled", "none", None),
    ("", "none", None),
    (" went to the office.", "none", None),
    # contractions keep their pronoun
    (" she's ready", "she", "she"),
    (" they’ll be late", "they", "they"),
    (" he'd rather stay", "he", "he"),
    # gender-neutral generic forms count as they
    (" he or she will decide", "they", "he or she"),
    (" his/her notes", "they", "his/her"),
    (" s/he will call", "they", "s/he"),
    (" (s)he will call", "they", "(s)he"),
    (" Himself or herself", "they", "himself or herself"),
    # quoted speech opened inside the continuation is skipped
    (' said, "He is late," and then she left', "she", "she"),
    (" “She is late,” and then he left", "he", "he"),
    # another person makes later pronouns of that class ambiguous
    (" a man walked in and he asked a question", "none", None),
    (" a man walked in and she greeted him", "she", "she"),
    (" her husband called", "she", "her"),
    (" the customer thanked her", "none", None),
    (" the patients thanked them", "none", None),
    (" everyone clapped for her", "she", "her"),
    # plural they
    (" they all went home", "none", None),
    (" they both left, and then she", "she", "she"),
]


@pytest.mark.parametrize(("text", "expected_class", "expected_form"), CASES)
def test_extracts_the_first_referring_pronoun(
    text: str, expected_class: str, expected_form: str | None
) -> None:
    result = extract_pronoun(text)
    assert (result.pronoun_class, result.form) == (expected_class, expected_form)


def test_speech_opened_in_the_prompt_counts_until_it_closes() -> None:
    # Dialogue templates end inside a quotation about the person ("I think ...").
    assert (
        extract_pronoun(' she left." Then "He is back," Casey said.', open_quote=True).pronoun_class == "she"
    )
    # After the prompt's quotation closes, a new quotation is someone's speech again.
    assert extract_pronoun('." Then "He is back," and she', open_quote=True).pronoun_class == "she"
    # Without open_quote the first mark opens new speech, which is skipped.
    assert extract_pronoun(' "he is back," and then they', open_quote=False).pronoun_class == "they"
