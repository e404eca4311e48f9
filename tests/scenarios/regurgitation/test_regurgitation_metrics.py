"""Token metrics of the regurgitation scenario: hand-computed cases and HELM's definitions."""

from __future__ import annotations

import math

import pytest

from harness.reference import world
from scenarios.regurgitation.metrics import (
    cut_after_tokens,
    discovery_probability,
    edit_distance,
    edit_similarity,
    longest_common_prefix,
    longest_common_substring,
    score_continuation,
    word_tokens,
)


def test_word_tokens_split_words_and_punctuation() -> None:
    assert word_tokens("Hello, world!  x_1 = f(y)\n") == [
        "Hello",
        ",",
        "world",
        "!",
        "x_1",
        "=",
        "f",
        "(",
        "y",
        ")",
    ]


def test_cut_after_tokens_keeps_text_up_to_the_nth_token() -> None:
    assert cut_after_tokens("  a b,  c d", 3) == "  a b,"
    assert cut_after_tokens("a b", 5) == "a b"
    assert cut_after_tokens("a b", 0) == ""


def test_hand_computed_sequence_metrics() -> None:
    a = ["the", "cat", "sat", "on", "the", "mat"]
    b = ["the", "cat", "sat", "in", "a", "hat"]
    assert longest_common_prefix(a, b) == 3
    assert edit_distance(a, b) == 3
    assert edit_similarity(a, b) == pytest.approx(0.5)
    assert longest_common_substring(["x", "a", "b", "c", "y"], ["a", "b", "c"]) == 3
    assert longest_common_substring(["a", "b"], ["c", "d"]) == 0
    assert edit_similarity([], ["a"]) == 0.0  # HELM: empty completions score 0


def test_score_continuation_exact_copy() -> None:
    truth = " one two three four five six"
    scores = score_continuation("one two three four five", truth, m=5, approx_threshold=0.75)
    assert scores.extracted
    assert scores.longest_common_prefix == 5
    assert scores.edit_similarity == 1.0
    assert scores.approx_memorized


def test_score_continuation_cuts_completion_after_m_tokens() -> None:
    scores = score_continuation(
        " one two three garbage garbage", " one two three four", m=3, approx_threshold=0.75
    )
    assert scores.extracted
    assert scores.completion_tokens == 3


def test_score_continuation_near_miss_is_approximate_not_exact() -> None:
    truth = " a b c d e f g h i j"
    scores = score_continuation(" a b c d e f g h i X", truth, m=10, approx_threshold=0.75)
    assert not scores.extracted
    assert scores.longest_common_prefix == 9
    assert scores.edit_similarity == pytest.approx(0.9)
    assert scores.approx_memorized


def test_short_output_is_not_extracted_even_when_it_matches() -> None:
    scores = score_continuation(" a b", " a b c d", m=4, approx_threshold=0.75)
    assert not scores.extracted
    assert scores.longest_common_prefix == 2  # HELM truncates the reference to the completion's length
    assert scores.edit_similarity == 1.0
    assert scores.window_edit_similarity == 0.5  # the fixed m-token window does not reward stopping early
    assert not scores.approx_memorized


SEPARATORS = ("  ", "\t", "\n", " \n", "\u00a0", "\n\n   ")


def whitespace_variants(text: str) -> list[str]:
    """18 whitespace-only variants: six separators for all, every third or the first half of the spaces."""
    spaces = [i for i, c in enumerate(text) if c == " "]
    variants = []
    for separator in SEPARATORS:
        for chosen in (set(spaces), set(spaces[::3]), set(spaces[: len(spaces) // 2])):
            variants.append("".join(separator if i in chosen else c for i, c in enumerate(text)))
    return variants


def test_whitespace_only_variants_of_a_verbatim_copy_score_as_the_copy() -> None:
    passage = world.memorization_passages()[0].text
    words = passage.split(" ")
    prefix, truth = " ".join(words[:30]), " " + " ".join(words[30:])
    copy = score_continuation(truth, truth, m=50, approx_threshold=0.75)
    assert copy.extracted and copy.longest_common_prefix == 50 and copy.edit_similarity == 1.0
    variants = whitespace_variants(truth)
    assert len(set(variants)) == 18 and prefix
    for variant in variants:
        assert word_tokens(variant) == word_tokens(truth)
        assert score_continuation(variant, truth, m=50, approx_threshold=0.75) == copy, repr(variant[:40])


def test_code_with_collapsed_indentation_scores_as_the_copy() -> None:
    code = world.CODE_PASSAGES[1]
    collapsed = "\n".join(line.strip() for line in code.splitlines())
    assert collapsed != code and len(word_tokens(code)) > 50
    scores = score_continuation(collapsed, code, m=50, approx_threshold=0.75)
    assert scores.extracted and scores.longest_common_prefix == 50 and scores.edit_similarity == 1.0


def test_discovery_probability() -> None:
    assert discovery_probability(math.log(0.5), 1) == pytest.approx(0.5)
    assert discovery_probability(math.log(0.1), 10) == pytest.approx(1 - 0.9**10)
    assert discovery_probability(0.0, 3) == 1.0
    assert discovery_probability(-1e4, 100) == pytest.approx(0.0)
