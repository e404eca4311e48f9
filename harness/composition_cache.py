"""Hydra compositions of run configs, reused across processes while their inputs are unchanged.

Hydra's composition of a run's config (reading the YAML files of every config source and merging
them into OmegaConf nodes) took 0.15–0.25 s of a 1.2 s rerun whose answers were all cached
(benchmarks/warm_cache.py), more than any step of the run itself. A rerun usually differs from
the run before only in values (a threshold, ``cache.path``, ``hydra.run.dir``), so the
overrides are split (:func:`plan`): those that choose configs or may change what is read
(group choices, deletions, ``@package``, ``hydra.searchpath``) are composed by Hydra, and that
*base* composition is kept; the *value* overrides (dotted keys, and top-level keys that are not
config groups: ``seed=1``) are then applied to it with Hydra's own override code, and the
override lists and ``override_dirname`` rebuilt from the whole list, as Hydra's loader does
(:func:`apply_values`). The result is the config Hydra composes from the whole list (tested key
for key). Values are applied after config choices in Hydra too; a value override whose key is
related to the key of a base override that is not a group choice (where order could matter)
keeps the whole list in the base.

A base composition depends only on the config name, its overrides, the job name, the config
search path, the working directory, the Python installation, the versions of hydra-core,
OmegaConf and rai-harness, the structured configs that hydra-core and its plugins
(``hydra_plugins``) register in code, and the files of the config
sources it read (``hydra.runtime.config_sources``: Hydra's own, ``conf/``, plugin config
packages and any ``hydra.searchpath`` entry). It is kept under a digest of the first of these,
with the status (relative path, size, modification time in ns) of every file below each config
source, and returned only when that status is unchanged, so editing, adding or removing any
config file, or installing another version of a plugin, composes afresh. A composition that
copies environment variables (``hydra.job.env_copy``), asks for Hydra's debug log
(``hydra.verbose``, or the ``hydra`` logger at DEBUG), or whose config files choose configs through
an interpolation (a ``defaults`` list or ``hydra.searchpath`` with ``${...}``, which Hydra
resolves while composing, e.g. from the environment) is composed by Hydra every time, and so is
one whose files changed while it was being composed. Overrides of what Hydra itself writes after
applying overrides (``hydra.runtime.*``, ``hydra.overrides.*``, ``hydra.job.config_name``) and
lists that fail to compose go to Hydra whole, so errors name the override Hydra names. Entries
are pickles in ``$RAI_HARNESS_HOME/compositions``, trusted like the template bytecode cache
beside them (a home other users can write is unsafe for both); the :data:`KEPT_ENTRIES` most
recently used are kept. An unreadable, damaged or stale entry, or a home that cannot be written,
only means composing again.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import pickle
import re
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from omegaconf import DictConfig, open_dict

if TYPE_CHECKING:
    from hydra.core.override_parser.types import Override

from harness.home import home

CACHE_DIR = "compositions"
KEPT_ENTRIES = 64
"""Entries kept; the least recently used are removed when a new one is written."""
SKIPPED_DIRS = frozenset({"__pycache__"})
"""Folders whose files cannot change a composition (Python writes bytecode there on import)."""
WRITTEN_BY_HYDRA = ("hydra.runtime", "hydra.overrides", "hydra.job.config_name")
"""Keys Hydra's loader sets after applying overrides: an override of one goes to Hydra whole."""
RACY_NS = 2_000_000_000
"""A file modified this close to the start of a composition may have changed during it."""

FileStatus = list[Any]
"""(folder, relative path, size, mtime in ns) of one file; size and mtime -1 if it cannot be read."""


@dataclass
class Plan:
    """A run's overrides, split into those Hydra composes and those applied to its composition."""

    parsed: list[Override]
    """Every override, in the order given."""
    base_lines: list[str]
    """The overrides Hydra composes (as given on the command line)."""
    values: list[Override]
    """The value overrides applied afterwards, in the order given."""


