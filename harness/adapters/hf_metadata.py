"""What the ``hf`` adapter can know about a model without importing torch or transformers.

A rerun whose answers all come from the response cache needs only the model's identity (for the
cache keys) and its capabilities (to check the scenarios it serves). Importing torch and
transformers to learn them takes 2–3 s on a CPU machine, longer than the rest of such a run. This
module answers from files instead, and returns None whenever only torch can answer:

* device and dtype (:func:`static_device_dtype`): an explicit choice is taken as given; ``auto``
  on a torch build without CUDA or ROCm (read from ``torch/version.py``, not imported) and not on
  macOS (where MPS may exist) is the CPU in float32, which is what the adapter itself picks there;
* capabilities (:func:`remembered_capabilities`): remembered from the last time this
  transformers version loaded the same files (``<RAI_HARNESS_HOME>/hf-metadata/``); the key holds
  the weights fingerprint, which covers the tokenizer files and chat templates;
* the Hub commit of a cached Hub model (:func:`hub_commit`), from its snapshot directory:
  transformers 5 no longer records it on the config, so without this a Hub model's cache identity
  would not change when the repository is updated.
"""

from __future__ import annotations

import ast
import contextlib
import importlib.metadata
import importlib.util
import json
import sys
from pathlib import Path

from harness.types import Capability, stable_hash

#: dtype names whose torch object prints as ``torch.<name>`` (aliases such as ``half`` need torch).
CANONICAL_DTYPES = frozenset({"float32", "float16", "bfloat16", "float64"})


def literal_assignments(source: str) -> dict[str, object]:
    """The ``name = <literal>`` assignments of a Python source file (annotated ones included)."""
    values: dict[str, object] = {}
    for node in ast.parse(source).body:
        target = node.targets[0] if isinstance(node, ast.Assign) and len(node.targets) == 1 else None
        if isinstance(node, ast.AnnAssign):
            target = node.target
        value = getattr(node, "value", None)
        if isinstance(target, ast.Name) and value is not None:
            with contextlib.suppress(ValueError, TypeError, SyntaxError):
                values[target.id] = ast.literal_eval(value)
    return values


def torch_version_file() -> Path | None:
    """``torch/version.py`` of the installed torch, located without importing torch."""
    spec = importlib.util.find_spec("torch")
    locations = list(spec.submodule_search_locations or []) if spec else []
    return Path(locations[0]) / "version.py" if locations else None


def torch_is_cpu_only(version_file: Path | None = None) -> bool:
    """True when torch can only pick the CPU here: a build without CUDA or ROCm, not on macOS."""
    if sys.platform == "darwin":
        return False
    version_file = version_file or torch_version_file()
    if version_file is None:
        return False
    try:
        build = literal_assignments(version_file.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, ValueError):  # unreadable, not Python, or a NUL byte: ask torch
        return False
    return "cuda" in build and build["cuda"] is None and build.get("hip") is None


def static_device_dtype(device: str, dtype: str) -> tuple[str, str] | None:
    """(device, dtype name) as the adapter would resolve them, or None when torch must decide.

    Mirrors ``HFAdapter._pick_device``/``_pick_dtype``: ``auto`` dtype is half precision only on
    ``cuda``, float32 elsewhere.
    """
    if dtype != "auto" and dtype not in CANONICAL_DTYPES:
        return None
    if device == "auto":
        if not torch_is_cpu_only():
            return None
        device = "cpu"
    if dtype == "auto":
        if device == "cuda":
            return None
        dtype = "float32"
    return device, dtype


def metadata_dir() -> Path:
    """Where remembered capabilities live (beside the reference model builds)."""
    from harness.home import home

    return home() / "hf-metadata"


def metadata_key(weights_hash: str, revision: str | None, trust_remote_code: bool) -> str:
    """The files (by fingerprint), revision and transformers version that decide the tokenizer."""
    try:
        transformers_version = importlib.metadata.version("transformers")
    except importlib.metadata.PackageNotFoundError:
        transformers_version = None
    return stable_hash(
        {
            "weights_hash": weights_hash,
            "revision": revision,
            "trust_remote_code": trust_remote_code,
            "transformers": transformers_version,
        }
    )


def remembered_capabilities(key: str) -> frozenset[Capability] | None:
    """The capabilities remembered under ``key``, or None (never seen, or unreadable)."""
    try:
        names = json.loads((metadata_dir() / f"{key}.json").read_text(encoding="utf-8"))["capabilities"]
        return frozenset(Capability(name) for name in names)
    except (OSError, ValueError, KeyError, TypeError):
        return None


def remember_capabilities(key: str, capabilities: frozenset[Capability]) -> None:
    """Remember ``capabilities`` under ``key``; a read-only home only costs the next run time."""
    from harness.store import write_json_atomic

    with contextlib.suppress(OSError):
        write_json_atomic(
            metadata_dir() / f"{key}.json", {"capabilities": sorted(c.value for c in capabilities)}
        )


def hub_commit(repo_id: str, revision: str | None) -> str | None:
    """The commit of ``repo_id`` at ``revision`` in the local Hugging Face cache, or None."""
    from huggingface_hub import try_to_load_from_cache

    try:
        found = try_to_load_from_cache(repo_id, "config.json", revision=revision)
    except ValueError:  # not a valid repository id (huggingface_hub's HFValidationError)
        return None
    return Path(found).parent.name if isinstance(found, str) else None
