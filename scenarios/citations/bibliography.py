"""A frozen bibliography: the ground truth citations are verified against.

A bibliography is any table with a ``title`` column and optional ``authors``, ``year``,
``venue``, ``doi``, ``arxiv`` and ``topic`` columns, loaded through ``datasets`` from a local
JSONL/CSV/parquet file or a Hub dataset name. Importers read BibTeX (``.bib``), CSL-JSON
(``.json`` holding a list of CSL items) and the DBLP XML dump (``.xml``/``.xml.gz``, streamed:
see :mod:`scenarios.citations.dblp`). The reference model's fictional field comes from
:func:`reference_bibliography`.

A ``cutoff_year`` freezes the bibliography: later records are dropped, so a verdict does not
change as the world publishes more, and citations dated after the cutoff are reported as
*unverifiable* rather than fabricated.
"""

from __future__ import annotations

import itertools
import json
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

from rapidfuzz import fuzz, process

from harness.errors import ConfigError, DataError, check_choice
from harness.types import stable_hash
from scenarios.citations.bibtex import (
    bibtex_arxiv,
    bibtex_venue,
    bibtex_year,
    iter_entries,
    split_bibtex_authors,
)
from scenarios.citations.normalize import STOPWORDS, normalize_arxiv, normalize_doi
from scenarios.citations.records import BibRecord

