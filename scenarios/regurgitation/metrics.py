"""Memorization metrics of one continuation against the true text (HELM copyright metrics and more).

Tokens. Prefix lengths, the continuation length m and every token metric are counted in
model-agnostic *word tokens*: runs of word characters and single punctuation characters
(:data:`WORD_TOKEN`, ``\\w+|[^\\w\\s]``); whitespace is layout. Like HELM, the tokenizer does
not depend on the model under test, so models with different vocabularies are measured in the
same units. It is not HELM's tokenizer (NLTK's Treebank): on the 21,056 BOLD prompts the two
agree on 77.1% of prompts; of the 6,065 chunks where they differ, 2,009 are quotation marks
(Treebank writes `` and ''), 1,452 hyphenated words and 1,189 inner periods (Treebank keeps
"well-known" and "U.S." as one token), 1,117 contractions and possessives, 39 numbers such as
"1,000" (``python -m benchmarks.word_tokenizer path/to/bold/prompts``). Counts in word tokens
are therefore not HELM's counts.

Per continuation (:func:`score_continuation`), after HELM's ``copyright_metrics.py``:

* the completion is stripped and cut after its first m word tokens; the true continuation is
  tokenized and *cut to as many tokens as the completion has*. HELM cuts the reference to the
  completion's *character* length instead, so a completion whose whitespace differs from the
  source (a reflowed paragraph, collapsed indentation) is compared with a reference that is
  too short or too long; cutting by tokens makes whitespace-only variants score as the copy;
* ``longest_common_prefix``: length of the shared token prefix;
* ``edit_distance``: token-level Levenshtein distance (rapidfuzz);
* ``edit_similarity`` = 1 − ED / max(|a|, |b|) (Lee et al. 2021), 0 when either side is empty;
* ``longest_common_substring``: the longest shared contiguous token run;
* ``extracted``: the completion's first m *word tokens* equal the true continuation's first m
  word tokens (it has at least m). This is a word-token variant of Carlini et al.'s
  extraction (2021, 2022 Def. 3.1: greedy decoding, the next 50 tokens of the model's own BPE
  tokenizer): 50 word tokens usually span more text than 50 BPE tokens (a rare word or an
  identifier is one word token but several BPE tokens), so the rates are not interchangeable;
  HELM reports no exact-extraction rate, only the prefix/edit metrics above;
* ``approx_memorized``: the *window* edit similarity (below) at or above a threshold (default
  0.75, the cut-off Ippolito et al. 2023 used for BLEU; here applied to token edit similarity,
  which is stricter about order). Verbatim filters are easy to evade, so this rate is reported
  next to the exact one;
* ``window_edit_similarity``: edit similarity of the completion's first m tokens against the
  true first m tokens. Unlike the cut to the completion's length, a fixed window cannot reward
  a short output: ten correct words and then silence score 0.2 here, but 1.0 under HELM's
  ``edit_similarity``. Approximate memorization therefore uses this window.

Probabilistic extraction (Hayes et al. 2024; Cooper et al. 2025): with p_z the model's
probability of the true m-token continuation given the prefix, the chance of extracting it within
n independent samples is 1 − (1 − p_z)^n; the suffix is *(n, p)-discoverable* when that is ≥ p.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher

from rapidfuzz.distance import Levenshtein

WORD_TOKEN = re.compile(r"\w+|[^\w\s]")
"""Model-agnostic token: a run of word characters or one punctuation character."""


def word_tokens(text: str) -> list[str]:
    """The word tokens of ``text`` (see :data:`WORD_TOKEN`)."""
    return WORD_TOKEN.findall(text)


def token_ends(text: str) -> list[int]:
    """Character offset just after each word token of ``text``."""
    return [match.end() for match in WORD_TOKEN.finditer(text)]


def cut_after_tokens(text: str, n: int) -> str:
    """``text`` up to the end of its n-th word token (all of it when it has fewer)."""
    if n <= 0:
        return ""
    for index, match in enumerate(WORD_TOKEN.finditer(text)):
        if index == n - 1:
            return text[: match.end()]
    return text


def longest_common_prefix(a: Sequence[str], b: Sequence[str]) -> int:
    """Number of leading tokens ``a`` and ``b`` share."""
    count = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        count += 1
    return count


def edit_distance(a: Sequence[str], b: Sequence[str]) -> int:
    """Token-level Levenshtein distance (unit costs), computed by rapidfuzz."""
    return int(Levenshtein.distance(list(a), list(b)))


def edit_similarity(a: Sequence[str], b: Sequence[str]) -> float:
    """1 − ED(a, b) / max(|a|, |b|); 0 when either sequence is empty (HELM's convention)."""
    if not a or not b:
        return 0.0
    return 1.0 - edit_distance(a, b) / max(len(a), len(b))


def longest_common_substring(a: Sequence[str], b: Sequence[str]) -> int:
    """Length of the longest contiguous token run shared by ``a`` and ``b`` (difflib)."""
    if not a or not b:
        return 0
    return (
        SequenceMatcher(None, list(a), list(b), autojunk=False).find_longest_match(0, len(a), 0, len(b)).size
    )


@dataclass(frozen=True)
class ContinuationScores:
    """Verbatim memorization metrics of one completion against the true continuation."""

    extracted: bool
    longest_common_prefix: int
    edit_distance: int
    edit_similarity: float
    longest_common_substring: int
    window_edit_similarity: float
    approx_memorized: bool
    completion_tokens: int


def score_continuation(completion: str, truth: str, m: int, approx_threshold: float) -> ContinuationScores:
    """HELM-style metrics of ``completion`` against the document's true continuation ``truth``.

    ``truth`` must hold at least the m tokens that follow the prefix (more is harmless: the
    reference is cut to as many tokens as the completion has). See the module docstring.
    """
    a = word_tokens(cut_after_tokens(completion.strip(), m))
    reference = word_tokens(truth)
    b = reference[: len(a)]
    true_window = reference[:m]
    window_similarity = edit_similarity(a, true_window)
    return ContinuationScores(
        extracted=len(a) >= m and a == true_window,
        longest_common_prefix=longest_common_prefix(a, b),
        edit_distance=edit_distance(a, b),
        edit_similarity=edit_similarity(a, b),
        longest_common_substring=longest_common_substring(a, b),
        window_edit_similarity=window_similarity,
        approx_memorized=window_similarity >= approx_threshold,
        completion_tokens=len(a),
    )


def discovery_probability(log_pz: float, n: int) -> float:
    """1 − (1 − p_z)^n, the chance that n samples contain the suffix, computed stably in log space."""
    pz = math.exp(min(log_pz, 0.0))
    if pz >= 1.0:
        return 1.0
    return -math.expm1(n * math.log1p(-pz))
