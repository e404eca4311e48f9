"""Prompt sources of the toxicity scenario, read through ``datasets`` (local JSONL: the standard library).

Every loader yields :class:`~harness.types.Instance` objects whose metadata carries
``prompt_type`` and, where the source has one, the demographic ``group`` (the keys the metrics
break down by). Sources (``format``):

* ``builtin`` – the project's prompt schema: ``text`` plus optional ``id``, ``group``,
  ``prompt_type``, ``template``. With ``data: null`` it is the embedded set
  (``prompts.jsonl``: 12 groups × 5 neutral and 5 provocative templates, written for this
  project); any local JSONL/CSV/parquet file or Hub dataset with these columns works.
* ``rtp`` – the RealToxicityPrompts schema (Gehman et al. 2020): ``prompt.text``,
  ``prompt.toxicity``, ``challenging``. A local JSONL (e.g. AI2's ``prompts.jsonl``) or a Hub
  dataset (default ``allenai/real-toxicity-prompts``). ``prompt_type`` is ``toxic`` when the
  prompt's own Perspective toxicity is >= 0.5, as in the paper's split, else ``nontoxic``
  (``unscored`` when missing).
* ``toxigen`` – ToxiGen prompt files (Hartvigsen et al. 2022) ``{hate,neutral}_<group>_1k.txt``:
  one few-shot prompt per line, statements separated by a literal ``\\n-``. ``data`` is a folder,
  a file or a glob; ``prompt_type`` is ``hate`` or ``neutral``. A Hub dataset with columns
  ``prompt``, ``prompt_label`` (1 = hate) and ``group`` also works.
* ``bold`` – BOLD (Dhamala et al. 2021): local ``<domain>_prompt.json`` files nested as
  ``{group: {entity: [prompt, ...]}}`` (a folder, a file or a glob), or a Hub dataset in the
  flattened schema ``domain, name, category, prompts`` (default ``AlexaAI/bold``). ``group`` is
  the BOLD category (e.g. ``American_actresses``) and ``prompt_type`` the domain.
"""

from __future__ import annotations

import glob
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from harness.errors import ConfigError, DataError
from harness.jsonl import read_jsonl
from harness.types import Instance

BUILTIN_PROMPTS = Path(__file__).with_name("prompts.jsonl")
DEFAULT_HUB = {"rtp": "allenai/real-toxicity-prompts", "bold": "AlexaAI/bold"}
BUILDERS = {".jsonl": "json", ".json": "json", ".csv": "csv", ".parquet": "parquet", ".txt": "text"}
TOXIGEN_FILE = re.compile(r"(?P<label>hate|neutral)_(?P<group>.+?)(?:_1k)?$")
PROMPT_TOXIC = 0.5
"""RealToxicityPrompts' split of prompts into toxic and non-toxic (Perspective score >= 0.5)."""


def read_table(data: str | Path, split: str, where: str = "scenario.data") -> Any:
    """A ``datasets.Dataset`` from a local file (type from its suffix) or a Hub dataset id."""
    from datasets import load_dataset

    path = Path(data).expanduser()
    try:
        if path.is_file():
            builder = BUILDERS.get(path.suffix.lower())
            if builder is None:
                raise DataError(
                    f"unsupported file type {path.suffix!r}; use one of {sorted(BUILDERS)}", path=str(path)
                )
            return load_dataset(builder, data_files=str(path), split="train")
        if path.exists() or str(data).startswith((".", "/", "~")):
            raise ConfigError(f"{where}: {data} is not a file (give a data file or a Hub dataset id)")
        return load_dataset(str(data), split=split)
    except (ConfigError, DataError):
        raise
    except Exception as exc:  # datasets raises many types: offline hub, bad JSON, missing split
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(
            f"cannot load this dataset ({reason}). Give a local file, or a Hub dataset id and network access "
            "(unset HF_DATASETS_OFFLINE)",
            path=str(data),
        ) from exc


def expand_files(data: str, pattern: str, where: str) -> list[Path]:
    """The files named by ``data``: one file, every ``pattern`` match in a folder, or a glob."""
    path = Path(data).expanduser()
    if path.is_dir():
        files = sorted(path.glob(pattern))
    elif path.is_file():
        files = [path]
    else:
        files = sorted(Path(p) for p in glob.glob(str(path)))
    if not files:
        raise ConfigError(
            f"{where}: no files match {data} (looked for {pattern} in a folder, a file, or a glob)"
        )
    return files


def _is_local(data: str) -> bool:
    return (
        Path(data).expanduser().exists()
        or any(ch in data for ch in "*?[")
        or data.startswith((".", "/", "~"))
    )


def _require(columns: Iterable[str], table: Any, source: str) -> None:
    missing = [c for c in columns if c not in table.column_names]
    if missing:
        raise DataError(f"missing column(s) {missing}; found {table.column_names}", path=source)


def load_builtin(data: str | None, split: str) -> Iterator[Instance]:
    """Prompts in the project schema (the embedded set when ``data`` is None).

    A local JSONL file (the embedded set included) is streamed with :func:`harness.jsonl.read_jsonl`
    (errors name the line; importing ``datasets`` and running its JSON builder cost 0.5 s of every
    run); other files and Hub datasets go through ``datasets``.
    """
    source = str(data or BUILTIN_PROMPTS)
    rows: Iterable[tuple[int, dict[str, Any]]]
    if source.endswith(".jsonl") and Path(source).expanduser().is_file():
        rows = read_jsonl(source, required=("text",), hint="the builtin format needs a 'text' field")
    else:
        table = read_table(source, split)
        _require(["text"], table, source)
        rows = enumerate(table, start=1)
    for index, (line, row) in enumerate(rows):
        if not isinstance(row["text"], str) or not row["text"].strip():
            raise DataError("field 'text' must be a non-empty string", path=source, line=line)
        metadata = {"prompt_type": row.get("prompt_type") or "unspecified"}
        for key in ("group", "template"):
            if row.get(key) is not None:
                metadata[key] = str(row[key])
        yield Instance(id=str(row.get("id") or f"prompt-{index:05d}"), input=row["text"], metadata=metadata)


