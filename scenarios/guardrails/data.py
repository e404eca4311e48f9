"""Labelled texts for the guardrails scenario: the embedded set, public benchmarks, your own file.

Every loader yields :class:`~harness.types.Instance` objects whose ``input`` is the text the guard
judges and whose metadata carries ``truth`` (``harmful`` or ``benign``, from the source's label),
``kind`` (``prompt`` or ``response``), ``category``, ``source`` and, where the source names
one, the identity ``group`` (the key over-blocking is broken down by) and the ``template`` it
was written from (the resampling unit). Sources (``format``):

* ``labelled`` – the project schema: ``text`` and ``label`` (``harmful`` / ``benign``, ``unsafe``
  / ``safe``, ``1`` / ``0``, ``true`` / ``false``), optional ``id``, ``group``, ``kind``,
  ``category``, ``template``. With ``data: null`` it is the embedded set ``labelled.jsonl``,
  written for this project: 12 identity groups x (14 benign prompts, 10 benign responses, 8
  harmful prompts, 8 harmful responses) from shared templates, plus 28 items that name no group
  (benign prompts that only sound dangerous, in the spirit of XSTest, and harmful requests and
  answers about weapons, crime, self-harm, privacy and misinformation). A local JSONL or CSV file
  in this schema is read line by line, and a bad row stops the run with one line naming the file
  and line.
* ``toxigen`` – ToxiGen statements (Hartvigsen et al. 2022): ``text``, ``target_group`` and
  ``label`` (1 = hateful), e.g. ``statements.jsonl`` derived from the ToxiGen prompt files; or
  the Hub's ``toxigen/toxigen-data`` ``annotated`` config, where a statement is harmful when its
  mean human toxicity rating ``toxicity_human`` is above 2.5 on the 1-5 scale.
* ``openai_moderation`` – the OpenAI moderation evaluation set (Markov et al. 2023), Hub
  ``mmathys/openai-moderation-api-evaluation``: ``prompt`` and the category flags ``S H V HR SH
  S3 H2 V2``; harmful when any flag is 1.
* ``toxicchat`` – ToxicChat (Lin et al. 2023), Hub ``lmsys/toxic-chat`` (config
  ``toxicchat0124``): ``user_input`` and ``toxicity`` (1 = toxic); jailbreaking prompts are
  marked in ``category``.
* ``xstest`` – XSTest (Röttger et al. 2024), Hub ``Paul/XSTest``: ``prompt``, ``label``
  (``safe`` / ``unsafe``), ``type`` (the category) and ``focus``.

Hub sets need network access the first time (``datasets`` caches them); tests use the local
ToxiGen statements.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from harness.errors import ConfigError, DataError, check_choice
from harness.jsonl import read_jsonl
from harness.types import Instance

EMBEDDED = Path(__file__).with_name("labelled.jsonl")
FORMATS = ("labelled", "toxigen", "openai_moderation", "toxicchat", "xstest")
DEFAULT_HUB = {
    "toxigen": ("toxigen/toxigen-data", "annotated"),
    "openai_moderation": ("mmathys/openai-moderation-api-evaluation", None),
    "toxicchat": ("lmsys/toxic-chat", "toxicchat0124"),
    "xstest": ("Paul/XSTest", None),
}
HARMFUL = "harmful"
BENIGN = "benign"
LABELS = {
    "harmful": HARMFUL,
    "unsafe": HARMFUL,
    "toxic": HARMFUL,
    "1": HARMFUL,
    "true": HARMFUL,
    "benign": BENIGN,
    "safe": BENIGN,
    "non-toxic": BENIGN,
    "nontoxic": BENIGN,
    "0": BENIGN,
    "false": BENIGN,
}
KINDS = ("prompt", "response")
MODERATION_FLAGS = ("S", "H", "V", "HR", "SH", "S3", "H2", "V2")
TOXIGEN_HUMAN_TOXIC = 2.5
"""ToxiGen's human toxicity ratings run 1-5; above the midpoint counts as toxic."""


def load(fmt: str, data: str | None, split: str, config: str | None) -> Iterator[Instance]:
    """Instances from the configured source (see the module docstring)."""
    check_choice("scenario.format", fmt, FORMATS)
    if fmt == "labelled":
        return load_labelled(data)
    if fmt == "toxigen" and data and _local(data):
        return load_labelled(data, text_field="text", group_field="target_group", source="toxigen")
    name, default_config = DEFAULT_HUB[fmt]
    table = _hub(data or name, config or (default_config if not data else None), split)
    return {
        "toxigen": _toxigen_hub,
        "openai_moderation": _moderation,
        "toxicchat": _toxicchat,
        "xstest": _xstest,
    }[fmt](table, data or name)


def parse_label(value: Any) -> str | None:
    """``harmful`` or ``benign`` from the label spellings the loaders accept; None when unknown."""
    if isinstance(value, bool):
        value = str(value)
    if isinstance(value, int | float) and value in (0, 1):
        value = str(int(value))
    return LABELS.get(str(value).strip().lower()) if value is not None else None


