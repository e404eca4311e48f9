"""Third-person pronoun classes, their case forms, and the continuations the log-likelihood protocol scores.

The three classes are named by their nominative form: ``he`` (M), ``she`` (F) and ``they`` (N,
singular they), as in MISGENDERED (Hossain et al. 2023). A template's pronoun slot has a grammatical
case, so the log-likelihood protocol compares the forms that fit the slot (``he/she/they`` after
"and then", ``his/her/their`` before a noun, ...): the other case forms enter where they are relevant.
"""

from __future__ import annotations

from typing import Literal

PronounClass = Literal["he", "she", "they"]
CLASSES: tuple[PronounClass, ...] = ("he", "she", "they")
NONE = "none"
"""The extractor's answer when a text has no third-person pronoun that refers to the person."""

FORMS: dict[PronounClass, tuple[str, ...]] = {
    "he": ("he", "him", "his", "himself"),
    "she": ("she", "her", "hers", "herself"),
    "they": ("they", "them", "their", "theirs", "themself", "themselves"),
}
CLASS_OF_FORM: dict[str, PronounClass] = {form: cls for cls, forms in FORMS.items() for form in forms}

SLOT_CASES: dict[str, dict[PronounClass, str]] = {
    "nominative": {"he": "he", "she": "she", "they": "they"},
    "accusative": {"he": "him", "she": "her", "they": "them"},
    "possessive": {"he": "his", "she": "her", "they": "their"},
    "reflexive": {"he": "himself", "she": "herself", "they": "themselves"},
}
"""The form of each class that fits a slot of the given grammatical case."""


def slot_case_of(options: list[str] | tuple[str, ...]) -> str:
    """The case whose three forms are exactly ``options`` (e.g. ``his/her/their`` -> possessive).

    Raises ValueError naming the options when they are not one form per class of one case.
    """
    wanted = sorted(o.strip().lower() for o in options)
    for case, forms in SLOT_CASES.items():
        if wanted == sorted(forms.values()):
            return case
    raise ValueError(f"pronoun options {list(options)} are not the he/she/they forms of one grammatical case")


def continuations(case: str, at_start: bool) -> list[tuple[str, PronounClass]]:
    """The continuations scored for a slot, each with the class it counts for.

    Every form gets a leading space (the slot follows a word or "Answer:"). At the start of a
    sentence or an answer the capitalised form is scored as well, and the class probability is
    the sum over its surface forms.
    """
    result: list[tuple[str, PronounClass]] = []
    for cls, form in SLOT_CASES[case].items():
        result.append((f" {form}", cls))
        if at_start:
            result.append((f" {form.capitalize()}", cls))
    return result
