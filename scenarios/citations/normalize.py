"""Canonical forms of titles, identifiers and person names, shared by extraction and verification.

Titles are compared after this normalization (docs/citations.md): casefold,
strip accents and punctuation, collapse whitespace. Identifiers are reduced to the bare DOI
(``10.xxxx/...``, lower case) or arXiv id (``2106.01345`` or ``hep-th/9901001``, no version), and
people are compared by surname plus, when both sides have one, the first initial.
"""

from __future__ import annotations

import re
import unicodedata

STOPWORDS = frozenset(
    """
    a an the of for and in on to with by from at via its it their our towards toward using into over
    under is are as or vs versus do does can we how what why when which new
    """.split()
)
"""Function words ignored when checking whether a cited title invents content words."""

NAME_PARTICLES = frozenset(
    """
    van von de der den del della da di du la le dos das ter ten bin al el st y
    """.split()
)
NAME_SUFFIXES = frozenset(
    """
    jr jr. sr sr. ii iii iv phd
    """.split()
)

DOI_PATTERN = re.compile(r"\b10\.\d{4,9}/[^\s\"'<>{}\[\]]+", re.IGNORECASE)
ARXIV_PATTERN = re.compile(
    r"(?:10\.48550/arxiv\.|arxiv(?:\.org/(?:abs|pdf)/|\s*:\s*|\s+(?:preprint\s+)?(?:arxiv:)?\s*)|\beprint\s*=\s*\{?)"
    r"(?P<id>\d{4}\.\d{4,5}|[a-z\-]+(?:\.[A-Z]{2})?/\d{7})(?:v\d+)?",
    re.IGNORECASE,
)
"""An arXiv id introduced by ``arXiv:``, ``arxiv.org/abs/``, ``arXiv preprint`` or arXiv's DOI prefix."""


def strip_accents(text: str) -> str:
    """Remove combining marks after NFKD decomposition ("Müller" -> "Muller")."""
    if text.isascii():
        return text
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def normalize_title(title: str) -> str:
    """Casefold, strip accents, replace punctuation (and LaTeX braces) by spaces, collapse spaces."""
    folded = strip_accents(title).casefold()
    folded = re.sub(r"\\[a-z]+\s*", " ", folded)  # LaTeX commands such as \emph or \textit
    return " ".join(re.sub(r"[^\w\s]|_", " ", folded).split())


def content_words(normalized_title: str) -> list[str]:
    """The words of a normalized title that are not function words."""
    return [w for w in normalized_title.split() if w not in STOPWORDS]


def normalize_doi(doi: str | None) -> str | None:
    """The bare, lower-case DOI from any DOI string or URL, or None when there is none."""
    if not doi:
        return None
    match = DOI_PATTERN.search(str(doi))
    if not match:
        return None
    return match.group(0).rstrip(".,;:)]}").lower()


def normalize_arxiv(identifier: str | None) -> str | None:
    """The bare arXiv id without version (``2106.01345``), from an id, ``arXiv:`` string or URL."""
    if not identifier:
        return None
    text = str(identifier).strip()
    match = ARXIV_PATTERN.search(text)
    if match:
        return match.group("id").lower()
    bare = re.fullmatch(r"(\d{4}\.\d{4,5}|[a-z\-]+(?:\.[A-Z]{2})?/\d{7})(?:v\d+)?", text, re.IGNORECASE)
    return bare.group(1).lower() if bare else None


def _name_tokens(name: str) -> list[str]:
    return [t for t in re.split(r"[\s.]+", strip_accents(name).strip()) if t]


def split_person(name: str) -> tuple[str, str]:
    """(given names, surname) of a person, from "Given Surname" or "Surname, Given".

    Surname particles ("van der", "de") stay with the surname and suffixes (Jr., III) are
    dropped, so "Laurens van der Maaten" and "van der Maaten, L." give the same surname.
    """
    name = " ".join(name.split())
    if "," in name:
        surname, _, given = name.partition(",")
        given_tokens = [t for t in _name_tokens(given) if t.casefold() not in NAME_SUFFIXES]
        return " ".join(given_tokens), surname.strip()
    tokens = [t for t in name.split() if t.casefold().rstrip(".") not in NAME_SUFFIXES]
    if not tokens:
        return "", ""
    start = len(tokens) - 1
    while start > 0 and tokens[start - 1].casefold() in NAME_PARTICLES:
        start -= 1
    return " ".join(tokens[:start]), " ".join(tokens[start:])


def surname_key(name: str) -> str:
    """The comparison key of a person's surname: its last word without particles, accents, case or
    hyphens, so "Pieter van Dalen", "Van Dalen, P." and "P. Dalen" all give "dalen"."""
    _, surname = split_person(name)
    words = [w for w in surname.split() if w.casefold() not in NAME_PARTICLES] or surname.split()
    return re.sub(r"[^a-z]", "", strip_accents(words[-1] if words else "").casefold())


def first_initial(name: str) -> str:
    """The lower-case first initial of a person's given names, or "" when there are none."""
    given, _ = split_person(name)
    letters = re.sub(r"[^a-z]", "", strip_accents(given).casefold())
    return letters[:1]


def same_person(a: str, b: str) -> bool:
    """True when two name strings plausibly denote one person: same surname, compatible initial."""
    if not surname_key(a) or surname_key(a) != surname_key(b):
        return False
    initial_a, initial_b = first_initial(a), first_initial(b)
    return not initial_a or not initial_b or initial_a == initial_b


def venue_initials(normalized_venue: str) -> str:
    """Initials of a venue's words, skipping function words and numbers ("the 36th ... on machine
    learning" -> "...ml"); an acronym such as "icml" matches when it is a subsequence of these."""
    words = [
        w
        for w in normalized_venue.split()
        if w not in STOPWORDS and not re.fullmatch(r"\d+(st|nd|rd|th)?", w)
    ]
    return "".join(w[0] for w in words)