def plan(overrides: list[str], groups: Iterable[str], top_level_values: bool = True) -> Plan:
    """Split ``overrides`` into the base composition's and the value overrides applied to it.

    A value override sets, adds or force-adds a key without a package or a sweep: a dotted key
    (``suite.scenarios.toxicity.threshold``, ``hydra.run.dir``), or, with ``top_level_values``, a
    top-level key that is not a config group (``groups``; ``seed``, ``limit``). The caller turns
    that off when the user's own ``hydra.searchpath`` may bring in groups it does not know.
    ``hydra.searchpath`` itself stays in the base. If a value override's key is the key of a
    base override that is not a config group, or lies below or above it, every override stays
    in the base: Hydra applies values in the order given, and moving one past the other could
    change the result. So does every override when one sets a key of :data:`WRITTEN_BY_HYDRA`.
    """
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parsed = OverridesParser.create().parse_overrides(overrides)
    group_names = set(groups)
    known = group_names if top_level_values else None
    values = [o for o in parsed if _is_value_override(o, known)]
    base = [o for o in parsed if not _is_value_override(o, known)]
    base_keys = [o.key_or_group for o in base if o.key_or_group not in group_names]
    written = any(_related(value.key_or_group, key) for value in values for key in WRITTEN_BY_HYDRA)
    if written or any(_related(value.key_or_group, key) for value in values for key in base_keys):
        return Plan(parsed, [o.input_line for o in parsed], [])
    return Plan(parsed, [o.input_line for o in base], values)


def apply_values(base: DictConfig, run: Plan) -> DictConfig:
    """The base composition with the value overrides applied, as Hydra composes the whole list.

    Applies the values with Hydra's ``_apply_overrides_to_config`` and rebuilds
    ``hydra.overrides`` and ``hydra.job.override_dirname`` from the whole list, in its order (the
    rest of ``hydra.runtime`` does not depend on values).
    """
    from hydra._internal.config_loader_impl import ConfigLoaderImpl, get_overrides_dirname

    ConfigLoaderImpl._apply_overrides_to_config(run.values, base)
    task = [o for o in run.parsed if not o.is_hydra_override()]
    with open_dict(base.hydra):
        base.hydra.overrides.task = [o.input_line for o in task]
        base.hydra.overrides.hydra = [o.input_line for o in run.parsed if o.is_hydra_override()]
    dirname = base.hydra.job.config.override_dirname
    base.hydra.job.override_dirname = get_overrides_dirname(
        overrides=task, kv_sep=dirname.kv_sep, item_sep=dirname.item_sep, exclude_keys=dirname.exclude_keys
    )
    return base


def composed_by_hydra_only(config: DictConfig) -> bool:
    """Whether a run's config must come from Hydra's own composition of the whole list.

    Environment copies (``hydra.job.env_copy``) and Hydra's debug output (``hydra.verbose``, or
    the ``hydra`` logger at DEBUG once logging is configured from ``config``) are made there.
    """
    import logging

    debug = logging.getLogger("hydra").isEnabledFor(logging.DEBUG)
    return bool(config.hydra.job.env_copy or config.hydra.verbose or debug)


def _is_value_override(override: Override, groups: set[str] | None) -> bool:
    """Whether an override sets a value (with ``groups`` None, only a dotted key counts)."""
    key = override.key_or_group
    if override.package is not None or override.is_sweep_override() or override.is_delete() or "/" in key:
        return False
    if "." in key:
        return not key.startswith("hydra.searchpath")
    return groups is not None and key not in groups and not key.startswith("hydra")


def _related(key: str, other: str) -> bool:
    """Whether one dotted key is the other, or lies below it."""
    return key == other or key.startswith(f"{other}.") or other.startswith(f"{key}.")


def composition_key(config_name: str, overrides: list[str], task_name: str, search_path: list[str]) -> str:
    """Digest of every input of a composition that is known before composing.

    ``search_path`` is Hydra's config search path (the main config folder among it). The config
    sources' files are checked separately (:func:`lookup`), because which sources a composition
    reads is only known once it is composed.
    """
    import hydra
    import omegaconf
    from hydra import version

    import harness

    inputs = {
        "config_name": config_name,
        "overrides": overrides,
        "task_name": task_name,
        "search_path": search_path,
        "cwd": os.getcwd(),
        "python": [sys.version, sys.prefix],
        "versions": [hydra.__version__, str(version.getbase()), omegaconf.__version__],
        "harness": harness.__version__,
        "structured_configs": _tree_status(_plugin_folders()),
    }
    return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()


def lookup(key: str) -> DictConfig | None:
    """The composition kept under ``key`` if its config sources are unchanged, else None."""
    path = _cache_dir() / f"{key}.pickle"
    try:
        entry = pickle.loads(path.read_bytes())
        config = entry["config"]
        fresh = isinstance(config, DictConfig) and entry["sources"] == _sources_status(config)
    except Exception:  # missing, unreadable or damaged (unpickling can raise anything): compose
        return None
    if not fresh:
        return None
    with contextlib.suppress(OSError):  # pruning keeps the most recently used entries
        os.utime(path)
    return config


