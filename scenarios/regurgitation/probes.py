"""Probe sources: collections of documents whose continuations a model may have memorized.

Every source is returned as a list of records (dicts) with the keys of :data:`PROBE_COLUMNS`
(user corpora are loaded through ``datasets``; the records are built in memory either way, so
wrapping them in a ``datasets.Dataset`` would only add its 0.3 s import to every run):

* ``id`` – unique document id; ``document`` – the original document it was cut from (the
  bootstrap cluster; equals ``id`` unless the document was chunked);
* ``text``; ``kind`` (``prose`` or ``code``) and ``language`` (for code normalization);
* ``subset`` – the slice the metrics break down by (``control``/``1x``/``10x``/``100x`` for the
  reference corpus, ``stdlib``/``zen``/``license`` for the built-in probes, or a user field);
* ``repeats`` – how many times the document was in the training data when that is known
  (0 = held-out control), else None; it drives the dose-response curve.

Sources:

* :func:`reference_probes` – the embedded reference model's memorization passages
  (``harness.reference.world``): passages trained 1×, 10× or 100× and held-out controls.
* :func:`builtin_probes` – texts almost every large model has seen and every machine has offline,
  read at run time from the local Python installation and never shipped: standard-library
  source files (code probes, each from its first top-level ``def`` or ``class``), the Zen of
  Python (the rot13 string in the standard library's ``this`` module, decoded without importing
  it, because importing it prints) and license texts found in installed distributions (one per
  license family, from the family's canonical first words, which skips the varying copyright
  line).
* :func:`user_probes` – any corpus ``datasets`` can load: a local text/JSONL/JSON/CSV/parquet
  file, a local dataset folder, a builder name with ``data_files``, or a Hub name.

:func:`chunk_documents` cuts long documents into consecutive chunks of a fixed number of word
tokens, so one long file yields several probe positions.
"""

from __future__ import annotations

import ast
import codecs
import re
import sysconfig
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.errors import ConfigError, DataError, check_choice
from scenarios.regurgitation.metrics import WORD_TOKEN

PROBE_COLUMNS = ("id", "document", "text", "kind", "language", "subset", "repeats")

KINDS = ("prose", "code")

STDLIB_MODULES = (
    "abc.py", "argparse.py", "base64.py", "bisect.py", "calendar.py", "collections/__init__.py",
    "colorsys.py", "contextlib.py", "copy.py", "csv.py", "dataclasses.py", "difflib.py", "enum.py",
    "fnmatch.py", "fractions.py", "functools.py", "glob.py", "gzip.py", "heapq.py", "hmac.py",
    "json/__init__.py", "json/decoder.py", "operator.py", "pprint.py", "queue.py", "random.py",
    "secrets.py", "shlex.py", "shutil.py", "statistics.py", "string.py", "tempfile.py",
    "textwrap.py", "threading.py", "timeit.py", "uuid.py", "weakref.py",
)  # fmt: skip
"""Standard-library files used as code probes (files absent from an installation are skipped)."""

LICENSE_FAMILIES: dict[str, str] = {
    "psf-2.0": r"PYTHON SOFTWARE FOUNDATION LICENSE VERSION 2",
    "apache-2.0": r"Apache License\s+Version 2\.0, January 2004",
    "gpl-3.0": r"GNU GENERAL PUBLIC LICENSE\s+Version 3",
    "gpl-2.0": r"GNU GENERAL PUBLIC LICENSE\s+Version 2",
    "lgpl": r"GNU LESSER GENERAL PUBLIC LICENSE",
    "mpl-2.0": r"Mozilla Public License Version 2\.0",
    "mit": r"Permission is hereby granted, free of charge, to any person obtaining a copy",
    "bsd-3-clause": r"Redistribution and use in source and binary forms",
    "isc": r"Permission to use, copy, modify, and/or distribute this software",
}
"""License families and the canonical words each license text starts from."""

BUILTIN_FAMILIES = ("stdlib", "zen", "licenses")

_LICENSE_FILE = re.compile(r"^(LICEN[CS]E|COPYING)", re.IGNORECASE)
_FILE_BUILDERS = {".jsonl": "json", ".json": "json", ".csv": "csv", ".parquet": "parquet", ".txt": "text"}


ProbeDocuments = list[dict[str, Any]]
"""Probe documents: one record per document (or chunk), with the keys of :data:`PROBE_COLUMNS`."""


