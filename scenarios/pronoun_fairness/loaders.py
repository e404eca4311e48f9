"""Data sources of the pronoun_fairness scenario, read through the ``datasets`` library.

* the embedded occupation table (``occupations.csv`` in this package: BLS 2019 percent women), or
  a user table with the same columns;
* Winogender (Rudinger et al. 2018): ``templates.tsv`` and ``occupations-stats.tsv``;
* Winogenerated (Perez et al. 2022): ``winogenerated_examples.jsonl`` (BLS 2019 per row);
* WinoBias (Zhao et al. 2018): ``{pro,anti}_stereotyped_type{1,2}.txt.{test,dev}`` with the
  bracketed antecedent and pronoun, plus ``female_occupations.txt`` and ``male_occupations.txt``.

``data_path`` is a local folder (or, for Winogenerated and the occupation table, a file) or a Hugging
Face Hub dataset repository ``owner/name[/subfolder]`` that holds the files with their original
names; Hub files are read through ``hf://datasets/...`` URLs, so nothing is downloaded unless the
user names a Hub dataset. Malformed rows raise :class:`DataError` naming the file and line.
A local occupation table in CSV (the embedded one included) is read with the standard library's
``csv`` instead: importing ``datasets`` and running its CSV builder for 90 rows cost 0.6 s of every
run, a fifth of a rerun whose answers are all cached (benchmarks/warm_cache.py).
"""

from __future__ import annotations

import csv
import itertools
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from harness.errors import DataError
from scenarios.pronoun_fairness.pronouns import CLASS_OF_FORM, slot_case_of

EMBEDDED_TABLE = Path(__file__).with_name("occupations.csv")
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+(/[\w./-]+)?$")
_SENTENCE_END = (".", "!", "?", '"', ":")


@dataclass(frozen=True)
class Occupation:
    """One occupation with its share of women in the US workforce (BLS) and a typical task."""

    name: str
    bls_pct_women: float
    bls_year: int | None
    task: str
    title: str = ""
    bls_category: str = ""


@dataclass(frozen=True)
class SlotItem:
    """A sentence prefix that ends right before a pronoun referring to an occupation (cloze item)."""

    id: str
    source: str
    occupation: str
    bls_pct_women: float
    bls_year: int | None
    prefix: str
    slot_case: str
    slot_start: bool
    template: str
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CorefItem:
    """A WinoBias sentence: which of two occupations does the bracketed pronoun refer to?"""

    id: str
    sentence: str
    pronoun: str
    gold: str
    candidates: tuple[str, str]
    stereotype: str
    wb_type: str
    pair: str | None
    """``type<t>/<line>``, shared by the pro and anti sentence of a pair; None when they do not match."""


def locate(data_path: str, filename: str | None, dataset: str) -> str:
    """The path or ``hf://`` URL of ``filename`` under ``data_path`` (the file itself when None)."""
    local = Path(data_path).expanduser()
    if local.exists():
        if local.is_file():
            if filename is None or local.name == filename:
                return str(local)
            raise DataError(
                f"scenario.data_path for dataset={dataset} must be the folder that holds {filename}, "
                "not a file",
                path=str(local),
            )
        target = local if filename is None else local / filename
        if not target.exists():
            raise DataError(
                f"{filename} not found; dataset={dataset} needs it in this folder (set scenario.data_path)",
                path=str(local),
            )
        return str(target)
    if _HUB_ID.match(data_path):
        return f"hf://datasets/{data_path}" + (f"/{filename}" if filename else "")
    raise DataError(
        f"scenario.data_path={data_path!r} is neither an existing local path nor a Hugging Face Hub "
        "dataset id (owner/name); fix the path or name a Hub dataset"
    )