def load_rtp(data: str | None, split: str, challenging_only: bool) -> Iterator[Instance]:
    """RealToxicityPrompts rows (see the module docstring)."""
    source = str(data or DEFAULT_HUB["rtp"])
    table = read_table(source, split)
    _require(["prompt"], table, source)
    for index, row in enumerate(table):
        prompt = row["prompt"]
        if not isinstance(prompt, dict) or not isinstance(prompt.get("text"), str):
            raise DataError(
                "field 'prompt' must be an object with a 'text' string", path=source, line=index + 1
            )
        challenging = bool(row.get("challenging", False))
        if challenging_only and not challenging:
            continue
        toxicity = prompt.get("toxicity")
        if toxicity is None:
            prompt_type = "unscored"
        else:
            prompt_type = "toxic" if float(toxicity) >= PROMPT_TOXIC else "nontoxic"
        metadata = {"prompt_type": prompt_type, "prompt_toxicity": toxicity, "challenging": challenging}
        yield Instance(id=f"rtp-{index:06d}", input=prompt["text"], metadata=metadata)


def load_toxigen(data: str | None, split: str) -> Iterator[Instance]:
    """ToxiGen few-shot prompts, from the GitHub prompt files or a Hub dataset."""
    if not data:
        raise ConfigError(
            "scenario.data: the toxigen format needs the prompt files: a folder with "
            "{hate,neutral}_<group>_1k.txt "
            "(github.com/microsoft/TOXIGEN, prompts/), one file, or a glob"
        )
    if not _is_local(data):
        yield from _toxigen_hub(data, split)
        return
    for path in expand_files(data, "*_*.txt", "scenario.data"):
        match = TOXIGEN_FILE.fullmatch(path.stem)
        if match is None:
            raise DataError("a ToxiGen prompt file is named {hate,neutral}_<group>_1k.txt", path=str(path))
        label, group = match["label"], match["group"]
        for line, row in enumerate(read_table(path, split), start=1):
            text = row["text"].replace("\\n", "\n")
            if not text.strip():
                continue
            yield Instance(
                id=f"toxigen-{label}-{group}-{line:04d}",
                input=text,
                metadata={"group": group, "prompt_type": label},
            )


def _toxigen_hub(data: str, split: str) -> Iterator[Instance]:
    table = read_table(data, split)
    _require(["prompt", "prompt_label", "group"], table, data)
    seen: set[str] = set()
    for index, row in enumerate(table):
        if row["prompt"] in seen:  # the Hub corpus repeats each prompt once per generation
            continue
        seen.add(row["prompt"])
        label = "hate" if int(row["prompt_label"]) == 1 else "neutral"
        yield Instance(
            id=f"toxigen-{label}-{row['group']}-{index:06d}",
            input=row["prompt"].replace("\\n", "\n"),
            metadata={"group": str(row["group"]), "prompt_type": label},
        )


def load_bold(data: str | None, split: str) -> Iterator[Instance]:
    """BOLD prompts (see the module docstring)."""
    source = data or DEFAULT_HUB["bold"]
    if not _is_local(source):
        table = read_table(source, split)
        _require(["domain", "category", "name", "prompts"], table, source)
        for row in table:
            yield from _bold_prompts(row["domain"], row["category"], row["name"], row["prompts"])
        return
    for path in expand_files(source, "*_prompt.json", "scenario.data"):
        domain = path.stem.removesuffix("_prompt")
        nested = read_table(path, split)
        if nested.num_rows != 1:
            raise DataError(
                "a BOLD prompt file is one object {group: {entity: [prompt, ...]}}", path=str(path)
            )
        for category, entities in nested[0].items():
            if not isinstance(entities, dict):
                raise DataError(f"group {category!r} must map entity names to prompt lists", path=str(path))
            for name, prompts in sorted(entities.items()):
                if not isinstance(prompts, list):
                    raise DataError(f"entity {category}/{name} must map to a list of prompts", path=str(path))
                yield from _bold_prompts(domain, category, name, prompts)


def _bold_prompts(domain: str, category: str, name: str, prompts: list[str]) -> Iterator[Instance]:
    for j, prompt in enumerate(prompts):
        yield Instance(
            id=f"bold-{domain}-{category}-{name}-{j}",
            input=prompt,
            metadata={"group": category, "prompt_type": domain, "entity": name},
        )


def select(
    instances: Iterable[Instance], groups: list[str], per_group_limit: int | None
) -> Iterator[Instance]:
    """Keep only the listed groups (all when empty) and at most ``per_group_limit`` prompts per group."""
    wanted = set(groups)
    counts: dict[str, int] = {}
    for instance in instances:
        group = str(instance.metadata.get("group", ""))
        if wanted and group not in wanted:
            continue
        counts[group] = counts.get(group, 0) + 1
        if per_group_limit is not None and counts[group] > per_group_limit:
            continue
        yield instance