def _documents(records: list[dict[str, Any]], where: str) -> ProbeDocuments:
    if not records:
        raise DataError(f"the probe source {where} produced no documents")
    return [{column: record.get(column) for column in PROBE_COLUMNS} for record in records]


def _record(
    doc_id: str, text: str, kind: str, subset: str, repeats: int | None = None, language: str = ""
) -> dict[str, Any]:
    return {
        "id": doc_id,
        "document": doc_id,
        "text": text,
        "kind": kind,
        "language": language,
        "subset": subset,
        "repeats": repeats,
    }


def repeats_label(repeats: int) -> str:
    """Subset label of a training repeat count: ``control`` for 0, else e.g. ``10x``."""
    return "control" if repeats == 0 else f"{repeats}x"


def reference_probes() -> ProbeDocuments:
    """The reference model's memorization passages (trained 1×/10×/100×) and held-out controls."""
    from harness.reference import world

    records = [
        _record(
            passage.id,
            passage.text,
            passage.kind,
            repeats_label(passage.repeats),
            passage.repeats,
            "python" if passage.kind == "code" else "",
        )
        for passage in world.memorization_passages()
    ]
    return _documents(records, "'reference'")


def _stdlib_dir() -> Path:
    return Path(sysconfig.get_paths()["stdlib"])