def _load_rows(builder: str, location: str, **options: Any) -> list[dict[str, Any]]:
    """Rows of one file through ``datasets.load_dataset``; failures name the file."""
    from datasets import load_dataset

    try:
        dataset = load_dataset(builder, data_files=location, split="train", **options)
    except (ConnectionError, OSError) as exc:
        hint = (
            " The Hugging Face Hub is unreachable or offline: download the files and set "
            "scenario.data_path to the local folder."
            if location.startswith("hf://")
            else ""
        )
        raise DataError(f"cannot read the file ({type(exc).__name__}: {exc}).{hint}", path=location) from exc
    except Exception as exc:  # datasets wraps parser errors in several exception types
        raise DataError(
            f"cannot parse the file as {builder}: {type(exc).__name__}: {exc}", path=location
        ) from exc
    return dataset.to_list()


def _local_csv_rows(path: Path) -> list[tuple[int, dict[str, Any]]]:
    """(line number, row) of a local CSV file whose leading ``#`` lines are comments."""
    with path.open(encoding="utf-8-sig", newline="") as handle:
        lines = enumerate(handle, start=1)
        first = next(((n, line) for n, line in lines if not line.startswith("#")), None)
        if first is None:
            return []
        header_line, header = first
        reader = csv.DictReader(itertools.chain([header], (line for _, line in lines)))
        try:  # line_num counts the lines read so far, the header included (a quoted field may span lines)
            return [(header_line + reader.line_num - 1, row) for row in reader]
        except csv.Error as exc:
            raise DataError(f"cannot parse the file as csv: {exc}", path=str(path)) from exc


def _require(row: dict[str, Any], columns: tuple[str, ...], location: str, line: int) -> None:
    missing = [c for c in columns if c not in row]
    if missing:
        raise DataError(f"missing column(s) {missing}; found {sorted(row)}", path=location, line=line)


def _number(value: Any, column: str, location: str, line: int) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise DataError(
            f"column {column!r} must be a number, got {value!r}", path=location, line=line
        ) from None
    if not 0.0 <= number <= 100.0:
        raise DataError(
            f"column {column!r} must be a percentage in [0, 100], got {number}", path=location, line=line
        )
    return number


def _year(value: Any) -> int | None:
    return None if value in (None, "") else int(float(value))


def load_occupations(data_path: str | None = None) -> list[Occupation]:
    """The occupation table: the embedded BLS 2019 table, or a user CSV/JSONL with the same columns.

    Required columns: ``occupation``, ``bls_pct_women`` (0–100), ``task``; optional: ``bls_year``,
    ``title``, ``bls_category``. Occupation names must be unique.
    """
    location = str(EMBEDDED_TABLE) if data_path is None else locate(data_path, None, "embedded")
    numbered: list[tuple[int, dict[str, Any]]]
    if location.endswith((".jsonl", ".json")):
        numbered = list(enumerate(_load_rows("json", location), start=1))
    elif Path(location).is_file():
        numbered = _local_csv_rows(Path(location))
    else:  # a CSV in a Hub dataset
        rows = _load_rows("csv", location, comment="#", keep_default_na=False)
        numbered = list(enumerate(rows, start=2))
    occupations: list[Occupation] = []
    seen: set[str] = set()
    for line, row in numbered:
        _require(row, ("occupation", "bls_pct_women", "task"), location, line)
        name = str(row["occupation"]).strip()
        if not name or name in seen:
            raise DataError(f"occupation {name!r} is empty or listed twice", path=location, line=line)
        seen.add(name)
        occupations.append(
            Occupation(
                name=name,
                bls_pct_women=_number(row["bls_pct_women"], "bls_pct_women", location, line),
                bls_year=_year(row.get("bls_year")),
                task=str(row["task"]).strip(),
                title=str(row.get("title") or "").strip(),
                bls_category=str(row.get("bls_category") or ""),
            )
        )
    if not occupations:
        raise DataError("the occupation table is empty", path=location)
    return occupations


_WINOGENDER_SLOT = re.compile(r"\$(NOM|POSS|ACC)_PRONOUN")
_WINOGENDER_CASE = {"NOM": "nominative", "POSS": "possessive", "ACC": "accusative"}


def _slot_start(prefix: str) -> bool:
    stripped = prefix.rstrip()
    return not stripped or stripped.endswith(_SENTENCE_END)


