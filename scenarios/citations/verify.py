"""The verification cascade (docs/citations.md): does a cited paper exist, and is it cited correctly?

For each citation:

1. **Identifiers.** A DOI or arXiv id is resolved (bibliography first, then the online
   resolvers when enabled). When it resolves and the cited title (if any) matches the record,
   that record is the match. An identifier that does not resolve, or resolves to a different
   paper, is flagged ``wrong_identifier`` and the cascade continues with the title.
2. **Title.** The normalized title (casefold, no accents or punctuation) is compared with
   rapidfuzz's ``ratio`` (normalized Indel similarity, 0–100) against the closest records.
   * ``similarity >= verified_threshold`` – the same title: **verified**;
   * ``similarity >= mangled_threshold`` *and* every content word of the cited title has a
     counterpart in the record (``fuzz.ratio >= word_threshold``; function words ignored) – the
     real title with typos, dropped words or reordering: **mangled**;
   * otherwise no record matches. A near title that *invents* a content word ("Robust Ranking
     for Graph Streams" for "Robust Estimation for Graph Streams") is a different paper.
   A citation that matches no record is **fabricated** only where the sources can speak for it
   (:meth:`Verifier.coverage`): the bibliography is declared complete (a closed world, such as
   the reference model's), the cited or queried author is one whose complete works the
   bibliography holds (``complete_authors``, e.g. a DBLP dump of those persons), or an online
   resolver searched for it and found nothing close. A citation with a stated year after the
   bibliography's cutoff is **unverifiable** (the frozen bibliography cannot know it). Any other
   unmatched citation is **not_covered**: a bibliography that merely lacks a title is no evidence
   that the title does not exist.
3. **Authors.** When the prompt asked for papers by someone, that person must be on the matched
   record; if not, the real paper is **misattributed**. When the citation lists authors, the
   share of them found on the record (surname and initial) must reach ``author_precision``.
4. **Details.** ``wrong_year`` when the year differs by more than ``year_tolerance``;
   ``wrong_venue`` when the venue neither fuzzy-matches (``token_set_ratio >= venue_threshold``)
   nor abbreviates (acronym initials) the record's venue.

Statuses are exclusive and exhaustive: verified, mangled, misattributed, fabricated,
unverifiable, not_covered. The first four are the *covered* citations: those a verdict speaks
for. Thresholds are calibrated in :mod:`scenarios.citations.calibrate` (docs/citations.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from rapidfuzz import fuzz, process

from scenarios.citations.bibliography import Bibliography, title_similarity
from scenarios.citations.normalize import (
    content_words,
    normalize_title,
    same_person,
    surname_key,
    venue_initials,
)
from scenarios.citations.records import BibRecord, Citation
from scenarios.citations.resolvers import Resolver

VERIFIER_VERSION = "2"
Status = Literal["verified", "mangled", "misattributed", "fabricated", "unverifiable", "not_covered"]
COVERED = ("verified", "mangled", "misattributed", "fabricated")
"""The statuses of citations the sources can speak for."""
TITLE_RANK = {"verified": 2, "mangled": 1, "fabricated": 0}


@dataclass(frozen=True)
class Thresholds:
    """The verifier's decision thresholds (defaults calibrated on the Agrawal et al. data)."""

    verified: float = 98.0
    mangled: float = 60.0
    word: float = 80.0
    author_precision: float = 0.5
    venue: float = 80.0
    year_tolerance: int = 0
    candidates: int = 5


@dataclass
class Verdict:
    """The outcome for one citation, with the evidence a reader needs to judge it."""

    status: Status
    similarity: float
    record: BibRecord | None
    closest_title: str | None
    closest_similarity: float
    matched_by: str = "title"
    wrong_year: bool = False
    wrong_venue: bool = False
    wrong_identifier: bool = False
    year_checked: bool = False
    venue_checked: bool = False
    identifier_checked: bool = False
    author_precision: float | None = None
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """JSON form for samples.jsonl and artifacts."""
        return {
            "status": self.status,
            "similarity": round(self.similarity, 2),
            "matched_by": self.matched_by,
            "matched": self.record.as_dict() if self.record else None,
            "closest_title": self.closest_title,
            "closest_similarity": round(self.closest_similarity, 2),
            "wrong_year": self.wrong_year,
            "wrong_venue": self.wrong_venue,
            "wrong_identifier": self.wrong_identifier,
            "author_precision": self.author_precision,
            "notes": self.notes,
        }