def _code_from_first_definition(source: str) -> str:
    """The source from its first top-level def or class (skips the module docstring and imports)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return source
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            first_line = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            return "".join(source.splitlines(keepends=True)[first_line - 1 :])
    return source


def stdlib_probes() -> list[dict[str, Any]]:
    """Standard-library source files of this installation (see :data:`STDLIB_MODULES`)."""
    root = _stdlib_dir()
    records = []
    for relative in STDLIB_MODULES:
        path = root / relative
        if path.is_file():
            text = _code_from_first_definition(path.read_text(encoding="utf-8"))
            records.append(_record(f"stdlib:{relative}", text, "code", "stdlib", language="python"))
    return records


def zen_of_python() -> str:
    """The Zen of Python, decoded from the rot13 string ``s`` in the stdlib's ``this.py``.

    The module is parsed, not imported, because importing it prints the text.
    """
    path = _stdlib_dir() / "this.py"
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "s" for t in node.targets
        ):
            return codecs.decode(ast.literal_eval(node.value), "rot13")
    raise DataError("no rot13 string 's' found", path=str(path))


def license_probes() -> list[dict[str, Any]]:
    """One license text per family found in this installation (Python's own license first)."""
    candidates = [_stdlib_dir() / "LICENSE.txt"]
    for root in sorted({sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}):
        candidates.extend(
            path for path in sorted(Path(root).glob("*.dist-info/**/*")) if _LICENSE_FILE.match(path.name)
        )
    found: dict[str, dict[str, Any]] = {}
    for path in candidates:
        if not path.is_file():
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        for family, pattern in LICENSE_FAMILIES.items():
            match = re.search(pattern, text)
            if family not in found and match:
                found[family] = _record(f"license:{family}", text[match.start() :], "prose", "license")
                break
    return list(found.values())


def builtin_probes(families: Sequence[str] = BUILTIN_FAMILIES) -> ProbeDocuments:
    """The built-in probes read from the local Python installation (see the module docstring)."""
    unknown = sorted(set(families) - set(BUILTIN_FAMILIES))
    if unknown:
        raise ConfigError(
            f"scenario.builtin_probes: unknown probe families {unknown}; choose from {list(BUILTIN_FAMILIES)}"
        )
    records: list[dict[str, Any]] = []
    if "stdlib" in families:
        records.extend(stdlib_probes())
    if "zen" in families:
        records.append(_record("zen-of-python", zen_of_python(), "prose", "zen"))
    if "licenses" in families:
        records.extend(license_probes())
    return _documents(records, f"'builtin' ({', '.join(families)})")


@dataclass(frozen=True)
class CorpusSpec:
    """Where a user corpus lives and which fields hold what (see RegurgitationParams)."""

    dataset: str
    dataset_config: str | None = None
    data_files: tuple[str, ...] = ()
    split: str = "train"
    sample_by: str = "document"
    text_field: str = "text"
    id_field: str | None = None
    subset_field: str | None = None
    repeats_field: str | None = None
    kind: str = "prose"
    language: str = "python"


def load_corpus(spec: CorpusSpec) -> Any:
    """Load a corpus through ``datasets``: local file or folder, builder + data_files, or Hub name."""
    from datasets import load_dataset

    local = Path(spec.dataset).expanduser()
    try:
        if spec.data_files:
            builder = _FILE_BUILDERS.get(f".{spec.dataset}", spec.dataset)
            extra = {"sample_by": spec.sample_by} if builder == "text" else {}
            return load_dataset(
                builder, spec.dataset_config, data_files=list(spec.data_files), split=spec.split, **extra
            )
        if local.is_file():
            builder = _FILE_BUILDERS.get(local.suffix.lower(), "text")
            extra = {"sample_by": spec.sample_by} if builder == "text" else {}
            return load_dataset(builder, data_files=str(local), split="train", **extra)
        if local.is_dir():
            return load_dataset(str(local), spec.dataset_config, split=spec.split)
        return load_dataset(spec.dataset, spec.dataset_config, split=spec.split)
    except Exception as exc:  # datasets raises many unrelated types; report one clear message
        raise DataError(
            f"cannot load the probe corpus {spec.dataset!r} ({type(exc).__name__}: {exc}). "
            "Set scenario.dataset to a local .txt/.jsonl/.json/.csv/.parquet file or folder, a builder "
            "name (json, csv, parquet, text) with scenario.data_files, or a Hub dataset name "
            "(the Hub needs network access; HF_DATASETS_OFFLINE=1 forbids it)."
        ) from exc


def user_probes(spec: CorpusSpec) -> ProbeDocuments:
    """A user corpus mapped onto :data:`PROBE_COLUMNS`; names the row and field of bad data."""
    check_choice("scenario.kind", spec.kind, KINDS)
    corpus = load_corpus(spec)
    for field_name, key in (
        (spec.text_field, "text_field"),
        (spec.id_field, "id_field"),
        (spec.subset_field, "subset_field"),
        (spec.repeats_field, "repeats_field"),
    ):
        if field_name is not None and field_name not in corpus.column_names:
            raise DataError(
                f"scenario.{key}: the corpus has no field {field_name!r}; "
                f"its fields are {corpus.column_names}",
                path=spec.dataset,
            )
    records = []
    seen: set[str] = set()
    for row_number, row in enumerate(corpus, start=1):
        text = row[spec.text_field]
        if not isinstance(text, str):
            raise DataError(
                f"field {spec.text_field!r} must be a string, got {type(text).__name__}",
                path=spec.dataset,
                line=row_number,
            )
        doc_id = str(row[spec.id_field]) if spec.id_field else f"doc{row_number:06d}"
        if doc_id in seen:
            raise DataError(
                f"duplicate document id {doc_id!r} in field {spec.id_field!r}",
                path=spec.dataset,
                line=row_number,
            )
        seen.add(doc_id)
        repeats = _repeats(row, spec, row_number)
        subset = (
            str(row[spec.subset_field])
            if spec.subset_field
            else (repeats_label(repeats) if repeats is not None else "all")
        )
        language = spec.language if spec.kind == "code" else ""
        records.append(_record(doc_id, text, spec.kind, subset, repeats, language))
    return _documents(records, repr(spec.dataset))


def _repeats(row: dict[str, Any], spec: CorpusSpec, row_number: int) -> int | None:
    if not spec.repeats_field:
        return None
    value = row[spec.repeats_field]
    try:
        repeats = int(value)
    except (TypeError, ValueError):
        raise DataError(
            f"field {spec.repeats_field!r} must be a non-negative integer (0 = control), got {value!r}",
            path=spec.dataset,
            line=row_number,
        ) from None
    if repeats < 0:
        raise DataError(
            f"field {spec.repeats_field!r} must be >= 0, got {repeats}", path=spec.dataset, line=row_number
        )
    return repeats


def chunk_documents(probes: ProbeDocuments, chunk_tokens: int, max_chunks: int) -> ProbeDocuments:
    """Cut every document into consecutive chunks of ``chunk_tokens`` word tokens.

    ``chunk_tokens == 0`` leaves documents whole; ``max_chunks > 0`` keeps at most that many
    chunks per document (from its start). Chunks keep their document's id in ``document``, so
    the bootstrap still resamples whole documents.
    """
    if chunk_tokens <= 0:
        return probes
    records = []
    for row in probes:
        starts = [match.start() for match in WORD_TOKEN.finditer(row["text"])][::chunk_tokens]
        bounds = [*starts[1:], len(row["text"])]
        for index, (start, end) in enumerate(zip(starts, bounds, strict=True)):
            if max_chunks and index >= max_chunks:
                break
            records.append({**row, "id": f"{row['id']}#{index}", "text": row["text"][start:end]})
    return _documents(records, "chunking")
