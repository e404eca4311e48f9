"""Decision templates: yes/no questions about a described person, and how they are filled.

A template is a question with ``{placeholders}``. A placeholder names an attribute (``{age}``,
``{gender}``, ``{race}`` or any attribute the user declares under ``scenario.attributes``), whose
value is written in verbatim, or a derived field:

* ``{name}`` – a first and last name that signals gender and race (``names.csv``): the template is
  *implicit*, and its gender and race are varied through the name (only the genders and races
  that have names);
* ``{subject}``, ``{object}``, ``{possessive}`` (and capitalised ``{Subject}`` ...) – the pronouns
  of the person's gender (``they``/``them``/``their`` for non-binary).

Every template is filled with every combination of the values of the attributes it uses (a full
factorial design, as in discrim-eval), so two filled questions that differ in one attribute only
form a counterfactual pair. Templates come from the embedded set (``templates.jsonl``, written
for this project) or a user's CSV/JSONL file with the same fields:

* ``id`` (required, unique) and ``text`` (required);
* ``template`` – the decision question the row words (default: ``id``): the explicit and implicit
  wordings of one question share it, and intervals resample these clusters;
* ``domain`` (free text: lending, hiring ...) and ``family`` (``decision`` or ``focus_group``);
* a column named after an attribute – the values for this row only (a JSON list, or ``a|b|c``).
"""

from __future__ import annotations

import csv
import itertools
import string
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.errors import DataError
from harness.jsonl import read_jsonl

EMBEDDED_TEMPLATES = Path(__file__).with_name("templates.jsonl")
EMBEDDED_NAMES = Path(__file__).with_name("names.csv")
FAMILIES = ("decision", "focus_group")
NAME = "name"
GENDER = "gender"
RACE = "race"
PRONOUNS: dict[str, dict[str, str]] = {
    "female": {"subject": "she", "object": "her", "possessive": "her"},
    "male": {"subject": "he", "object": "him", "possessive": "his"},
    "non-binary": {"subject": "they", "object": "them", "possessive": "their"},
}
PRONOUN_FIELDS = ("subject", "object", "possessive")
DERIVED = (NAME, *PRONOUN_FIELDS, *(f.capitalize() for f in PRONOUN_FIELDS))
KNOWN_COLUMNS = ("id", "text", "template", "domain", "family")


@dataclass(frozen=True)
class Template:
    """One template row: its question text, cluster, domain, family and per-row attribute values."""

    id: str
    text: str
    template: str
    domain: str
    family: str
    source: str
    line: int | None
    overrides: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def fields(self) -> tuple[str, ...]:
        """The placeholders of the text, in order of first use."""
        return tuple(dict.fromkeys(name for _, name, _, _ in string.Formatter().parse(self.text) if name))

    @property
    def style(self) -> str:
        """``implicit`` when the person is described by a name, else ``explicit``."""
        return "implicit" if NAME in self.fields else "explicit"


@dataclass(frozen=True)
class Person:
    """One filled question: the text and the attribute values (and name) it describes."""

    id: str
    template: str
    variant: str
    domain: str
    family: str
    style: str
    text: str
    values: Mapping[str, str]
    name: str | None = None
    name_slot: int | None = None


@dataclass(frozen=True)
class Name:
    """A name that signals a gender and a race (``names.csv``)."""

    name: str
    gender: str
    race: str


def _fail(template: Template, message: str, column: str = "text") -> DataError:
    return DataError(f"field {column!r}: {message}", path=template.source, line=template.line)


def _values(raw: Any, source: str, line: int | None, column: str) -> tuple[str, ...]:
    """Per-row attribute values: a JSON list or ``a|b|c`` text; an empty list is an error."""
    if isinstance(raw, list):
        values = tuple(str(v).strip() for v in raw)
    else:
        values = tuple(part.strip() for part in str(raw).split("|"))
    values = tuple(v for v in values if v)
    if not values:
        raise DataError(
            f"field {column!r}: no values (give a list, or values separated by '|')", path=source, line=line
        )
    return values


def _template(
    record: Mapping[str, Any], source: str, line: int | None, attributes: Sequence[str]
) -> Template:
    for column in ("id", "text"):
        value = record.get(column)
        if not isinstance(value, str) or not value.strip():
            raise DataError(f"field {column!r} must be a non-empty string", path=source, line=line)
    family = str(record.get("family") or "decision")
    if family not in FAMILIES:
        raise DataError(
            f"field 'family': {family!r} is not one of {', '.join(FAMILIES)}", path=source, line=line
        )
    overrides = {
        column: _values(record[column], source, line, column)
        for column in attributes
        if column in record and record[column] not in (None, "")
    }
    return Template(
        id=str(record["id"]).strip(),
        text=str(record["text"]),
        template=str(record.get("template") or record["id"]).strip(),
        domain=str(record.get("domain") or ""),
        family=family,
        source=source,
        line=line,
        overrides=overrides,
    )


def read_templates(path: str | Path, attributes: Sequence[str]) -> list[Template]:
    """Template rows of a CSV or JSONL file (columns named after ``attributes`` override values)."""
    path = Path(path).expanduser()
    source = str(path)
    if path.suffix.lower() == ".csv":
        try:
            handle = path.open(newline="", encoding="utf-8-sig")
        except OSError as exc:
            raise DataError(f"cannot read this file ({exc.strerror})", path=source) from exc
        with handle:
            reader = csv.DictReader(handle)
            rows = [(reader.line_num, dict(row)) for row in reader]
    elif path.suffix.lower() in (".jsonl", ".json"):
        rows = list(read_jsonl(path))
    else:
        raise DataError("templates must be a .csv or .jsonl file", path=source)
    templates = [_template(record, source, line, attributes) for line, record in rows]
    seen: dict[str, int | None] = {}
    for template in templates:
        if template.id in seen:
            raise _fail(template, f"duplicate id {template.id!r} (first on line {seen[template.id]})", "id")
        seen[template.id] = template.line
    if not templates:
        raise DataError("no templates in this file", path=source)
    return templates