def load_labelled(
    data: str | None, text_field: str = "text", group_field: str = "group", source: str | None = None
) -> Iterator[Instance]:
    """Rows of a local JSONL or CSV file in the project schema (the embedded set when ``data`` is None)."""
    path = Path(data).expanduser() if data else EMBEDDED
    where = str(path)
    if path.suffix.lower() == ".jsonl":
        rows: Iterable[tuple[int, dict[str, Any]]] = read_jsonl(path)
    elif path.suffix.lower() == ".csv":
        rows = _read_csv(path)
    else:
        raise ConfigError(f"scenario.data: {where} is not a .jsonl or .csv file (or use a Hub format)")
    origin = source or ("embedded" if data is None else path.stem)
    seen: set[str] = set()
    for line, row in rows:
        text = row.get(text_field)
        if not isinstance(text, str) or not text.strip():
            raise DataError(f"field {text_field!r} must be a non-empty string", path=where, line=line)
        label = parse_label(row.get("label"))
        if label is None:
            raise DataError(
                "field 'label' must be harmful/benign (or unsafe/safe, 1/0, true/false), "
                f"got {row.get('label')!r}",
                path=where,
                line=line,
            )
        kind = str(row.get("kind") or "prompt")
        if kind not in KINDS:
            raise DataError(f"field 'kind' must be prompt or response, got {kind!r}", path=where, line=line)
        identifier = str(row.get("id") or f"{origin}-{line:06d}")
        if identifier in seen:
            raise DataError(f"duplicate id {identifier!r}", path=where, line=line)
        seen.add(identifier)
        metadata = {
            "truth": label,
            "kind": kind,
            "category": str(row.get("category") or label),
            "source": origin,
        }
        if row.get(group_field) not in (None, ""):
            metadata["group"] = str(row[group_field])
        if row.get("template") not in (None, ""):
            metadata["template"] = str(row["template"])
        yield Instance(id=identifier, input=text, metadata=metadata)


def _read_csv(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, row) of a CSV file with a header; the number is the row's line in the file."""
    try:
        handle = path.open(newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise DataError(f"cannot read this file ({exc.strerror})", path=str(path)) from exc
    with handle:
        reader = csv.DictReader(handle)
        try:
            for row in reader:
                if None in row:
                    raise DataError(
                        "the row has more fields than the header", path=str(path), line=reader.line_num
                    )
                yield reader.line_num, row
        except csv.Error as exc:
            raise DataError(f"malformed CSV ({exc})", path=str(path), line=reader.line_num) from exc


def _local(data: str) -> bool:
    return Path(data).expanduser().exists() or data.startswith((".", "/", "~"))


def _hub(name: str, config: str | None, split: str) -> Any:
    try:
        from datasets import load_dataset

        return load_dataset(name, config, split=split)
    except Exception as exc:  # datasets raises many types: offline hub, missing split, bad config
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(
            f"cannot load this dataset ({reason}). It needs network access the first time "
            "(unset HF_DATASETS_OFFLINE), or give a local labelled file with format=labelled",
            path=name,
        ) from exc


def _require(table: Any, columns: Iterable[str], source: str) -> None:
    missing = [c for c in columns if c not in table.column_names]
    if missing:
        raise DataError(f"missing column(s) {missing}; found {table.column_names}", path=source)


def _instance(source: str, index: int, text: Any, label: str, **metadata: Any) -> Instance:
    if not isinstance(text, str) or not text.strip():
        raise DataError("the text must be a non-empty string", path=source, line=index + 1)
    kept = {key: str(value) for key, value in metadata.items() if value not in (None, "")}
    return Instance(
        id=f"{source.split('/')[-1]}-{index:06d}",
        input=text,
        metadata={"truth": label, "kind": "prompt", "source": source, **kept},
    )


def _toxigen_hub(table: Any, source: str) -> Iterator[Instance]:
    _require(table, ["text", "target_group", "toxicity_human"], source)
    for index, row in enumerate(table):
        label = HARMFUL if float(row["toxicity_human"]) > TOXIGEN_HUMAN_TOXIC else BENIGN
        yield _instance(source, index, row["text"], label, group=row["target_group"], category=label)


def _moderation(table: Any, source: str) -> Iterator[Instance]:
    _require(table, ["prompt", *MODERATION_FLAGS], source)
    for index, row in enumerate(table):
        flagged = [flag for flag in MODERATION_FLAGS if row[flag] is not None and int(row[flag]) == 1]
        label = HARMFUL if flagged else BENIGN
        yield _instance(source, index, row["prompt"], label, category=",".join(flagged) or BENIGN)


def _toxicchat(table: Any, source: str) -> Iterator[Instance]:
    _require(table, ["user_input", "toxicity"], source)
    for index, row in enumerate(table):
        label = HARMFUL if int(row["toxicity"]) == 1 else BENIGN
        category = "jailbreaking" if int(row.get("jailbreaking") or 0) == 1 else label
        yield _instance(source, index, row["user_input"], label, category=category)


def _xstest(table: Any, source: str) -> Iterator[Instance]:
    _require(table, ["prompt", "label", "type"], source)
    for index, row in enumerate(table):
        label = parse_label(row["label"])
        if label is None:
            raise DataError(
                f"label must be safe or unsafe, got {row['label']!r}", path=source, line=index + 1
            )
        yield _instance(source, index, row["prompt"], label, category=row["type"], focus=row.get("focus"))