def word_support(cited: str, record: str) -> float:
    """How well the record title covers the cited title's content words (0–100).

    The minimum, over the cited title's content words, of the best rapidfuzz ratio against any
    word of the record title; words of three letters or fewer must appear exactly. 100 means
    every content word is in the record, and a low value means the citation invents a word.
    """
    words = content_words(cited)
    record_words = record.split()
    if not words:
        return 100.0
    support = 100.0
    for word in words:
        if word in record_words:
            continue
        if len(word) <= 3:
            return 0.0
        match = process.extractOne(word, record_words, scorer=fuzz.ratio)
        support = min(support, float(match[1]) if match else 0.0)
    return support


def classify_title(similarity: float, support: float, thresholds: Thresholds) -> str:
    """verified / mangled / fabricated from the title similarity and the word support."""
    if similarity >= thresholds.verified:
        return "verified"
    if similarity >= thresholds.mangled and support >= thresholds.word:
        return "mangled"
    return "fabricated"


def title_status(
    cited: str, record: BibRecord, thresholds: Thresholds, similarity: float | None = None
) -> str:
    """verified / mangled / fabricated for one normalized cited title against one record."""
    if similarity is None:
        similarity = title_similarity(cited, record)
    if similarity >= thresholds.verified:
        return "verified"
    return classify_title(similarity, word_support(cited, record.normalized_title), thresholds)


def venue_matches(cited: str, record: str, threshold: float) -> bool:
    """Fuzzy venue equality, containment, or an acronym of the record's venue ("ICML")."""
    a, b = normalize_title(cited), normalize_title(record)
    if not a or not b or a in b or b in a or fuzz.token_set_ratio(a, b) >= threshold:
        return True
    for short, long in ((a, b), (b, a)):
        compact = short.replace(" ", "")
        if (
            len(short.split()) == 1
            and 2 <= len(compact) <= 10
            and _subsequence(compact, venue_initials(long))
        ):
            return True
    return False


def _subsequence(needle: str, haystack: str) -> bool:
    letters = iter(haystack)
    return all(ch in letters for ch in needle)


