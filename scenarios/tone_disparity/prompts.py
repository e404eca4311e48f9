"""Prompt sources of the tone_disparity scenario: counterfactual tuples, or BOLD prompts.

**Counterfactual tuples** (``format: tuples``) cross two tables:

* *templates* – ``id``, ``genre`` and ``text``, a prompt with placeholders in braces
  (``{name}``, ``{subject}``, ...); a placeholder with a capital first letter (``{Subject}``)
  inserts the term capitalised.
* *terms* – ``set``, ``group`` and one column per placeholder. The rows of one ``set`` fill
  the placeholders once per demographic group ("Emily, she, her" / "James, he, his"); every set
  names the same groups.

Each (template, set) is one tuple: the same template with only the demographic terms changed,
one instance per group, all sharing the tuple id ``<template>|<set>``. The embedded default
(``templates.jsonl`` and ``terms.csv`` here, written for this project) has 24 templates in four
genres (reference letters, biographies, performance reviews, short stories) and 8 pairs of
female and male names with their pronouns and group nouns: 192 tuples. Your own tables may be
JSONL or CSV files; a bad row (a missing or empty field, an empty term) raises one error naming
the file and line.

**BOLD** (``format: bold``; Dhamala et al. 2021) prompts are Wikipedia sentence openings about
real people, grouped by category (``American_actors`` / ``American_actresses``, ...). They are
not counterfactual: each prompt is its own tuple and the analysis is unpaired, clustered by the
person (``template`` is ``<domain>/<entity>``). Read through the toxicity scenario's BOLD loader:
local ``<domain>_prompt.json`` files, or a Hub dataset (default ``AlexaAI/bold``).
"""

from __future__ import annotations

import csv
import string
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.errors import ConfigError, DataError
from harness.jsonl import read_jsonl
from harness.types import Instance
from scenarios.toxicity import loaders as toxicity_loaders

HERE = Path(__file__).parent
DEFAULT_TEMPLATES = HERE / "templates.jsonl"
DEFAULT_TERMS = HERE / "terms.csv"
TEMPLATE_FIELDS = ("id", "genre", "text")
TERM_FIELDS = ("set", "group")


@dataclass(frozen=True)
class Template:
    """One prompt template: its id, genre, text and the placeholders it uses."""

    id: str
    genre: str
    text: str
    slots: tuple[str, ...]
    line: int


@dataclass(frozen=True)
class TermSet:
    """One set of demographic terms: per group, the value of every slot."""

    id: str
    fillers: dict[str, dict[str, str]]
    line: int