def load_winogender(data_path: str) -> list[SlotItem]:
    """Winogender templates whose pronoun refers to the occupation (``answer == 0``), one per occupation.

    The prompt is the template up to its first pronoun slot, with ``$OCCUPATION`` and
    ``$PARTICIPANT`` filled; BLS percent female and year come from ``occupations-stats.tsv``.
    """
    stats_location = locate(data_path, "occupations-stats.tsv", "winogender")
    stats_rows = _load_rows("csv", stats_location, delimiter="\t", quoting=3, keep_default_na=False)
    bls: dict[str, tuple[float, int | None]] = {}
    for index, row in enumerate(stats_rows):
        _require(row, ("occupation", "bls_pct_female", "bls_year"), stats_location, index + 2)
        bls[str(row["occupation"])] = (
            _number(row["bls_pct_female"], "bls_pct_female", stats_location, index + 2),
            _year(row["bls_year"]),
        )
    location = locate(data_path, "templates.tsv", "winogender")
    rows = _load_rows("csv", location, delimiter="\t", quoting=3, keep_default_na=False)
    items: list[SlotItem] = []
    for index, row in enumerate(rows):
        line = index + 2
        _require(row, ("occupation(0)", "other-participant(1)", "answer", "sentence"), location, line)
        if str(row["answer"]).strip() != "0":
            continue
        occupation, participant, sentence = (
            str(row["occupation(0)"]),
            str(row["other-participant(1)"]),
            row["sentence"],
        )
        slot = _WINOGENDER_SLOT.search(sentence)
        if slot is None:
            raise DataError("the sentence has no $NOM/$POSS/$ACC_PRONOUN slot", path=location, line=line)
        if occupation not in bls:
            raise DataError(
                f"occupation {occupation!r} is not in occupations-stats.tsv", path=location, line=line
            )
        prefix = (
            sentence[: slot.start()].replace("$OCCUPATION", occupation).replace("$PARTICIPANT", participant)
        )
        items.append(
            SlotItem(
                id=f"winogender/{occupation}/{participant}",
                source="winogender",
                occupation=occupation,
                bls_pct_women=bls[occupation][0],
                bls_year=bls[occupation][1],
                prefix=prefix.rstrip(),
                slot_case=_WINOGENDER_CASE[slot.group(1)],
                slot_start=_slot_start(prefix),
                template=f"winogender_{participant}",
                metadata={"participant": participant},
            )
        )
    return items


def load_winogenerated(data_path: str) -> list[SlotItem]:
    """Winogenerated fill-in-the-blank sentences (the blank refers to the occupation), BLS 2019."""
    location = locate(data_path, "winogenerated_examples.jsonl", "winogenerated")
    rows = _load_rows("json", location)
    items: list[SlotItem] = []
    for index, row in enumerate(rows):
        line = index + 1
        _require(
            row,
            ("index", "occupation", "pronoun_options", "sentence_with_blank", "BLS_percent_women_2019"),
            location,
            line,
        )
        sentence = str(row["sentence_with_blank"])
        if sentence.count("_") != 1:
            raise DataError(
                "sentence_with_blank must contain exactly one '_' blank", path=location, line=line
            )
        try:
            case = slot_case_of(row["pronoun_options"])
        except ValueError as exc:
            raise DataError(str(exc), path=location, line=line) from None
        prefix = sentence.split("_", 1)[0]
        items.append(
            SlotItem(
                id=f"winogenerated/{row['index']}",
                source="winogenerated",
                occupation=str(row["occupation"]),
                bls_pct_women=_number(
                    row["BLS_percent_women_2019"], "BLS_percent_women_2019", location, line
                ),
                bls_year=2019,
                prefix=prefix.rstrip(),
                slot_case=case,
                slot_start=_slot_start(prefix),
                template=f"winogenerated_{row['index']}",
                metadata={"other_person": str(row.get("other_person", ""))},
            )
        )
    return items


_BRACKET = re.compile(r"\[([^\]]+)\]")
_LINE = re.compile(r"^\s*(\d+)\s+(.*\S)\s*$")


def _occupation_list(data_path: str, filename: str) -> list[str]:
    location = locate(data_path, filename, "winobias")
    return [str(row["text"]).strip() for row in _load_rows("text", location) if str(row["text"]).strip()]


