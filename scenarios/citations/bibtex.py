"""A tolerant BibTeX reader for both bibliography files and model output.

Written by hand rather than with ``bibtexparser`` because model output is routinely broken
BibTeX (an entry cut off by the token limit, a missing comma, prose between entries), and the
scenario must still recover the fields that are there. Entries are found by ``@type{`` and read
to the matching closing brace, or to the next entry / end of text when the brace never closes.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

ENTRY_START = re.compile(r"@\s*([A-Za-z]+)\s*[{(]")
SKIPPED_TYPES = frozenset({"string", "comment", "preamble"})
FIELD_NAME = re.compile(r"\s*([A-Za-z][\w\-:.]*)\s*=\s*")


@dataclass(frozen=True)
class BibtexEntry:
    """One entry: its type, citation key, lower-cased field names to raw values, and text span."""

    entry_type: str
    key: str
    fields: dict[str, str]
    span: tuple[int, int]


def _matching_end(text: str, start: int, opener: str) -> tuple[int, bool]:
    """(index just past the closing delimiter, whether it closed) of the entry opened before ``start``.

    An entry that never closes ends at the next line starting a new entry, or at the end of text.
    """
    open_char, close_char = ("{", "}") if opener == "{" else ("(", ")")
    depth = 1
    index = start
    while index < len(text):
        char = text[index]
        if char == "\\":
            index += 2
            continue
        if char == open_char:
            depth += 1
        elif char == close_char:
            depth -= 1
            if depth == 0:
                return index + 1, True
        elif char == "@" and (index == 0 or text[index - 1] == "\n") and ENTRY_START.match(text, index):
            return index, False
        index += 1
    return len(text), False


def _read_value(body: str, index: int) -> tuple[str, int]:
    """Read one field value (braced, quoted, bare, or ``#``-concatenated) starting at ``index``."""
    parts: list[str] = []
    while index < len(body):
        while index < len(body) and body[index].isspace():
            index += 1
        if index >= len(body):
            break
        char = body[index]
        if char == "{":
            depth, end = 1, index + 1
            while end < len(body) and depth:
                depth += {"{": 1, "}": -1}.get(body[end], 0)
                end += 1
            parts.append(body[index + 1 : end - 1] if depth == 0 else body[index + 1 : end])
            index = end
        elif char == '"':
            end = index + 1
            depth = 0
            while end < len(body) and not (body[end] == '"' and depth == 0):
                depth += {"{": 1, "}": -1}.get(body[end], 0)
                end += 1
            parts.append(body[index + 1 : end])
            index = end + 1
        else:
            match = re.match(r"[^,#}\n]+", body[index:])
            token = match.group(0).strip() if match else ""
            parts.append(token)
            index += match.end() if match else 1
        while index < len(body) and body[index].isspace():
            index += 1
        if index < len(body) and body[index] == "#":
            index += 1
            continue
        break
    return "".join(parts), index


def parse_fields(body: str) -> dict[str, str]:
    """The ``name = value`` pairs of an entry body (after the citation key)."""
    fields: dict[str, str] = {}
    index = 0
    while index < len(body):
        match = FIELD_NAME.match(body, index)
        if not match:
            next_comma = body.find(",", index)
            if next_comma == -1:
                break
            index = next_comma + 1
            continue
        value, index = _read_value(body, match.end())
        fields.setdefault(match.group(1).lower(), clean_latex(value))
        comma = body.find(",", index)
        if comma == -1:
            break
        index = comma + 1
    return fields


def clean_latex(value: str) -> str:
    """Drop protective braces and simple LaTeX markup, and collapse whitespace."""
    value = re.sub(r"\\(?:emph|textit|textbf|textsc|mathrm|mbox)\s*", "", value)
    value = re.sub(r"\\[\"'`^~=.uvHckb]\s*\{?([A-Za-z])\}?", r"\1", value)  # accents: {\"u} -> u
    value = value.replace("\\&", "&").replace("--", "–")
    return " ".join(value.replace("{", "").replace("}", "").split())


def iter_entries(text: str) -> Iterator[BibtexEntry]:
    """Every entry in ``text`` (``@string``, ``@comment`` and ``@preamble`` are skipped)."""
    position = 0
    while match := ENTRY_START.search(text, position):
        end, closed = _matching_end(text, match.end(), text[match.end() - 1])
        entry_type = match.group(1).lower()
        position = max(end, match.end())
        if entry_type in SKIPPED_TYPES:
            continue
        inner = text[match.end() : end - 1 if closed else end]
        key, comma, body = inner.partition(",")
        if not comma or "=" in key:
            key, body = "", inner
        yield BibtexEntry(entry_type, key.strip(), parse_fields(body), (match.start(), end))


def split_bibtex_authors(value: str) -> tuple[str, ...]:
    """The names of a BibTeX ``author`` field ("A and B and others"); "others" is dropped."""
    names = [" ".join(n.split()) for n in re.split(r"\s+and\s+", value) if n.strip()]
    return tuple(n for n in names if n.casefold() not in {"others", "et al.", "et al"})


def bibtex_year(fields: dict[str, str]) -> int | None:
    """The four-digit year of an entry (from ``year`` or ``date``), or None."""
    for name in ("year", "date"):
        match = re.search(r"\b(1[5-9]\d\d|20\d\d)\b", fields.get(name, ""))
        if match:
            return int(match.group(1))
    return None


def bibtex_venue(fields: dict[str, str]) -> str | None:
    """Where an entry appeared: journal, booktitle, publisher-like fields, in that order."""
    for name in ("journal", "journaltitle", "booktitle", "series", "howpublished", "publisher", "school"):
        if fields.get(name):
            return fields[name]
    return None


def bibtex_arxiv(fields: dict[str, str]) -> str | None:
    """The arXiv id of an entry, from ``eprint`` (with archivePrefix arXiv) or an arXiv journal."""
    if fields.get("eprint") and fields.get("archiveprefix", "arxiv").lower() == "arxiv":
        return fields["eprint"]
    journal = fields.get("journal", "")
    match = re.search(r"arxiv[:\s]*(?:preprint\s*)?(?:arxiv:)?\s*(\d{4}\.\d{4,5})", journal, re.IGNORECASE)
    return match.group(1) if match else None