def read_rows(path: Path, required: tuple[str, ...]) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line, row) from a JSONL or CSV file; a row without a required field names the file and line."""
    if not path.is_file():
        raise ConfigError(f"{path} is not a file (give a .jsonl or .csv file)")
    if path.suffix.lower() == ".jsonl":
        yield from read_jsonl(path, required=required)
        return
    if path.suffix.lower() != ".csv":
        raise DataError("unsupported file type; use .jsonl or .csv", path=str(path))
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        missing = [name for name in required if name not in (reader.fieldnames or [])]
        if missing:
            raise DataError(f"missing column(s) {missing}; found {reader.fieldnames}", path=str(path), line=1)
        for row in reader:
            if None in row or any(value is None for value in row.values()):
                raise DataError(
                    f"expected {len(reader.fieldnames or [])} fields, found another number",
                    path=str(path),
                    line=reader.line_num,
                )
            yield reader.line_num, row


def _text(row: dict[str, Any], key: str, path: Path, line: int) -> str:
    value = row.get(key)
    if not isinstance(value, str | int) or not str(value).strip():
        raise DataError(f"field {key!r} must be a non-empty string", path=str(path), line=line)
    return str(value).strip()


def _term(row: dict[str, Any], column: str, path: Path, line: int) -> str:
    """A placeholder value: a non-empty string (an empty cell would leave a hole in every prompt)."""
    value = row[column]
    if isinstance(value, bool) or not isinstance(value, str | int):
        message = f"column {column!r} must be a term (a string), not {value!r}"
        raise DataError(message, path=str(path), line=line)
    if not str(value).strip():
        raise DataError(
            f"column {column!r} is empty; every placeholder column needs a term in every row",
            path=str(path),
            line=line,
        )
    return str(value)


def load_templates(path: Path) -> list[Template]:
    """The templates of ``path`` (see the module docstring), with their placeholders checked."""
    templates: list[Template] = []
    seen: set[str] = set()
    for line, row in read_rows(path, TEMPLATE_FIELDS):
        template_id = _text(row, "id", path, line)
        if template_id in seen:
            raise DataError(f"duplicate template id {template_id!r}", path=str(path), line=line)
        seen.add(template_id)
        text = _text(row, "text", path, line)
        try:
            slots = tuple(
                dict.fromkeys(field for _, field, _, _ in string.Formatter().parse(text) if field is not None)
            )
        except ValueError as exc:
            raise DataError(
                f"bad placeholder in text ({exc}); write braces as {{{{ }}}}", path=str(path), line=line
            ) from exc
        bad = [s for s in slots if not s.isidentifier()]
        if bad or not slots:
            raise DataError(
                f"text needs placeholders like {{name}} and only those; found {bad or 'none'}",
                path=str(path),
                line=line,
            )
        templates.append(Template(template_id, _text(row, "genre", path, line), text, slots, line))
    if not templates:
        raise DataError("no templates", path=str(path))
    return templates


def load_terms(path: Path) -> list[TermSet]:
    """The term sets of ``path``: every set names the same groups, each once."""
    sets: dict[str, TermSet] = {}
    for line, row in read_rows(path, TERM_FIELDS):
        set_id, group = _text(row, "set", path, line), _text(row, "group", path, line)
        fillers = {str(k): _term(row, str(k), path, line) for k in row if k not in TERM_FIELDS}
        term_set = sets.setdefault(set_id, TermSet(set_id, {}, line))
        if group in term_set.fillers:
            raise DataError(f"set {set_id!r} names group {group!r} twice", path=str(path), line=line)
        term_set.fillers[group] = fillers
    if not sets:
        raise DataError("no term sets", path=str(path))
    groups = sorted(next(iter(sets.values())).fillers)
    for term_set in sets.values():
        if sorted(term_set.fillers) != groups:
            raise DataError(
                f"set {term_set.id!r} names groups {sorted(term_set.fillers)}, the first set {groups}; "
                "every set must name the same groups",
                path=str(path),
                line=term_set.line,
            )
    if len(groups) < 2:
        raise DataError(f"the term sets name one group ({groups[0]}); a comparison needs two", path=str(path))
    return list(sets.values())


def _filler(values: dict[str, str], slot: str) -> str | None:
    if slot in values:
        return values[slot]
    lower = slot[:1].lower() + slot[1:]
    if slot[:1].isupper() and lower in values:
        return values[lower][:1].upper() + values[lower][1:]
    return None


def counterfactual_tuples(templates_path: Path, terms_path: Path) -> Iterator[Instance]:
    """One instance per (template, term set, group); a template's unknown placeholder names its line."""
    templates, term_sets = load_templates(templates_path), load_terms(terms_path)
    for template in templates:
        for term_set in term_sets:
            for group, values in sorted(term_set.fillers.items()):
                filled = {slot: _filler(values, slot) for slot in template.slots}
                unknown = [slot for slot, value in filled.items() if value is None]
                if unknown:
                    raise DataError(
                        f"template {template.id!r} uses {{{unknown[0]}}}, which {terms_path} has no "
                        f"column for (columns: {sorted(values)})",
                        path=str(templates_path),
                        line=template.line,
                    )
                tuple_id = f"{template.id}|{term_set.id}"
                yield Instance(
                    id=f"{tuple_id}|{group}",
                    input=template.text.format_map(filled),
                    metadata={
                        "tuple": tuple_id,
                        "template": template.id,
                        "genre": template.genre,
                        "group": group,
                        "term": values.get("name") or next(iter(values.values()), ""),
                    },
                )


def bold_prompts(data: str | None, split: str) -> Iterator[Instance]:
    """BOLD prompts as unpaired instances (see the module docstring)."""
    for instance in toxicity_loaders.load_bold(data, split):
        domain, entity = instance.metadata["prompt_type"], instance.metadata["entity"]
        yield Instance(
            id=instance.id,
            input=instance.input,
            metadata={
                "tuple": instance.id,
                "template": f"{domain}/{entity}",
                "genre": domain,
                "group": instance.metadata["group"],
                "term": entity,
            },
        )
