"""The two kinds of reference this scenario handles: what a model cited, and what really exists."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from scenarios.citations.normalize import normalize_arxiv, normalize_doi, normalize_title


@dataclass(frozen=True)
class Citation:
    """One reference extracted from a model's free text.

    Every field but ``raw`` may be missing: a bare DOI has no title, a title-only list item has
    no authors. ``style`` names the pattern that parsed it (``bibtex``, ``quoted``, ``apa``,
    ``by``, ``parenthetical``, ``segments``, ``plain`` or ``identifier``) and ``span`` is its
    character range in the response.
    """

    raw: str
    title: str | None = None
    authors: tuple[str, ...] = ()
    year: int | None = None
    venue: str | None = None
    doi: str | None = None
    arxiv: str | None = None
    style: str = "plain"
    span: tuple[int, int] = (0, 0)

    def as_dict(self) -> dict[str, Any]:
        """The citation as plain JSON data (for samples.jsonl and artifacts)."""
        return {
            "title": self.title,
            "authors": list(self.authors),
            "year": self.year,
            "venue": self.venue,
            "doi": self.doi,
            "arxiv": self.arxiv,
            "style": self.style,
        }


@dataclass(frozen=True)
class BibRecord:
    """One real publication of a bibliography (or one answer of an online resolver)."""

    title: str
    authors: tuple[str, ...] = ()
    year: int | None = None
    venue: str | None = None
    doi: str | None = None
    arxiv: str | None = None
    topics: tuple[str, ...] = ()
    source: str = "bibliography"
    normalized_title: str = field(init=False, compare=False, repr=False)
    normalized_main_title: str = field(init=False, compare=False, repr=False)
    """The title before its subtitle ("Clean Code" of "Clean Code: A Handbook of ..."), normalized;
    the whole title when there is no subtitle."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "doi", normalize_doi(self.doi))
        object.__setattr__(self, "arxiv", normalize_arxiv(self.arxiv))
        object.__setattr__(self, "normalized_title", normalize_title(self.title))
        main = re.split(r"\s*[:?!]\s+|\s+[-–—]\s+", self.title.strip(), maxsplit=1)[0]
        object.__setattr__(self, "normalized_main_title", normalize_title(main) or self.normalized_title)

    def as_dict(self) -> dict[str, Any]:
        """The record as plain JSON data."""
        return {
            "title": self.title,
            "authors": list(self.authors),
            "year": self.year,
            "venue": self.venue,
            "doi": self.doi,
            "arxiv": self.arxiv,
            "source": self.source,
        }
