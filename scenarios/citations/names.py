"""Recognising and splitting author lists in free text ("Vaswani, A., Shazeer, N., & Parmar, N.").

The hard case is telling an author list from a short title: "Deep Learning and Neural Networks"
splits on "and" into two capitalised two-word chunks exactly as "Yann LeCun and Yoshua Bengio"
does. Chunks that contain a common title word (``TITLE_WORDS``) are therefore never names, and
an author list is called *strong* evidence only when it has initials, "et al.", or several names.
"""

from __future__ import annotations

import re
from typing import Literal

from scenarios.citations.normalize import NAME_PARTICLES, STOPWORDS

Strength = Literal["strong", "weak"]

TITLE_WORDS = frozenset(
    """
    learning deep neural network networks system systems analysis introduction data theory theories
    model models modeling modelling design computing computer computers computation computational
    algorithm algorithms security privacy language languages processing information retrieval
    approach approaches method methods survey review guide handbook principles practice practices
    foundations fundamentals applications application engineering software hardware architecture
    architectures management optimization optimisation graph graphs vision image images recognition
    detection estimation inference intelligence artificial machine machines robust efficient
    scalable adaptive distributed parallel cloud mobile web internet social semantic knowledge
    reasoning logic programming program programs code secure cryptography cryptographic protocol
    protocols wireless sensor sensors quantum statistical statistics probabilistic bayesian
    stochastic optimal control dynamic dynamics framework frameworks toward towards study studies
    case evaluation performance energy power digital virtual human humans interaction interactive
    visual visualization mining database databases query queries search text speech translation
    generation generative training trees tree random matrix linear nonlinear sparse fast scale large
    small automatic automated formal verification testing analysis evolution evolutionary genetic
    recommender recommendation ranking clustering classification regression segmentation forecasting
    alignment calibration auditing fair fairness causal federated contrastive interpretable
    explainable private medical records streams corpora climate tabular health clinical biology
    physics chemistry economics mathematics mathematical advanced advances modern new novel beyond
    understanding using via based volume edition press proceedings conference journal transactions
    workshop symposium letters
    """.split()
)
"""Words that appear in titles and venues but (almost) never as a person's name."""

NON_NAME_WORDS = frozenset(
    """
    all you your need not no more less one two three part some every i my me without between about
    within
    """.split()
)

INITIALS = re.compile(r"^(?:[A-Z]\.?(?:-[A-Z]\.?)?)(?:\s?[A-Z]\.?(?:-[A-Z]\.?)?)*$")
NAME_TOKEN = re.compile(r"^[A-Z\u00C0-\u024F][\w'’\-\u00C0-\u024F]*\.?$")
ET_AL = re.compile(r"[,\s]*\bet\.?\s+al\b\.?,?", re.IGNORECASE)
SEPARATORS = re.compile(r"\s*;\s*|\s*,\s*(?:and\s+|&\s*)?|\s+and\s+|\s*&\s*")


def is_initials(token: str) -> bool:
    """True for "A.", "A. B.", "J.-P." and similar initials."""
    return bool(INITIALS.match(token.strip()))


def _is_name(chunk: str) -> bool:
    tokens = chunk.split()
    if not 1 <= len(tokens) <= 4:
        return False
    substantive = 0
    for token in tokens:
        bare = token.strip(".").casefold()
        if token.casefold() in NAME_PARTICLES:
            continue
        if is_initials(token):
            continue
        if bare in TITLE_WORDS or bare in STOPWORDS or bare in NON_NAME_WORDS:
            return False
        if not NAME_TOKEN.match(token):
            return False
        substantive += 1
    return substantive >= 1


def split_names(text: str) -> list[str]:
    """Split an author list into names.

    "Surname, I." pairs become "I. Surname". "Surname, Given" chunks separated by "and" or ";"
    ("Kearns, Michael and Vazirani, Umesh"; MLA's "Vaswani, Ashish, et al.") are kept whole
    when every chunk has that shape; otherwise commas separate names ("Smith, Jones and Lee").
    """
    text = ET_AL.sub("", text).strip(" ,;:")
    text = re.sub(r"(?<![A-Z])\.$", "", text)
    chunks = [c.strip() for c in re.split(r"\s*;\s*|\s+and\s+|\s*&\s*", text) if c.strip(" ,")]
    chunks = [c.strip(" ,") for c in chunks]
    if chunks and all(_surname_first(c) for c in chunks):
        return [f"{c.split(',', 1)[1].strip()} {c.split(',', 1)[0].strip()}" for c in chunks]
    parts = [p.strip() for p in SEPARATORS.split(text) if p and p.strip()]
    names: list[str] = []
    index = 0
    while index < len(parts):
        part = parts[index]
        following = parts[index + 1] if index + 1 < len(parts) else ""
        if following and is_initials(following) and not is_initials(part) and len(part.split()) <= 2:
            names.append(f"{following} {part}")
            index += 2
        else:
            names.append(_initials_first(part))
            index += 1
    return names


def _surname_first(chunk: str) -> bool:
    """True for "Surname, Given Names" ("Kearns, Michael"; "van Dalen, Pieter"), not for two names."""
    surname, comma, given = chunk.partition(",")
    if not comma or "," in given or not given.strip() or is_initials(given):
        return False
    tokens = surname.split()
    return len(tokens) == 1 or (len(tokens) >= 2 and all(t.casefold() in NAME_PARTICLES for t in tokens[:-1]))


def _initials_first(name: str) -> str:
    """Vancouver order "LeCun Y" -> "Y LeCun" (trailing undotted initials move to the front)."""
    tokens = name.split()
    if len(tokens) >= 2 and re.fullmatch(r"[A-Z]{1,3}", tokens[-1]) and not is_initials(tokens[0]):
        return " ".join([tokens[-1], *tokens[:-1]])
    return name


def author_strength(text: str) -> Strength | None:
    """How strongly ``text`` looks like an author list: "strong", "weak" or None (not names)."""
    text = text.strip()
    text = re.sub(r"^(?:by|authors?\s*:)\s+", "", text, flags=re.IGNORECASE).strip(" ,;:-–—")
    text = re.sub(r"(?<![A-Z])\.$", "", text)  # a sentence's full stop, not an initial's
    if not text or len(text) > 400 or re.search(r"\d", text):
        return None
    has_et_al = bool(ET_AL.search(text))
    names = split_names(text)
    if not names or not all(_is_name(n) for n in names):
        return None
    if has_et_al or any(is_initials(t) for n in names for t in n.split()):
        return "strong"
    if len(names) >= 2 and any(len(n.split()) >= 2 for n in names):
        return "strong"
    if len(names) >= 2:
        return "weak"  # "Smith, Jones and Lee" – but also "Firewalls, VPNs and Honeypots"
    return "weak" if len(names[0].split()) >= 2 else None


def parse_authors(text: str) -> tuple[str, ...]:
    """The names of an author list (call :func:`author_strength` first to know it is one)."""
    text = re.sub(r"^(?:by|authors?\s*:)\s+", "", text.strip(), flags=re.IGNORECASE)
    return tuple(split_names(text))