class Verifier:
    """Runs the cascade against a bibliography and, optionally, online resolvers."""

    def __init__(
        self,
        bibliography: Bibliography,
        thresholds: Thresholds = Thresholds(),
        resolvers: Sequence[Resolver] = (),
        *,
        closed_world: bool = False,
        complete_authors: Sequence[str] = (),
    ) -> None:
        """``closed_world``: the bibliography holds every real paper the prompts can be answered with.

        ``complete_authors``: people whose complete works the bibliography holds.
        """
        self.bibliography = bibliography
        self.thresholds = thresholds
        self.resolvers = list(resolvers)
        self.closed_world = closed_world
        self.complete_authors = list(complete_authors)
        self._complete_by_surname: dict[str, list[str]] = {}
        for person in self.complete_authors:
            self._complete_by_surname.setdefault(surname_key(person), []).append(person)

    def coverage(self, citation: Citation, queried_author: str | None, searched_online: bool) -> str | None:
        """Why the sources can speak for an unmatched citation, or None when they cannot."""
        if self.closed_world:
            return "the bibliography is complete (closed world)"
        people = [*citation.authors, *([queried_author] if queried_author else [])]
        for person in people:
            namesakes = self._complete_by_surname.get(surname_key(person), [])
            complete = next((a for a in namesakes if same_person(person, a)), None)
            if complete is not None:
                return f"the bibliography holds the complete works of {complete}"
        if searched_online:
            return "the online resolvers searched and found nothing close"
        return None

    def verify(self, citation: Citation, queried_author: str | None = None) -> Verdict:
        """The verdict for one citation; ``queried_author`` is the person the prompt asked about."""
        t = self.thresholds
        cited = normalize_title(citation.title or "")
        wrong_identifier = False
        identifier_checked = bool(citation.doi or citation.arxiv)
        if identifier_checked:
            record = self._resolve_identifier(citation)
            if record is not None:
                similarity = title_similarity(cited, record) if cited else 100.0
                if not cited or title_status(cited, record, t, similarity) != "fabricated":
                    verdict = self._judge(citation, cited, [(record, similarity)], queried_author)
                    verdict.matched_by = "doi" if citation.doi else "arxiv"
                    verdict.identifier_checked = True
                    return verdict
            wrong_identifier = True
        if not cited:
            reason = self.coverage(citation, queried_author, searched_online=bool(self.resolvers))
            notes = ["the identifier does not resolve and no title was given", *([reason] if reason else [])]
            return Verdict(
                "fabricated" if reason else "not_covered", 0.0, None, None, 0.0, matched_by="identifier",
                wrong_identifier=True, identifier_checked=True, notes=notes,
            )  # fmt: skip
        candidates = self.bibliography.candidates(cited, limit=t.candidates)
        verdict = self._judge(citation, cited, candidates, queried_author, searched_online=False)
        if verdict.record is None and self.resolvers:
            candidates = self._merge(candidates, self._search_online(citation.title or ""), cited)
            verdict = self._judge(citation, cited, candidates, queried_author, searched_online=True)
        verdict.wrong_identifier = wrong_identifier
        verdict.identifier_checked = identifier_checked
        return verdict

    def _resolve_identifier(self, citation: Citation) -> BibRecord | None:
        record = self.bibliography.by_doi(citation.doi) if citation.doi else None
        if record is None and citation.arxiv:
            record = self.bibliography.by_arxiv(citation.arxiv)
        for resolver in self.resolvers:
            if record is not None:
                break
            record = resolver.by_doi(citation.doi) if citation.doi else None
            if record is None and citation.arxiv:
                record = resolver.by_arxiv(citation.arxiv)
        return record

    def _search_online(self, title: str) -> list[BibRecord]:
        found: list[BibRecord] = []
        for resolver in self.resolvers:
            found.extend(resolver.search_title(title, limit=self.thresholds.candidates))
        return found

    @staticmethod
    def _merge(
        local: list[tuple[BibRecord, float]], online: list[BibRecord], cited: str
    ) -> list[tuple[BibRecord, float]]:
        scored = local + [(r, title_similarity(cited, r)) for r in online if r.normalized_title]
        return sorted(scored, key=lambda pair: -pair[1])

    def _judge(
        self,
        citation: Citation,
        cited: str,
        candidates: list[tuple[BibRecord, float]],
        queried_author: str | None,
        searched_online: bool = False,
    ) -> Verdict:
        """Pick the best candidate (title status, then authorship, then similarity) and check it.

        With no candidate close enough, the citation is unverifiable (dated after the cutoff),
        fabricated (the sources cover it) or not covered.
        """
        t = self.thresholds
        closest_title = candidates[0][0].title if candidates else None
        closest_similarity = candidates[0][1] if candidates else 0.0
        best: tuple[tuple[int, int, float], BibRecord, float, str, float | None] | None = None
        for record, similarity in candidates:
            status = title_status(cited, record, t, similarity) if cited else "verified"
            if status == "fabricated":
                continue
            precision = self._author_precision(citation, record)
            attributed = self._attributed(record, queried_author, precision)
            key = (TITLE_RANK[status], int(attributed), similarity)
            if best is None or key > best[0]:
                best = (key, record, similarity, status, precision)
        if best is None:
            cutoff = self.bibliography.cutoff_year
            late = citation.year is not None and cutoff is not None and citation.year > cutoff
            if late:
                return Verdict("unverifiable", closest_similarity, None, closest_title, closest_similarity)
            reason = self.coverage(citation, queried_author, searched_online)
            verdict = Verdict(
                "fabricated" if reason else "not_covered",
                closest_similarity,
                None,
                closest_title,
                closest_similarity,
            )
            verdict.notes.append(reason or "no source covers it: not in the bibliography, no resolver asked")
            return verdict
        (_, attributed, _), record, similarity, title_verdict, precision = best
        verdict = Verdict(
            status=title_verdict if attributed else "misattributed",  # type: ignore[arg-type]
            similarity=similarity,
            record=record,
            closest_title=record.title,
            closest_similarity=similarity,
            author_precision=precision,
        )
        if not attributed:
            queried_missing = queried_author and not self._has_author(record, queried_author)
            verdict.notes.append(
                f"{queried_author} is not an author"
                if queried_missing
                else "the cited authors are not the record's authors"
            )
        if citation.year is not None and record.year is not None:
            verdict.year_checked = True
            verdict.wrong_year = abs(citation.year - record.year) > t.year_tolerance
        if citation.venue and record.venue:
            verdict.venue_checked = True
            verdict.wrong_venue = not venue_matches(citation.venue, record.venue, t.venue)
        return verdict

    @staticmethod
    def _has_author(record: BibRecord, person: str) -> bool:
        return any(same_person(person, author) for author in record.authors)

    @staticmethod
    def _author_precision(citation: Citation, record: BibRecord) -> float | None:
        if not citation.authors or not record.authors:
            return None
        found = sum(
            1 for cited in citation.authors if any(same_person(cited, real) for real in record.authors)
        )
        return found / len(citation.authors)

    def _attributed(self, record: BibRecord, queried_author: str | None, precision: float | None) -> bool:
        if queried_author and record.authors and not self._has_author(record, queried_author):
            return False
        return precision is None or precision >= self.thresholds.author_precision