def composition_started() -> int:
    """The time to pass to :func:`keep` for a composition starting now (ns since the epoch)."""
    return time.time_ns()


def keep(key: str, config: DictConfig, started: int) -> None:
    """Keep a base composition made from ``started`` on under ``key``, where it can be kept.

    Not kept: one that copies environment variables or asks for Hydra's debug log, one whose
    config files choose configs through an interpolation, one whose sources are not all folders
    on disk, and one with a file modified since shortly before ``started`` (it may have changed
    while Hydra read it). Never raises: a composition that cannot be kept is composed next time.
    """
    from harness.store import write_bytes_atomic

    try:
        if config.hydra.job.env_copy or config.hydra.verbose:
            return
        sources = _sources_status(config)
        if sources is None or _uncacheable(sources, started):
            return
        directory = _cache_dir()
        write_bytes_atomic(directory / f"{key}.pickle", pickle.dumps({"sources": sources, "config": config}))
        _prune(directory)
    except Exception:  # an unwritable home, an unpicklable value, a file gone: compose next time
        return


def _uncacheable(sources: list[Any], started: int) -> bool:
    """Whether a file changed shortly before or during the composition, or chooses by interpolation."""
    for _, _, files in sources:
        for folder, relative, _size, mtime in files:
            if mtime >= started - RACY_NS:
                return True
            if relative.endswith((".yaml", ".yml")) and _chooses_by_interpolation(Path(folder) / relative):
                return True
    return False


def _chooses_by_interpolation(path: Path) -> bool:
    """Whether a config file's ``defaults`` list or ``searchpath`` holds an interpolation.

    Hydra resolves those while composing (``${oc.env:...}`` reads the environment), so the same
    files can compose differently. A text scan: a line opens the block, and ``${`` on it or on an
    indented or list line below it counts (unreadable files count too).
    """
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return True
    in_block = False
    for line in lines:
        opens = re.match(r"^\s*(defaults|searchpath)\s*:", line) is not None
        if opens:
            in_block = True
        elif line and not line[0].isspace() and not line.startswith("-"):
            in_block = False
        if in_block and "${" in line:
            return True
    return False


def _cache_dir() -> Path:
    return home() / CACHE_DIR


def _prune(directory: Path) -> None:
    entries = sorted(directory.glob("*.pickle"), key=lambda path: path.stat().st_mtime_ns, reverse=True)
    for stale in entries[KEPT_ENTRIES:]:
        stale.unlink(missing_ok=True)


def _plugin_folders() -> list[Path]:
    """The folders of the ``hydra_plugins`` namespace, whose modules register structured configs."""
    try:
        import hydra_plugins
    except ImportError:
        return []
    return [Path(folder) for folder in hydra_plugins.__path__]


def _sources_status(config: DictConfig) -> list[Any] | None:
    """File status below every config source of a composition; None if a source is not on disk."""
    status: list[Any] = []
    for source in config.hydra.runtime.config_sources:
        if source.schema == "structured":  # registered in code: covered by the key's plugin folders
            continue
        folder = _source_folder(str(source.schema), str(source.path))
        if folder is None:
            return None
        status.append([source.schema, source.path, _tree_status([folder])])
    return status


def _source_folder(schema: str, path: str) -> Path | None:
    """The folder a ``file`` or ``pkg`` config source reads from (None: zipped, unknown or absent)."""
    if schema == "file":
        folder = Path(path)
    elif schema == "pkg":
        try:
            folder = Path(str(resources.files(path.replace("/", "."))))
        except (ImportError, TypeError, ValueError):
            return None
    else:
        return None
    return folder if folder.is_dir() else None


def _tree_status(folders: Iterable[Path]) -> list[FileStatus]:
    """The status of every file below the folders, sorted (a dangling link or unreadable file: -1)."""
    status: list[FileStatus] = []
    for folder in folders:
        for root, dirs, files in os.walk(folder):
            dirs[:] = sorted(d for d in dirs if d not in SKIPPED_DIRS)
            for name in sorted(files):
                path = os.path.join(root, name)
                try:
                    stat = os.stat(path)
                    size, mtime = stat.st_size, stat.st_mtime_ns
                except OSError:  # an editor's lock link, a file removed while walking
                    size, mtime = -1, -1
                status.append([str(folder), os.path.relpath(path, folder), size, mtime])
    return status
