"""Streaming importer for the DBLP XML dump (``dblp.xml`` or ``dblp.xml.gz``, several GB).

The dump is parsed with ``xml.etree.ElementTree.iterparse``: each publication element is
converted when it ends and the root is then cleared, so memory holds one record at a time
whatever the file size (tests check this on a large synthetic dump). Records are filtered while
streaming, by author (any listed author, compared by surname and initial) and by year, so only
the part of DBLP that a run needs is ever kept.

DBLP writes non-ASCII letters as named entities (``&uuml;``) declared in ``dblp.dtd``. expat
does not read external DTDs, so the entities are supplied to the parser: from the ``dblp.dtd``
next to the XML file when there is one, and otherwise from the HTML entity table of the
standard library (the DTD's entities are the ISO 8879 Latin-1 set, which HTML shares).
"""

from __future__ import annotations

import gzip
import html.entities
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO

from harness.errors import ConfigError, DataError
from scenarios.citations.normalize import same_person, strip_accents, surname_key
from scenarios.citations.records import BibRecord

PUBLICATION_TAGS = frozenset(
    {"article", "inproceedings", "proceedings", "book", "incollection", "phdthesis", "mastersthesis"}
)
"""DBLP record types that are publications (``www`` person pages and ``data`` are skipped)."""
DISAMBIGUATION = re.compile(r"\s+\d{4}$")
"""DBLP's suffix that tells namesakes apart ("Wei Wang 0001")."""
ENTITY_DECLARATION = re.compile(r'<!ENTITY\s+(\w+)\s+"&#(x?[0-9A-Fa-f]+);"\s*>')


def dtd_entities(dtd_path: Path | None) -> dict[str, str]:
    """Named entities for the parser: declarations in ``dblp.dtd`` over the HTML defaults."""
    entities = {name: chr(code) for name, code in html.entities.name2codepoint.items()}
    if dtd_path is not None and dtd_path.exists():
        for name, code in ENTITY_DECLARATION.findall(dtd_path.read_text(encoding="latin-1")):
            entities[name] = chr(int(code[1:], 16) if code.startswith("x") else int(code))
    return entities


def _open(path: Path) -> IO[bytes]:
    if not path.exists():
        raise ConfigError(f"scenario.bibliography: DBLP file {path} does not exist")
    return gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")


def _text(element: ET.Element) -> str:
    return " ".join("".join(element.itertext()).split())


def _year(element: ET.Element) -> int | None:
    text = (element.findtext("year") or "").strip()
    return int(text) if text.isdigit() else None


class _AuthorFilter:
    """Cheap author matching for millions of records: a substring test on the folded name
    comes first, and only candidates get the full surname-and-initial comparison."""

    def __init__(self, wanted: Sequence[str]) -> None:
        self.wanted = list(wanted)
        self.keys = [surname_key(name) for name in wanted]

    def __call__(self, authors: Sequence[str]) -> bool:
        for author in authors:
            folded = strip_accents(author).casefold().replace("-", "").replace(" ", "")
            for key, name in zip(self.keys, self.wanted, strict=True):
                if key and key in folded and same_person(name, author):
                    return True
        return False


def _record(element: ET.Element, authors: tuple[str, ...], year: int | None) -> BibRecord | None:
    title_element = element.find("title")
    title = _text(title_element) if title_element is not None else ""
    if not title:
        return None
    venue = element.findtext("journal") or element.findtext("booktitle") or element.findtext("publisher")
    doi = arxiv = None
    for link in element.findall("ee"):
        url = (link.text or "").strip()
        if "doi.org/" in url and doi is None:
            doi = url
        elif "arxiv.org/abs/" in url and arxiv is None:
            arxiv = url
    return BibRecord(
        title=title, authors=authors, year=year, venue=venue, doi=doi, arxiv=arxiv, source="dblp"
    )


def iter_dblp(
    path: Path,
    *,
    authors: Sequence[str] = (),
    min_year: int | None = None,
    max_year: int | None = None,
) -> Iterator[BibRecord]:
    """Stream the publications of a DBLP dump that pass the author and year filters."""
    dtd = path.with_name("dblp.dtd")
    parser = ET.XMLParser()
    parser.entity.update(dtd_entities(dtd))
    author_filter = _AuthorFilter(authors) if authors else None
    handle = _open(path)
    root: ET.Element | None = None
    try:
        for event, element in ET.iterparse(handle, events=("start", "end"), parser=parser):
            if event == "start":
                if root is None:
                    root = element
                continue
            if element.tag not in PUBLICATION_TAGS or root is None:
                continue
            year = _year(element)
            names = tuple(DISAMBIGUATION.sub("", _text(a)) for a in element.findall("author"))
            keep = (
                (min_year is None or (year is not None and year >= min_year))
                and (max_year is None or (year is not None and year <= max_year))
                and (author_filter is None or author_filter(names))
            )
            record = _record(element, names, year) if keep else None
            root.clear()  # drop the finished record (and anything before it) from the tree
            if record is not None:
                yield record
    except ET.ParseError as exc:
        line = exc.position[0] if exc.position else None
        hint = (
            ' (is the <!DOCTYPE dblp SYSTEM "dblp.dtd"> line missing?)'
            if "undefined entity" in str(exc)
            else ""
        )
        raise DataError(f"malformed DBLP XML: {exc}{hint}", path=str(path), line=line) from exc
    finally:
        handle.close()
