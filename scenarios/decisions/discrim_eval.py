"""Rows of Anthropic's discrim-eval (Tamkin et al. 2023) as filled decision questions.

The dataset (``Anthropic/discrim-eval`` on the Hugging Face Hub, configurations ``explicit`` and
``implicit``, split ``train``) holds 70 decision questions, each filled for every combination of
age (20-100 by 10), gender (female, male, non-binary) and race (white, Black, Asian, Hispanic,
Native American): 135 rows per question and configuration. Its columns: ``filled_template``,
``decision_question_id``, ``age``, ``gender``, ``race``, ``fill_type``. In ``implicit`` rows the
gender and race are conveyed by a name; the row still records them.

A local JSONL/CSV/parquet file in the same schema works too (``scenario.data_path``), which is
how the mapping is tested: the Hub needs network.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from harness.errors import ConfigError, DataError
from scenarios.decisions.templates import Person

HUB_ID = "Anthropic/discrim-eval"
CONFIGS = ("explicit", "implicit")
COLUMNS = ("filled_template", "decision_question_id", "age", "gender", "race")
BUILDERS = {".jsonl": "json", ".json": "json", ".csv": "csv", ".parquet": "parquet"}


def _age(value: Any, source: str, line: int) -> str:
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    if not math.isfinite(number):
        raise DataError(f"field 'age': {value!r} is not a number", path=source, line=line)
    return str(int(number)) if number.is_integer() else str(number)


def person(row: Mapping[str, Any], config: str, source: str, line: int) -> Person:
    """One discrim-eval row as a filled question (template = the decision question id)."""
    missing = [c for c in COLUMNS if row.get(c) in (None, "")]
    if missing:
        raise DataError(f"field {missing[0]!r} is missing or empty", path=source, line=line)
    question = f"discrim-eval-{int(float(row['decision_question_id']))}"
    style = str(row.get("fill_type") or config)
    values = {"age": _age(row["age"], source, line), "gender": str(row["gender"]), "race": str(row["race"])}
    suffix = "|".join(f"{k}={v}" for k, v in values.items())
    return Person(
        id=f"{question}-{style}|{suffix}",
        template=question,
        variant=f"{question}-{style}",
        domain="discrim-eval",
        family="decision",
        style=style,
        text=str(row["filled_template"]).strip(),
        values=values,
    )


def people(
    rows: Iterable[Mapping[str, Any]], config: str, source: str, first_line: int = 1
) -> Iterator[Person]:
    """Map rows to filled questions; a duplicate combination is an error.

    Errors name ``source`` and the row's line: ``first_line`` is the line of the first row (2 in
    a CSV file, whose first line is its header).
    """
    seen: set[str] = set()
    for line, row in enumerate(rows, start=first_line):
        item = person(row, config, source, line)
        if item.id in seen:
            raise DataError(
                f"a second row for question {item.template} with {dict(item.values)}", path=source, line=line
            )
        seen.add(item.id)
        yield item


def _read(data_path: str | None, config: str) -> tuple[Any, str]:
    """A ``datasets.Dataset`` and its name: a local file in the schema, or a Hub configuration."""
    from datasets import load_dataset

    local = Path(data_path).expanduser() if data_path else None
    try:
        if local is not None and local.is_file():
            builder = BUILDERS.get(local.suffix.lower())
            if builder is None:
                raise DataError(f"unsupported file type; use one of {sorted(BUILDERS)}", path=str(local))
            return load_dataset(builder, data_files=str(local), split="train"), str(local)
        source = data_path or HUB_ID
        return load_dataset(source, config, split="train"), f"{source} ({config})"
    except DataError:
        raise
    except Exception as exc:  # datasets raises many types: offline hub, bad JSON, missing config
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(
            f"cannot load discrim-eval ({reason}). Give a local file in its schema (scenario.data_path), "
            "or network access to the Hub (unset HF_DATASETS_OFFLINE)",
            path=data_path or HUB_ID,
        ) from exc


def load(data_path: str | None, configs: Sequence[str]) -> Iterator[Person]:
    """Each configuration's rows from the Hub, or a local file's rows once (style from ``fill_type``)."""
    for config in configs:
        if config not in CONFIGS:
            raise ConfigError(f"scenario.discrim_eval_configs: {config!r} is not one of {', '.join(CONFIGS)}")
    local = data_path is not None and Path(data_path).expanduser().is_file()
    for config in configs[:1] if local else configs:
        table, source = _read(data_path, config)
        header = local and Path(data_path).suffix.lower() == ".csv"
        yield from people(table, config, source, first_line=2 if header else 1)