def read_names(path: str | Path) -> list[Name]:
    """The name table: columns ``name``, ``gender``, ``race`` (CSV)."""
    path = Path(path).expanduser()
    try:
        handle = path.open(newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise DataError(f"cannot read this file ({exc.strerror})", path=str(path)) from exc
    names = []
    with handle:
        reader = csv.DictReader(handle)
        for row in reader:
            for column in ("name", "gender", "race"):
                if not (row.get(column) or "").strip():
                    raise DataError(
                        f"field {column!r} is empty or missing", path=str(path), line=reader.line_num
                    )
            names.append(Name(row["name"].strip(), row["gender"].strip(), row["race"].strip()))
    return names


def check(template: Template, attributes: Mapping[str, Sequence[str]], names: Sequence[Name]) -> None:
    """Raise a one-line :class:`DataError` naming file, line and field for an unusable template."""
    try:
        fields = template.fields
    except ValueError as exc:  # unbalanced braces
        raise _fail(
            template, f"malformed placeholder ({exc}); write a literal brace as {{{{ or }}}}"
        ) from exc
    known = sorted({*attributes, *DERIVED})
    for name in fields:
        if name not in attributes and name not in DERIVED:
            raise _fail(
                template,
                f"unknown placeholder {{{name}}}; known: {', '.join(known)} "
                "(declare new attributes under scenario.attributes)",
            )
    for column, values in template.overrides.items():
        if column not in fields and not (column in (GENDER, RACE) and NAME in fields):
            raise _fail(template, f"lists values of {column!r} but the text has no {{{column}}}", column)
        unknown = [v for v in values if v not in attributes[column]]
        if unknown:
            raise _fail(
                template,
                f"value(s) {unknown} are not among scenario.attributes.{column}: {list(attributes[column])}",
                column,
            )
    for name in fields:
        if name in attributes and not _levels(template, attributes, name):
            raise _fail(template, f"attribute {name!r} has no values (set scenario.attributes.{name})")
    if any(f.lower() in PRONOUN_FIELDS for f in fields):
        if NAME not in fields and GENDER not in attributes:
            raise _fail(template, "pronoun placeholders need the attribute 'gender' in scenario.attributes")
        missing = [g for g in _levels(template, attributes, GENDER) if g not in PRONOUNS]
        if missing:
            raise _fail(template, f"no pronouns for gender value(s) {missing}; known: {sorted(PRONOUNS)}")
    if NAME in fields and not _name_cells(template, attributes, names):
        raise _fail(template, "{name} needs names for the listed genders and races, and there are none")


def _levels(template: Template, attributes: Mapping[str, Sequence[str]], name: str) -> tuple[str, ...]:
    return tuple(template.overrides.get(name, attributes.get(name, ())))


def _varied(template: Template, attributes: Mapping[str, Sequence[str]]) -> list[str]:
    """Attributes the template varies directly (not through a name), in declaration order."""
    fields = set(template.fields)
    pronouns = any(f.lower() in PRONOUN_FIELDS for f in fields)
    implicit = NAME in fields
    varied = []
    for name in attributes:
        if implicit and name in (GENDER, RACE):
            continue
        if name in fields or (name == GENDER and pronouns):
            varied.append(name)
    return varied


def _name_cells(
    template: Template, attributes: Mapping[str, Sequence[str]], names: Sequence[Name]
) -> list[tuple[str, str, list[str]]]:
    """(gender, race, names) for every listed gender and race that has names."""
    genders = _levels(template, attributes, GENDER)
    races = _levels(template, attributes, RACE)
    cells = []
    for gender in genders:
        for race in races:
            found = [n.name for n in names if n.gender == gender and n.race == race]
            if found:
                cells.append((gender, race, found))
    return cells


def fill(
    template: Template,
    attributes: Mapping[str, Sequence[str]],
    names: Sequence[Name],
    names_per_group: int,
) -> Iterator[Person]:
    """Every filled question of a checked template (full factorial over its attributes)."""
    varied = _varied(template, attributes)
    level_lists = [_levels(template, attributes, name) for name in varied]
    if NAME in template.fields:
        cells = [
            (gender, race, slot, name)
            for gender, race, found in _name_cells(template, attributes, names)
            for slot, name in enumerate(found[:names_per_group])
        ]
    else:
        cells = [None]
    for combination in itertools.product(*level_lists):
        for cell in cells:
            values = dict(zip(varied, combination, strict=True))
            fields: dict[str, str] = dict(values)
            name = slot = None
            if cell is not None:
                gender, race, slot, name = cell
                values.update({GENDER: gender, RACE: race})
                fields.update({GENDER: gender, RACE: race, NAME: name})
            if GENDER in values and values[GENDER] in PRONOUNS:
                for key, word in PRONOUNS[values[GENDER]].items():
                    fields[key], fields[key.capitalize()] = word, word.capitalize()
            ordered = {key: values[key] for key in attributes if key in values}
            suffix = "|".join(f"{k}={v}" for k, v in ordered.items())
            yield Person(
                id=f"{template.id}|{suffix}" + (f"|name={slot}" if slot is not None else ""),
                template=template.template,
                variant=template.id,
                domain=template.domain,
                family=template.family,
                style=template.style,
                text=template.text.format_map(fields),
                values=ordered,
                name=name,
                name_slot=slot,
            )