def load_winobias(data_path: str, split: str = "test") -> list[CorefItem]:
    """WinoBias pro- and anti-stereotyped sentences of types 1 and 2 for one split (test or dev).

    Each line holds ``[antecedent]`` and ``[pronoun]`` in brackets (the question asks about the
    first bracketed pronoun when there are several). The two candidate occupations
    are found with the dataset's own occupation lists. Pro and anti sentences with the same
    type and line number differ only in the pronoun, so they form a pair; where they do not (the
    files have a few misaligned lines), ``pair`` is None and the item counts only for accuracy.
    """
    occupations = _occupation_list(data_path, "female_occupations.txt") + _occupation_list(
        data_path, "male_occupations.txt"
    )
    canonical = {o.lower(): o for o in occupations}
    pattern = "|".join(re.escape(o) for o in sorted(occupations, key=len, reverse=True))
    mention = re.compile(rf"\b({pattern})\b", re.IGNORECASE)
    items: list[CorefItem] = []
    for wb_type in ("1", "2"):
        for stereotype in ("pro", "anti"):
            location = locate(data_path, f"{stereotype}_stereotyped_type{wb_type}.txt.{split}", "winobias")
            for index, row in enumerate(_load_rows("text", location)):
                line = index + 1
                parsed = _parse_winobias_line(str(row["text"]), mention, canonical, location, line)
                if parsed is None:
                    continue
                sentence, pronoun, gold, candidates = parsed
                items.append(
                    CorefItem(
                        id=f"winobias/{stereotype}/type{wb_type}/{line}",
                        sentence=sentence,
                        pronoun=pronoun,
                        gold=gold,
                        candidates=candidates,
                        stereotype=stereotype,
                        wb_type=f"type{wb_type}",
                        pair=f"type{wb_type}/{line}",
                    )
                )
    return _unpair_mismatches(items)


def _unpair_mismatches(items: list[CorefItem]) -> list[CorefItem]:
    """Drop the pair id of pro/anti items that do not share their antecedent and candidates."""
    by_pair: dict[str | None, list[CorefItem]] = {}
    for item in items:
        by_pair.setdefault(item.pair, []).append(item)

    def matched(group: list[CorefItem]) -> bool:
        keys = {(i.gold, frozenset(i.candidates)) for i in group}
        return len(group) == 2 and len(keys) == 1 and {i.stereotype for i in group} == {"pro", "anti"}

    return [item if matched(by_pair[item.pair]) else replace(item, pair=None) for item in items]


def _parse_winobias_line(
    text: str, mention: re.Pattern[str], canonical: dict[str, str], location: str, line: int
) -> tuple[str, str, str, tuple[str, str]] | None:
    if not text.strip():
        return None
    match = _LINE.match(text)
    if match is None:
        raise DataError("expected '<number> <sentence with two [bracketed] spans>'", path=location, line=line)
    body = match.group(2)
    spans = _BRACKET.findall(body)
    pronouns = [s for s in spans if s.strip().lower() in CLASS_OF_FORM]
    antecedents = [s for s in spans if s.strip().lower() not in CLASS_OF_FORM]
    if not pronouns or len(antecedents) != 1:
        raise DataError(
            f"expected one [antecedent] and at least one [pronoun] in brackets, found {spans}",
            path=location,
            line=line,
        )
    sentence = re.sub(r"\b([Tt]he) the\b", r"\1", _BRACKET.sub(r"\1", body))
    gold_match = mention.search(antecedents[0])
    candidates = [canonical[m.group(1).lower()] for m in mention.finditer(sentence)]
    unique = list(dict.fromkeys(candidates))
    gold = canonical[gold_match.group(1).lower()] if gold_match else None
    if gold is None or len(unique) != 2 or gold not in unique:
        raise DataError(
            f"expected two occupations from the WinoBias occupation lists, one of them the bracketed "
            f"antecedent {antecedents[0]!r}; found {unique}",
            path=location,
            line=line,
        )
    return sentence, pronouns[0].strip().lower(), gold, (unique[0], unique[1])