TABLE_BUILDERS = {".jsonl": "json", ".json": "json", ".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}
COLUMN_ALIASES = {
    "title": ("title",),
    "authors": ("authors", "author", "creators"),
    "year": ("year", "publication_year", "date", "issued"),
    "venue": ("venue", "journal", "booktitle", "container_title", "container-title", "publisher"),
    "doi": ("doi", "DOI"),
    "arxiv": ("arxiv", "arxiv_id", "eprint"),
    "topics": ("topic", "topics", "keywords"),
}
FORMATS = ("auto", "table", "bibtex", "csl_json", "dblp_xml")


class Bibliography:
    """Records indexed by normalized title, DOI, arXiv id and author surname."""

    def __init__(
        self, records: Iterable[BibRecord], name: str = "bibliography", cutoff_year: int | None = None
    ) -> None:
        kept = [
            r
            for r in records
            if r.normalized_title and (cutoff_year is None or r.year is None or r.year <= cutoff_year)
        ]
        self.records: list[BibRecord] = kept
        self.name = name
        self.cutoff_year = cutoff_year
        self.titles: list[str] = [r.normalized_title for r in kept]
        self.main_titles: list[str] = [r.normalized_main_title for r in kept]
        self._by_doi = {r.doi: i for i, r in enumerate(kept) if r.doi}
        self._by_arxiv = {r.arxiv: i for i, r in enumerate(kept) if r.arxiv}
        self._by_title: dict[str, list[int]] = {}
        for index, (title, main) in enumerate(zip(self.titles, self.main_titles, strict=True)):
            self._by_title.setdefault(title, []).append(index)
            if main != title:
                self._by_title.setdefault(main, []).append(index)

    def __len__(self) -> int:
        return len(self.records)

    def by_doi(self, doi: str | None) -> BibRecord | None:
        """The record with this DOI (any spelling of it), if any."""
        key = normalize_doi(doi)
        return self.records[self._by_doi[key]] if key in self._by_doi else None

    def by_arxiv(self, identifier: str | None) -> BibRecord | None:
        """The record with this arXiv id (version ignored), if any."""
        key = normalize_arxiv(identifier)
        return self.records[self._by_arxiv[key]] if key in self._by_arxiv else None

    def candidates(
        self, normalized_title: str, limit: int = 5, score_cutoff: float = 0.0
    ) -> list[tuple[BibRecord, float]]:
        """The ``limit`` records most similar to a normalized title, with :func:`title_similarity`.

        Exact matches (of the whole title or of the main title before a subtitle) come first and
        include every duplicate record (the arXiv and the conference version of one paper), so
        the author check can pick the right one.
        """
        exact = [(self.records[i], 100.0) for i in self._by_title.get(normalized_title, [])]
        if exact or not self.titles:
            return exact
        best: dict[int, float] = {}
        for choices in (self.titles, self.main_titles):
            for _, score, index in process.extract(
                normalized_title, choices, scorer=fuzz.ratio, limit=limit, score_cutoff=score_cutoff
            ):
                best[index] = max(best.get(index, 0.0), float(score))
        ranked = sorted(best.items(), key=lambda pair: (-pair[1], pair[0]))[:limit]
        return [(self.records[index], score) for index, score in ranked]

    @cached_property
    def author_counts(self) -> Counter[str]:
        """Number of records per author display name."""
        return Counter(author for record in self.records for author in set(record.authors))

    def authors_by_output(self, minimum_papers: int = 1) -> list[str]:
        """Authors with at least ``minimum_papers`` records, most prolific first (ties by name)."""
        counts = self.author_counts
        return sorted((a for a, c in counts.items() if c >= minimum_papers), key=lambda a: (-counts[a], a))

    def topics(self, limit: int) -> list[str]:
        """Topics for topic prompts: the records' own topic labels, else keyphrases of titles."""
        labelled = Counter(t for r in self.records for t in r.topics if t)
        if labelled:
            return [t for t, _ in sorted(labelled.items(), key=lambda kv: (-kv[1], kv[0]))][:limit]
        return derive_topics([r.normalized_title for r in self.records], limit)

    def fingerprint(self) -> str:
        """Hash of the records and the cutoff: changes whenever a verdict could change."""
        return stable_hash([self.cutoff_year, [r.as_dict() for r in self.records]])


def title_similarity(normalized_title: str, record: BibRecord) -> float:
    """rapidfuzz ratio (0–100) of a normalized title with the record's title or its main title,
    whichever is higher: citing a book or paper without its subtitle is common and correct."""
    return float(
        max(
            fuzz.ratio(normalized_title, record.normalized_title),
            fuzz.ratio(normalized_title, record.normalized_main_title),
        )
    )


def derive_topics(normalized_titles: Sequence[str], limit: int) -> list[str]:
    """The most frequent two-word keyphrases of titles (adjacent content words, in >= 2 titles).

    Used when the bibliography carries no topic labels, so topic prompts still ask about
    subjects that the bibliography covers. Phrases are ranked by how many titles contain them.
    """
    frequency: Counter[str] = Counter()
    for title in normalized_titles:
        words = title.split()
        phrases = {
            f"{a} {b}"
            for a, b in itertools.pairwise(words)
            if a not in STOPWORDS and b not in STOPWORDS and not a.isdigit() and not b.isdigit()
        }
        frequency.update(phrases)
    ranked = sorted((p for p, c in frequency.items() if c >= 2), key=lambda p: (-frequency[p], p))
    return ranked[:limit]


def _column(columns: Sequence[str], field: str) -> str | None:
    lowered = {c.lower(): c for c in columns}
    for alias in COLUMN_ALIASES[field]:
        if alias.lower() in lowered:
            return lowered[alias.lower()]
    return None


def _authors(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        parts = (
            re.split(r"\s*;\s*|\s+and\s+|\s*\|\s*", value)
            if re.search(r";| and |\|", value)
            else value.split(",")
        )
        return tuple(p.strip() for p in parts if p.strip())
    names = []
    for item in value:
        if isinstance(item, dict):
            names.append(_csl_name(item))
        elif item:
            names.append(str(item).strip())
    return tuple(n for n in names if n)


def _year(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, int | float) and value == value:
        return int(value)
    match = re.search(r"\b(1[5-9]\d\d|20\d\d)\b", str(value))
    return int(match.group(1)) if match else None


def _topics(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return tuple(t.strip() for t in re.split(r"\s*[;|]\s*", value) if t.strip())
    return tuple(str(t).strip() for t in value if str(t).strip())


def load_table(source: str, split: str = "train") -> list[BibRecord]:
    """Records from a JSONL/CSV/parquet file or a Hub dataset, loaded through ``datasets``."""
    import datasets

    path = Path(source).expanduser()
    builder = TABLE_BUILDERS.get(path.suffix.lower())
    try:
        if builder is not None:
            if not path.exists():
                raise ConfigError(f"scenario.bibliography: file {path} does not exist")
            table = datasets.load_dataset(builder, data_files=str(path), split="train")
        else:
            table = datasets.load_dataset(source, split=split)
    except ConfigError:
        raise
    except (FileNotFoundError, ConnectionError, ValueError, datasets.exceptions.DatasetNotFoundError) as exc:
        raise ConfigError(
            f"scenario.bibliography: cannot load {source!r} "
            f"({type(exc).__name__}: {str(exc).splitlines()[0]}). "
            "Give a local .jsonl/.csv/.parquet/.bib/.json/.xml file, or a Hub dataset name while online."
        ) from exc
    except Exception as exc:  # a malformed file: name it
        raise DataError(
            f"cannot read the bibliography table: {type(exc).__name__}: {exc}", path=str(source)
        ) from exc
    columns = list(table.column_names)
    title_column = _column(columns, "title")
    if title_column is None:
        raise DataError(
            f"the bibliography has no 'title' column (columns: {', '.join(columns)}); "
            "rename the title column to 'title'",
            path=str(source),
        )
    mapping = {field: _column(columns, field) for field in COLUMN_ALIASES}
    first_line = 2 if builder == "csv" else 1
    records = []
    for index, row in enumerate(table):
        title = row[title_column]
        if not isinstance(title, str) or not title.strip():
            raise DataError(
                f"row {index + 1} has an empty 'title'; every bibliography row needs a title",
                path=str(source),
                line=index + first_line if builder in {"csv", "json"} else None,
            )
        get = {field: (row[col] if col else None) for field, col in mapping.items()}
        records.append(
            BibRecord(
                title=title.strip(),
                authors=_authors(get["authors"]),
                year=_year(get["year"]),
                venue=str(get["venue"]).strip() if get["venue"] else None,
                doi=get["doi"],
                arxiv=get["arxiv"],
                topics=_topics(get["topics"]),
            )
        )
    return records


def load_bibtex(path: Path) -> list[BibRecord]:
    """Records from a BibTeX file (entries without a title are skipped)."""
    text = _read_text(path)
    records = []
    for entry in iter_entries(text):
        if not entry.fields.get("title"):
            continue
        records.append(
            BibRecord(
                title=entry.fields["title"],
                authors=split_bibtex_authors(entry.fields.get("author", "")),
                year=bibtex_year(entry.fields),
                venue=bibtex_venue(entry.fields),
                doi=entry.fields.get("doi"),
                arxiv=bibtex_arxiv(entry.fields),
                topics=_topics(entry.fields.get("keywords")),
            )
        )
    if not records:
        raise DataError("no BibTeX entries with a title were found", path=str(path))
    return records


def _csl_name(name: dict[str, Any]) -> str:
    if name.get("literal"):
        return str(name["literal"])
    return " ".join(
        p for p in (name.get("given"), name.get("non-dropping-particle"), name.get("family")) if p
    )


def _csl_year(item: dict[str, Any]) -> int | None:
    for key in ("issued", "published-print", "published-online", "created"):
        value = item.get(key)
        if isinstance(value, dict):
            parts = value.get("date-parts")
            if parts and parts[0] and parts[0][0]:
                return _year(parts[0][0])
            if value.get("raw") or value.get("literal"):
                return _year(value.get("raw") or value.get("literal"))
    return None


def load_csl_json(path: Path) -> list[BibRecord]:
    """Records from CSL-JSON (a list of items, as exported by Zotero, Crossref or pandoc).

    Read with ``json`` rather than ``datasets``: CSL items are nested and heterogeneous (``issued``
    holds date-parts or a raw string), which Arrow cannot give one schema.
    """
    try:
        items = json.loads(_read_text(path))
    except json.JSONDecodeError as exc:
        raise DataError(f"malformed CSL-JSON ({exc.msg})", path=str(path), line=exc.lineno) from exc
    if isinstance(items, dict) and "items" in items:
        items = items["items"]
    if not isinstance(items, list):
        raise DataError("CSL-JSON must be a list of items", path=str(path))
    records = []
    for index, item in enumerate(items):
        title = item.get("title") if isinstance(item, dict) else None
        if isinstance(title, list):
            title = title[0] if title else None
        if not title:
            raise DataError(f"CSL item {index} ({item.get('id', '?')}) has no 'title'", path=str(path))
        venue = item.get("container-title") or item.get("publisher")
        if isinstance(venue, list):
            venue = venue[0] if venue else None
        records.append(
            BibRecord(
                title=str(title),
                authors=_authors(item.get("author") or []),
                year=_csl_year(item),
                venue=venue,
                doi=item.get("DOI"),
                arxiv=item.get("arxiv")
                or (item.get("URL") if "arxiv.org" in str(item.get("URL", "")) else None),
                topics=_topics(item.get("keyword")),
            )
        )
    return records


def _read_text(path: Path) -> str:
    if not path.exists():
        raise ConfigError(f"scenario.bibliography: file {path} does not exist")
    return path.read_text(encoding="utf-8")


def detect_format(source: str) -> str:
    """The importer for a source path by its extension: bibtex, csl_json, dblp_xml or table."""
    lowered = source.lower()
    if lowered.endswith(".bib"):
        return "bibtex"
    if lowered.endswith((".xml", ".xml.gz")):
        return "dblp_xml"
    if lowered.endswith(".json"):
        head = Path(source).expanduser().read_text(encoding="utf-8", errors="replace")[:2000].lstrip()
        if head.startswith("[") and ('"author"' in head or '"container-title"' in head or '"issued"' in head):
            return "csl_json"
    return "table"


def load_records(
    source: str,
    *,
    format: str = "auto",
    split: str = "train",
    dblp_authors: Sequence[str] = (),
    dblp_min_year: int | None = None,
    dblp_max_year: int | None = None,
) -> list[BibRecord]:
    """Records from any supported source (see the module docstring); ``format`` overrides detection."""
    check_choice("scenario.bibliography_format", format, FORMATS)
    chosen = detect_format(source) if format == "auto" else format
    path = Path(source).expanduser()
    if chosen == "bibtex":
        return load_bibtex(path)
    if chosen == "csl_json":
        return load_csl_json(path)
    if chosen == "dblp_xml":
        from scenarios.citations.dblp import iter_dblp

        return list(iter_dblp(path, authors=dblp_authors, min_year=dblp_min_year, max_year=dblp_max_year))
    return load_table(source, split)


def reference_bibliography() -> list[BibRecord]:
    """The fictional field of the embedded reference model (``harness.reference.world``)."""
    from harness.reference import world

    return [
        BibRecord(
            title=p.title, authors=tuple(p.authors), year=p.year, venue=p.venue, doi=p.doi, source="reference"
        )
        for p in world.bibliography()
    ]
