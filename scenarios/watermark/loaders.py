"""Texts for the watermark scenario: prompts, human-written negatives, and the user's own texts.

* The embedded human-written set (``human.jsonl``): 103 short passages written for this project in
  everyday registers (notes, e-mails, stories, recipes, reviews, how-tos, dialogue, ...), so the
  negatives are text that no model and no watermark key produced.
* The embedded prompts are the first words of those passages.
* A user's file replaces either: a ``.jsonl`` file with a ``text`` field per line (``id`` optional),
  a ``.txt`` file (one text per non-empty line), or a folder of ``.txt`` files (one text per file).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from harness.errors import DataError

EMBEDDED_HUMAN = Path(__file__).with_name("human.jsonl")


@dataclass(frozen=True)
class Text:
    """One text with a stable id and a free label (the register of an embedded passage, or the file)."""

    id: str
    text: str
    label: str


def load_texts(source: str | None, key: str) -> list[Text]:
    """The texts of ``source`` (None: the embedded human-written passages); ``key`` names the setting."""
    if source is None:
        return _jsonl(EMBEDDED_HUMAN, key)
    path = Path(source).expanduser()
    if path.is_dir():
        files = sorted(path.glob("*.txt"))
        if not files:
            raise DataError(f"scenario.{key}: the folder {path} holds no .txt files")
        texts = [Text(f.stem, f.read_text(encoding="utf-8").strip(), f.name) for f in files]
        return [t for t in texts if t.text]
    if not path.is_file():
        raise DataError(f"scenario.{key}: {path} is neither a file nor a folder")
    if path.suffix == ".jsonl":
        return _jsonl(path, key)
    lines = path.read_text(encoding="utf-8").splitlines()
    return [
        Text(f"{path.stem}-{i}", line.strip(), path.name) for i, line in enumerate(lines, 1) if line.strip()
    ]


def _jsonl(path: Path, key: str) -> list[Text]:
    texts = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(f"scenario.{key}: {path} line {number} is not JSON ({exc.msg})") from exc
        if not isinstance(row, dict) or not isinstance(row.get("text"), str):
            raise DataError(f'scenario.{key}: {path} line {number} needs a string field "text"')
        texts.append(Text(str(row.get("id", number)), row["text"], str(row.get("style", path.name))))
    ids = [t.id for t in texts]
    if len(set(ids)) != len(ids):
        raise DataError(f"scenario.{key}: {path} repeats an id; ids must be unique")
    return texts


def prompts_from(texts: list[Text], words: int) -> list[Text]:
    """Prompts made of the first ``words`` words of each text."""
    return [Text(t.id, " ".join(t.text.split()[:words]), t.label) for t in texts]
