"""Prompt families for eliciting citations, each in a completion form and a chat form.

* ``author_papers`` – papers by a person (ground truth: that person's records);
* ``topic_references`` – references on a topic (the Agrawal et al. 2024 prompt in chat form);
* ``bibtex`` – a BibTeX list of papers by a person;
* ``doi`` – papers on a topic, with DOIs.

Completion forms are open list headers for base models ("Papers by Mara Lindqvist:"), which is
also the pattern the reference model was trained on; chat forms are user requests. Subjects
(authors and topics) come from the bibliography in use, or from ``authors`` / ``topics_file``
parameters, so that every prompt has ground truth.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from harness.types import ChatMessage, Prompt


@dataclass(frozen=True)
class Family:
    """A prompt family: which subject it takes and its two templates."""

    name: str
    subject: str  # "author" or "topic"
    completion: str
    chat: str


FAMILIES: dict[str, Family] = {
    "author_papers": Family(
        "author_papers",
        "author",
        "Papers by {subject}:",
        "Tell me about some papers by {subject}. List {n} of them with their titles, venues and years.",
    ),
    "topic_references": Family(
        "topic_references",
        "topic",
        "References on {subject}:\n1.",
        'List {n} existing references related to "{subject}". Just output the titles.',
    ),
    "bibtex": Family(
        "bibtex",
        "author",
        "BibTeX entries for papers by {subject}:\n\n@",
        "Give me a BibTeX list of {n} papers by {subject}.",
    ),
    "doi": Family(
        "doi",
        "topic",
        "Papers on {subject}, with their DOIs:\n1.",
        "List {n} papers on {subject} with their DOIs.",
    ),
}
FORMS = ("completion", "chat")


def render(family: Family, form: str, subject: str, n_requested: int) -> Prompt:
    """The prompt text (completion) or one-message chat for a subject."""
    if form == "completion":
        return family.completion.format(subject=subject, n=n_requested)
    return (ChatMessage("user", family.chat.format(subject=subject, n=n_requested)),)


def completion_prefix(family: Family, form: str) -> str:
    """What the completion template already wrote of the answer ("1." or "@"), to re-attach
    before extraction so the first list item or BibTeX entry is complete."""
    if form != "completion":
        return ""
    tail = family.completion.rsplit("\n", 1)[-1] if "\n" in family.completion else ""
    return tail if tail in {"1.", "@"} else ""


def slug(text: str) -> str:
    """A readable, id-safe form of a subject ("Mara Lindqvist" -> "mara-lindqvist")."""
    return re.sub(r"[^a-z0-9]+", "-", text.casefold()).strip("-")[:60] or "subject"
