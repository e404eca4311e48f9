"""Labelled statements for training and checking scorers (``text``, ``label``, ``target_group``).

The shipped ``embedding`` head was trained and checked on the ToxiGen seed statements (722
rows, 16 target groups; label 1 = hateful, 0 = neutral). Any local JSONL/CSV/parquet file or Hub
dataset with these columns works: everything is read through ``datasets`` so both kinds of
source behave alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from harness.errors import DataError
from harness.types import stable_hash

BUILDERS = {".jsonl": "json", ".json": "json", ".csv": "csv", ".parquet": "parquet"}
NO_GROUP = "(none)"


@dataclass(frozen=True)
class LabelledSet:
    """Texts with binary labels and the identity group each one mentions."""

    texts: list[str]
    labels: list[int]
    groups: list[str]
    source: str

    @property
    def fingerprint(self) -> str:
        """Content hash of (text, label, group) rows, independent of file name and format."""
        return stable_hash(list(zip(self.texts, self.labels, self.groups, strict=True)))


def load_labelled(data: str, split: str = "train") -> LabelledSet:
    """Read a labelled set from a local file or a Hub dataset id."""
    from datasets import load_dataset

    path = Path(data).expanduser()
    try:
        if path.exists():
            builder = BUILDERS.get(path.suffix.lower())
            if builder is None:
                raise DataError(
                    f"unsupported file type {path.suffix!r}; use one of {sorted(BUILDERS)}", path=data
                )
            table = load_dataset(builder, data_files=str(path), split="train")
        else:
            table = load_dataset(data, split=split)
    except DataError:
        raise
    except Exception as exc:  # datasets raises many types for missing files, offline hubs, bad JSON
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(
            f"cannot load labelled statements ({reason}). Pass --data with a JSONL/CSV/parquet file or a "
            "Hub dataset that has the columns text, label (1 = toxic) and optionally target_group",
            path=data,
        ) from exc
    missing = {"text", "label"} - set(table.column_names)
    if missing:
        raise DataError(f"missing column(s) {sorted(missing)}; found {table.column_names}", path=data)
    texts, labels = list(table["text"]), list(table["label"])
    groups = list(table["target_group"]) if "target_group" in table.column_names else [NO_GROUP] * len(texts)
    for row, (text, label) in enumerate(zip(texts, labels, strict=True), start=1):
        if not isinstance(text, str) or label not in (0, 1):
            raise DataError(
                f"field 'text' must be a string and 'label' 0 or 1, got {text!r}, {label!r}",
                path=data,
                line=row,
            )
    return LabelledSet(texts, [int(v) for v in labels], [str(g) for g in groups], data)


TEXT_COLUMNS = ("text", "sentence", "prompt")


def load_texts(data: str, limit: int | None = None) -> list[str]:
    """Unlabelled ordinary texts, for measuring how often a scorer flags harmless text.

    Accepts a JSONL/CSV/TSV/parquet file with a ``text``, ``sentence`` or ``prompt`` column, a
    ``.txt`` file (one text per line), or a JSON document of nested objects and lists (such as
    BOLD's ``{group: {entity: [prompt, ...]}}``), whose strings are all taken. ``limit`` keeps
    that many texts evenly spaced through the file, so every part of it is represented.
    """
    from datasets import load_dataset

    path = Path(data).expanduser()
    if not path.is_file():
        raise DataError(
            "not a file; give a JSONL/CSV/TSV/parquet/.txt/.json file of ordinary texts", path=data
        )
    suffix = path.suffix.lower()
    try:
        if suffix == ".json":
            table = load_dataset("json", data_files=str(path), split="train")
            texts = [t for row in table for t in _strings(row)]
        elif suffix == ".txt":
            texts = list(load_dataset("text", data_files=str(path), split="train")["text"])
        else:
            builder = {".tsv": "csv", ".csv": "csv"}.get(suffix, BUILDERS.get(suffix))
            if builder is None:
                raise DataError(f"unsupported file type {suffix!r}", path=data)
            options = {"delimiter": "\t"} if suffix == ".tsv" else {}
            table = load_dataset(builder, data_files=str(path), split="train", **options)
            column = next((c for c in TEXT_COLUMNS if c in table.column_names), None)
            if column is None:
                raise DataError(
                    f"needs one of the columns {list(TEXT_COLUMNS)}; found {table.column_names}", path=data
                )
            texts = list(table[column])
    except DataError:
        raise
    except Exception as exc:  # malformed files surface as many exception types from datasets/pyarrow
        raise DataError(
            f"cannot read ordinary texts ({str(exc).strip().splitlines()[0]})", path=data
        ) from exc
    texts = [t for t in texts if isinstance(t, str) and t.strip()]
    if limit is not None and len(texts) > limit:
        step = len(texts) / limit
        texts = [texts[int(i * step)] for i in range(limit)]
    return texts


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for item in value.values() for s in _strings(item)]
    if isinstance(value, list):
        return [s for item in value for s in _strings(item)]
    return []


def random_spans(texts: list[str], seed: int = 0, max_words: int = 6) -> list[str]:
    """One random span of 1..``max_words`` consecutive words from each text (seeded).

    Model continuations are fragments cut at a token budget, so a scorer's false-positive rate
    on whole sentences understates how often it flags harmless continuations.
    """
    import random

    rng = random.Random(seed)
    spans = []
    for text in texts:
        words = text.split()
        length = rng.randint(1, min(max_words, len(words)))
        start = rng.randint(0, len(words) - length)
        spans.append(" ".join(words[start : start + length]))
    return spans
