"""Free text -> structured citations (title, authors, year, venue, DOI, arXiv id).

The parser is a cascade of patterns, tried in order on each candidate reference:

1. **BibTeX** entries anywhere in the text (``@article{...}``, also unclosed ones).
2. The rest is cut into **items**: numbered (``1.``, ``1)``, ``[1]``) or bulleted (``-``, ``*``,
   ``•``) list items with their indented or labelled continuation lines ("Authors: ...",
   "DOI: ..."); outside lists, each line is a candidate but is kept only with strong evidence
   (a quoted title, an author–year pattern, or an identifier). Several quoted titles in one
   prose line become several citations.
3. Each item is parsed by the first pattern that fits: a **quoted** title (straight or curly
   quotes; IEEE/MLA styles), **APA** ``Authors (Year). Title. Venue.``, a Markdown **bold** or
   *italic* title, ``Title by Authors (Year)``, ``Title (Authors, Year)``, dash- or
   sentence-separated ``Authors. Title. Venue, Year.``, and finally the whole item as the title.
4. DOIs (``10.xxxx/...``, ``doi.org`` URLs) and arXiv ids (``arXiv:2106.01345``,
   ``arxiv.org/abs/...``) are picked up wherever they appear in an item; one alone on a line is
   an identifier-only citation.

Which pattern matched is kept in ``Citation.style``. Recall on real model answers is measured by
``tests/scenarios/citations/test_citations_agrawal.py`` (see docs/citations.md).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from scenarios.citations.bibtex import (
    bibtex_arxiv,
    bibtex_venue,
    bibtex_year,
    iter_entries,
    split_bibtex_authors,
)
from scenarios.citations.names import author_strength, parse_authors
from scenarios.citations.normalize import ARXIV_PATTERN, DOI_PATTERN, normalize_arxiv, normalize_doi
from scenarios.citations.records import Citation

LIST_MARKER = re.compile(
    r"^(?P<indent>[ \t]*)"
    r"(?:(?:\[\d{1,3}\]|\(\d{1,3}\)|\d{1,3}[.)](?!\d)|[-*•·‣▪◦–])[ \t]+|\d{1,3}\.(?=[A-Z\"“*]))"
)
LABEL = re.compile(
    r"^[\s\-*•]*\**\s*(?P<label>title|authors?|by|year|date|venue|journal|conference|booktitle|"
    r"published in|publication|publisher|source|doi|arxiv(?: id)?|url|link)"
    r"\s*\**\s*[:：]\s*\**\s*(?P<value>.*?)\**\s*$",
    re.IGNORECASE,
)
LABEL_FIELDS = {
    "title": "title",
    "author": "authors",
    "authors": "authors",
    "by": "authors",
    "year": "year",
    "date": "year",
    "venue": "venue",
    "journal": "venue",
    "conference": "venue",
    "booktitle": "venue",
    "published in": "venue",
    "publication": "venue",
    "publisher": "venue",
    "source": "venue",
    "doi": "ids",
    "arxiv": "ids",
    "arxiv id": "ids",
    "url": "ids",
    "link": "ids",
}
YEAR = r"(?:19|20)\d{2}"
PAREN_YEAR = re.compile(rf"\(\s*(?:[^()]*?,\s*)?({YEAR})[a-z]?\s*\)")
ANY_YEAR = re.compile(rf"(?<![\d./-])({YEAR})[a-z]?(?![\d/])")
QUOTES = [
    re.compile(r"“\s*([^”\n]{3,}?)\s*”"),
    re.compile(r'"\s*([^"\n]{3,}?)\s*"'),
    re.compile(r"‘\s*([^’\n]{3,}?)\s*’"),
    re.compile(r"«\s*([^»\n]{3,}?)\s*»"),
]
BOLD = re.compile(r"\*\*\s*([^*\n]{3,}?)\s*\*\*|__\s*([^_\n]{3,}?)\s*__")
ITALIC = re.compile(
    r"(?<![*\w])\*(?!\s)([^*\n]{3,}?)(?<!\s)\*(?![*\w])|(?<![_\w])_(?!\s)([^_\n]{3,}?)(?<!\s)_(?![_\w])"
)
URL = re.compile(r"<?https?://\S+>?|\bwww\.\S+")
IDENTIFIER_TEXT = re.compile(
    rf"\(?\b(?:doi|DOI)\s*:?\s*{DOI_PATTERN.pattern}\)?|\(?{DOI_PATTERN.pattern}\)?|"
    r"\(?\barxiv(?:\s*preprint)?\s*:?\s*(?:arxiv:)?\s*(?:\d{4}\.\d{4,5}|[a-z\-]+/\d{7})(?:v\d+)?\)?",
    re.IGNORECASE,
)
DASHES = re.compile(r"\s+[-–—]\s+")
SENTENCE_END = re.compile(r"(?<=[.?!])\s+(?=[A-Z0-9\"“*(\[])")
ABBREVIATIONS = re.compile(
    r"(?:\b[A-Z]|\bProc|\bVol|\bvol|\bpp|\bNo|\bEds?|\bed|\bJr|\bSr|\bInc|\bvs|\be\.g|\bi\.e|\bSt|\bDr|\bJ|\bTrans|\bConf|\bInt|\bIntl|\bAssoc|\bComput|\bSci)\.$"
)
VENUE_WORDS = re.compile(
    r"\b(?:proceedings|proc\.|conference|journal|transactions|trans\.|press|symposium|workshop|letters|"
    r"review|magazine|arxiv|preprint|publishing|publishers?|springer|elsevier|wiley|ieee|acm|mit|"
    r"university|neurips|nips|icml|iclr|acl|emnlp|naacl|cvpr|iccv|eccv|aaai|ijcai|kdd|sigmod|vldb|"
    r"usenix|nature|science|vol\.|volume|pp\.|pages|chapter|edition|ed\.)",
    re.IGNORECASE,
)
DESCRIPTION = re.compile(
    r"\s+[-–—:]\s+(?=(?:this|the|in this|it|these|here|a|an)?\s*(?:paper|book|article|work|study|survey|"
    r"discusses|explores|introduces|presents|provides|describes|covers|examines|focuses|offers|proposes|"
    r"reviews|analy[sz]es|investigates|shows|is a|comprehensive|overview)\b)",
    re.IGNORECASE,
)
NOT_VENUE = re.compile(r"(?:co-?authored|written|edited|with|by|this|it|a|an|see)\b", re.IGNORECASE)
PROSE_START = re.compile(
    r"^(?:please|note|remember|you|i|i'm|we|it|if|keep|make sure|be sure|these|this|there|they|here|"
    r"as an|unfortunately|however|sorry)\b",
    re.IGNORECASE,
)
INSTRUCTION = re.compile(
    r"^(?:search|check|visit|consult|try|contact|look|use|browse|go|refer|explore|read|email|ask)\s+"
    r"(?:for|the|his|her|their|your|a|an|on|at|in|to|google|dblp|semantic|acm|ieee|arxiv|pubmed|scholar|"
    r"online|it|them|up|through|with|out)\b",
    re.IGNORECASE,
)
TITLE_LABEL = re.compile(r"^[\s\-*•]*\**\s*title\s*\**\s*[:：]", re.IGNORECASE)


@dataclass
class _Item:
    """A candidate reference: its lines, where it starts, and whether it came from a list."""

    lines: list[str]
    start: int
    end: int
    listed: bool
    indent: int = 0
    labelled: bool = False
    extra: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


def extract_citations(text: str) -> list[Citation]:
    """All citations in a model response, in order of appearance."""
    citations: list[Citation] = []
    masked = list(text)
    for entry in iter_entries(text):
        title = entry.fields.get("title")
        doi = normalize_doi(entry.fields.get("doi") or entry.fields.get("url"))
        arxiv = normalize_arxiv(bibtex_arxiv(entry.fields))
        if not (title or doi or arxiv):
            continue
        citations.append(
            Citation(
                raw=text[entry.span[0] : entry.span[1]],
                title=_clean_title(title) if title else None,
                authors=split_bibtex_authors(entry.fields.get("author", "")),
                year=bibtex_year(entry.fields),
                venue=bibtex_venue(entry.fields),
                doi=doi,
                arxiv=arxiv,
                style="bibtex",
                span=entry.span,
            )
        )
        for index in range(*entry.span):
            if masked[index] != "\n":
                masked[index] = " "
    for item in _items("".join(masked)):
        citations.extend(_parse_item(item))
    return sorted(citations, key=lambda c: c.span[0])


def residual_text(text: str, citations: list[Citation]) -> str:
    """The response with every extracted citation removed (for the abstention detector)."""
    pieces, cursor = [], 0
    for citation in sorted(citations, key=lambda c: c.span[0]):
        start, end = citation.span
        if start >= cursor:
            pieces.append(text[cursor:start])
            cursor = end
    pieces.append(text[cursor:])
    return "\n".join(p for p in pieces if p.strip())


def _line_spans(text: str) -> Iterator[tuple[str, int, int]]:
    position = 0
    for line in text.split("\n"):
        yield line, position, position + len(line)
        position += len(line) + 1


def _items(text: str) -> Iterator[_Item]:
    """Group lines into candidate references (see the module docstring, step 2)."""
    current: _Item | None = None
    previous_blank = False
    for line, start, end in _line_spans(text):
        if not line.strip():
            previous_blank = True
            continue
        marker = LIST_MARKER.match(line)
        label = LABEL.match(line)
        indent = len(line) - len(line.lstrip())
        continues = current is not None and (
            (marker is not None and current.listed and indent > current.indent)
            or (marker is None and label is not None and not TITLE_LABEL.match(line))
            or (marker is None and current.listed and indent > current.indent and not previous_blank)
            or (marker is None and DOI_PATTERN.search(line) is not None and len(line.split()) <= 3)
        )
        if current is not None and continues:
            current.extra.append(line)
            current.end = end
        else:
            if current is not None:
                yield current
            if marker is not None:
                current = _Item([line[marker.end() :]], start, end, True, indent)
            else:
                current = _Item([line], start + indent, end, False, indent, labelled=label is not None)
        previous_blank = False
    if current is not None:
        yield current


def _labelled_fields(lines: list[str]) -> tuple[dict[str, str], list[str]]:
    """Split "Label: value" lines (Authors:, Year:, DOI:, ...) from the other lines."""
    fields: dict[str, str] = {}
    others: list[str] = []
    for line in lines:
        match = LABEL.match(line)
        if match and match.group("value").strip():
            key = LABEL_FIELDS[match.group("label").lower()]
            value = match.group("value").strip()
            fields[key] = f"{fields[key]} {value}" if key == "ids" and key in fields else value
        else:
            others.append(line)
    return fields, others


def _parse_item(item: _Item) -> list[Citation]:
    fields, others = _labelled_fields(item.lines + item.extra)
    main = " ".join(others[:1]).strip() if others else ""
    whole = item.text + "\n" + "\n".join(item.extra)
    doi = normalize_doi(fields.get("ids", "") + " " + whole)
    arxiv_match = ARXIV_PATTERN.search(fields.get("ids", "") + " " + whole)
    arxiv = arxiv_match.group("id").lower() if arxiv_match else None
    span = (item.start, item.end)
    if not item.listed and not fields.get("title"):
        quoted = _quoted_titles(main)
        if len(quoted) >= 2:
            return _prose_citations(main, item.start, quoted)
    head = _strip_description(URL.sub(" ", IDENTIFIER_TEXT.sub(" ", main))).strip(" \t,;")
    parsed = _parse_line(head) if head else _Parsed()
    title = fields.get("title") or parsed.title
    if title:
        title = _clean_title(title)
    authors = parse_authors(fields["authors"]) if fields.get("authors") else parsed.authors
    year_text = fields.get("year") or ""
    year_match = ANY_YEAR.search(year_text)
    year = int(year_match.group(1)) if year_match else parsed.year or _year(fields.get("venue", ""))
    venue = (_venue(fields["venue"]) or fields["venue"]) if fields.get("venue") else parsed.venue
    style = "labelled" if fields.get("title") else parsed.style
    if title and not _plausible_title(title, style, item.listed or item.labelled):
        title = None
    if not item.listed and not fields and title and not _strong_reference(main, style, year):
        title = None  # a prose line with no strong sign of being a reference
    if not title and not doi and not arxiv:
        return []
    if not title:
        style = "identifier"
    return [
        Citation(
            raw=whole.strip(),
            title=title,
            authors=authors,
            year=year,
            venue=venue,
            doi=doi,
            arxiv=arxiv,
            style=style,
            span=span,
        )
    ]


@dataclass
class _Parsed:
    title: str | None = None
    authors: tuple[str, ...] = ()
    year: int | None = None
    venue: str | None = None
    style: str = "plain"


def _parse_line(line: str) -> _Parsed:
    """Parse one reference line by the first pattern that fits (module docstring, step 3)."""
    for parser in (
        _parse_quoted,
        _parse_apa,
        _parse_markdown,
        _parse_by,
        _parse_parenthetical,
        _parse_segments,
    ):
        parsed = parser(line)
        if parsed is not None:
            return parsed
    title = PAREN_YEAR.sub(" ", line)
    title = re.sub(rf"[,.]?\s*{YEAR}\.?\s*$", "", title)
    return _Parsed(title=title, year=_year(line), style="plain")


def _quoted_titles(line: str) -> list[re.Match[str]]:
    for pattern in QUOTES:
        matches = [m for m in pattern.finditer(line) if _wordy(m.group(1))]
        if matches:
            return matches
    return []


def _wordy(text: str) -> bool:
    return len(text.split()) >= 2 or len(text.strip()) >= 8


def _parse_quoted(line: str) -> _Parsed | None:
    matches = _quoted_titles(line)
    if not matches:
        return None
    match = matches[0]
    return _around(line, match.start(), match.end(), match.group(1), "quoted")


def _around(line: str, start: int, end: int, title: str, style: str) -> _Parsed:
    """Fields around a title found at line[start:end]: authors before it or after "by", venue after."""
    before, after = line[:start], line[end:]
    authors: tuple[str, ...] = ()
    before_names = re.sub(r"\(?\b" + YEAR + r"[a-z]?\)?", " ", before).strip(" ,.;:-–—")
    if before_names and author_strength(before_names):
        authors = parse_authors(before_names)
    by = re.match(
        r"^[\s,.;:]*(?:[-–—]\s*)?by\s+(?P<names>[^()\[\]]+?)(?=\s*[(\[,.;]\s*(?:\d|in\b|[A-Z])|\s*[-–—]|\s*$)",
        after,
        re.I,
    )
    if not authors and by and author_strength(by.group("names")):
        authors = parse_authors(by.group("names"))
        after = after[by.end() :]
    return _Parsed(
        title=title, authors=authors, year=_year(before + " " + after), venue=_venue(after), style=style
    )


def _parse_apa(line: str) -> _Parsed | None:
    match = re.match(
        rf"^(?P<authors>[^()]+?)\s*\(\s*(?P<year>{YEAR})[a-z]?(?:,[^)]*)?\)\.?\s+(?P<rest>.+)$", line
    )
    if not match or not author_strength(match.group("authors")):
        return None
    sentences = _sentences(match.group("rest"))
    title = sentences[0] if sentences else None
    venue = _venue(" ".join(sentences[1:])) if len(sentences) > 1 else None
    return _Parsed(title, parse_authors(match.group("authors")), int(match.group("year")), venue, "apa")


def _parse_markdown(line: str) -> _Parsed | None:
    for pattern in (BOLD, ITALIC):
        for match in pattern.finditer(line):
            text = match.group(1) or match.group(2)
            if _wordy(text) and not author_strength(text):
                return _around(line, match.start(), match.end(), text, "markdown")
    return None


def _parse_by(line: str) -> _Parsed | None:
    for match in re.finditer(r",?\s+by\s+", line, re.IGNORECASE):
        names = re.match(
            r"[^()\[\]]+?(?=\s*[(\[]|\s*,\s*(?:\d|in\b)|\s*[-–—.;]\s|\s*\.?$)", line[match.end() :]
        )
        if names and author_strength(names.group(0)):
            rest = line[match.end() + names.end() :]
            return _Parsed(
                title=line[: match.start()],
                authors=parse_authors(names.group(0)),
                year=_year(rest),
                venue=_venue(rest),
                style="by",
            )
    return None


def _parse_parenthetical(line: str) -> _Parsed | None:
    match = re.match(
        rf"^(?P<title>.+?)\s*\((?P<inner>[^()]*?)\s*,?\s*(?P<year>{YEAR})[a-z]?\s*\)(?P<rest>.*)$", line
    )
    if not match or not match.group("title").strip(" ,.;:-–—"):
        return None
    inner = match.group("inner").strip(" ,;")
    authors = parse_authors(inner) if inner and author_strength(inner) else ()
    venue = _venue(match.group("rest")) or (inner if inner and not authors else None)
    return _Parsed(match.group("title"), authors, int(match.group("year")), venue, "parenthetical")


def _parse_segments(line: str) -> _Parsed | None:
    segments = [s for s in DASHES.split(line) if s.strip()]
    splitter = "dashes"
    if len(segments) < 2:
        segments, splitter = _sentences(line), "sentences"
    if len(segments) < 2:
        return None
    raw = _sentences(line, merge_abbreviations=False)
    if splitter == "sentences" and len(raw) >= 2 and author_strength(raw[0]) == "strong":
        segments = raw  # Vancouver style ends the author list with initials: "Hinton G. Deep learning."
    first, second = segments[0], segments[1]
    strength = author_strength(first)
    second_is_venue = bool(VENUE_WORDS.search(second)) or bool(re.fullmatch(rf"\W*{YEAR}\W*", second))
    if strength == "strong" or (strength == "weak" and not second_is_venue and not author_strength(second)):
        rest = " ".join(segments[2:])
        return _Parsed(second, parse_authors(first), _year(line), _venue(rest), "segments")
    second_strength = author_strength(second)
    if splitter == "dashes" and (
        second_strength == "strong"
        or (second_strength == "weak" and all(len(n.split()) >= 2 for n in parse_authors(second)))
    ):
        rest = " ".join(segments[2:])
        return _Parsed(first, parse_authors(second), _year(line), _venue(rest), "segments")
    if second_is_venue:
        return _Parsed(first, (), _year(line), _venue(" ".join(segments[1:])), "segments")
    return None


def _sentences(text: str, merge_abbreviations: bool = True) -> list[str]:
    """Split at sentence ends, but not after initials or common abbreviations ("Proc.", "J.")."""
    pieces = SENTENCE_END.split(text.strip())
    merged: list[str] = []
    for piece in pieces:
        if (
            merge_abbreviations
            and merged
            and ABBREVIATIONS.search(merged[-1])
            and not re.search(r"\bet al\.$", merged[-1])
        ):
            merged[-1] = f"{merged[-1]} {piece}"
        else:
            merged.append(piece)
    return [m.strip().rstrip(".").strip() for m in merged if m.strip(" .")]


def _year(text: str) -> int | None:
    match = PAREN_YEAR.search(text) or ANY_YEAR.search(text)
    return int(match.group(1)) if match else None


def _venue(text: str) -> str | None:
    """The venue in the text after a title: leading "In", years, pages and identifiers removed."""
    text = URL.sub(" ", IDENTIFIER_TEXT.sub(" ", text))
    text = PAREN_YEAR.sub(" ", text)
    text = text.strip(" \t,.;:–—-()[]*_\"'“”")
    text = re.sub(r"^(?:in|published in|presented at|appeared in)\s*:?\s+", "", text, flags=re.IGNORECASE)
    text = re.split(r",\s+(?=(?:this|which|where|it|and it|they|the authors?)\b)", text, maxsplit=1)[0]
    text = re.sub(r"\((?:pp?\.|pages?)[^)]*\)?", " ", text)
    text = re.sub(r",\s*\d.*$", "", text)  # volume, issue and pages: "9(3-4), 211-407"
    text = re.sub(r"[,\s]+(?:vol\.?|volume|pp\.?|pages?|no\.?|issue)\s*\d.*$", "", text, flags=re.IGNORECASE)
    text = re.sub(rf"[.,\s]*\b{YEAR}[a-z]?\s*;.*$", "", text)  # Vancouver: "Nature. 2015;521:436-444"
    text = re.sub(rf"[,\s]*\b{YEAR}[a-z]?\W*$", "", text)
    text = re.sub(r"[,\s]+\d+(?:\s*[(:]\s*\d+\)?)?(?:\s*[,:]\s*\d+\s*[-–]+\s*\d+)?\W*$", "", text)
    text = re.sub(r"\s+\d[\d.\-–()\s:,]*$", "", " ".join(text.split()))  # MLA volume: "14.1-2 (2021): 1-210"
    text = text.strip(" \t,.;:–—-()[]*_\"'“”")
    if not text or len(text.split()) > 15 or DESCRIPTION.search(" - " + text) or NOT_VENUE.match(text):
        return None
    return text


def _strip_description(line: str) -> str:
    """Drop a trailing description ("Title - This paper introduces ...")."""
    match = DESCRIPTION.search(line)
    if match and match.start() > 0:
        return line[: match.start()]
    return line


def _clean_title(title: str) -> str:
    title = re.sub(r"\s+", " ", title).strip()
    title = title.strip(" \t,.;:–—-*_\"'“”‘’«»")
    return title


def _plausible_title(title: str, style: str, listed: bool) -> bool:
    """Reject list items that are prose or instructions rather than references."""
    words = title.split()
    if not words or len(re.sub(r"\W", "", title)) < 3:
        return False
    if style in {"quoted", "labelled", "apa", "by", "markdown"}:
        return len(words) <= 40
    if len(words) > 30 or title.endswith(":") or INSTRUCTION.match(title):
        return False
    return not PROSE_START.match(title) or (listed and _title_case(words))


def _strong_reference(line: str, style: str, year: int | None) -> bool:
    """Whether a line outside any list is a reference: a quoted or APA title, or authors and a year."""
    if line.rstrip().endswith(":"):
        return False
    return style in {"quoted", "apa"} or (style in {"by", "segments", "parenthetical"} and year is not None)


def _title_case(words: list[str]) -> bool:
    capitalised = sum(1 for w in words if w[:1].isupper())
    return capitalised >= max(2, 0.6 * len(words))


def _prose_citations(line: str, offset: int, matches: list[re.Match[str]]) -> list[Citation]:
    """One citation per quoted title in a prose line, with the authors and year that follow it
    ("... "Title" (Kearns and Singh, 2002) ..." or "... "Title" by Dwork et al. (2012) ...")."""
    citations = []
    for index, match in enumerate(matches):
        stop = matches[index + 1].start() if index + 1 < len(matches) else len(line)
        tail = re.split(r"\s+(?:and|or)\s+$|(?<!et al)[.;]\s", line[match.end() : stop], maxsplit=1)[0]
        parsed = _around(tail, 0, 0, match.group(1), "quoted")
        inner = re.match(rf"^\W*\(([^()]*?),?\s*{YEAR}[a-z]?\)", tail)
        authors = parsed.authors
        if not authors and inner and author_strength(inner.group(1)):
            authors = parse_authors(inner.group(1))
        citations.append(
            Citation(
                raw=line[match.start() : stop].strip(),
                title=_clean_title(match.group(1)),
                authors=authors,
                year=_year(tail),
                style="quoted",
                span=(offset + match.start(), offset + stop),
            )
        )
    return citations
