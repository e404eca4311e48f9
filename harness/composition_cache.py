"""Hydra compositions of run configs, reused across processes while their inputs are unchanged.

Hydra's composition of a run's config (reading the YAML files of every config source and merging
them into OmegaConf nodes) took 0.15–0.25 s of a 1.2 s rerun whose answers were all cached
(benchmarks/warm_cache.py), more than any step of the run itself. A rerun usually differs from
the run before only in values (a threshold, ``cache.path``, ``hydra.run.dir``), so the
overrides are split (:func:`plan`): those that choose configs or may change what is read
(group choices, top-level keys, deletions, ``@package``, ``hydra.searchpath``) are composed by
Hydra, and that *base* composition is kept; the *value* overrides (dotted keys) are then applied
to it with Hydra's own override code, and the override lists and ``override_dirname`` rebuilt
from the whole list, as Hydra's loader does (:func:`finish`). The result is the config Hydra
composes from the whole list (tested key for key). Values are applied after config choices
in Hydra too; a value override whose key is related to a top-level value override's key (where
order could matter) keeps the whole list in the base.

A base composition depends only on the config name, its overrides, the job name, the working
directory, the versions of Python, hydra-core, OmegaConf and rai-harness, the structured configs
that hydra-core and its plugins (``hydra_plugins``) register in code, and the files of the config
sources it read (``hydra.runtime.config_sources``: Hydra's own, ``conf/``, plugin config
packages and any ``hydra.searchpath`` entry). It is kept under a digest of the first of these,
with the status (relative path, size, modification time in ns) of every file below each config
source, and returned only when that status is unchanged, so editing, adding or removing any
config file, or installing another version of a plugin, composes afresh. A composition that
copies environment variables (``hydra.job.env_copy``) or asks for Hydra's debug log
(``hydra.verbose``) is composed by Hydra every time. Entries are pickles in
``$RAI_HARNESS_HOME/compositions``, trusted like the template bytecode cache beside them (a home
other users can write is unsafe for both); the newest :data:`KEPT_ENTRIES` are kept. An
unreadable, damaged or stale entry, or a home that cannot be written, only means composing again.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import sys
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
"""Entries kept; the oldest are removed when a new one is written."""
SKIPPED_DIRS = frozenset({"__pycache__"})
"""Folders whose files cannot change a composition (Python writes bytecode there on import)."""


@dataclass
class Plan:
    """A run's overrides, parsed, split into those Hydra composes and those applied afterwards."""

    parsed: list[Override]
    base: list[str]
    values: list[Override]


def plan(overrides: list[str], groups: Iterable[str]) -> Plan:
    """Split ``overrides`` into the base composition's and the value overrides applied to it.

    A value override sets, adds or force-adds a dotted key (``suite.scenarios.toxicity.threshold``,
    ``hydra.run.dir``) without a package or a sweep; ``hydra.searchpath`` stays in the base. If a
    value override's key is the key of a base override that is not a config group (``groups``),
    or lies below or above it, every override stays in the base: Hydra applies values in the
    order given, and moving one past the other could change the result.
    """
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parsed = OverridesParser.create().parse_overrides(overrides)
    values = [o for o in parsed if _is_value_override(o)]
    base = [o for o in parsed if not _is_value_override(o)]
    base_keys = [o.key_or_group for o in base if o.key_or_group not in set(groups)]
    if any(_related(value.key_or_group, key) for value in values for key in base_keys):
        return Plan(parsed, [o.input_line for o in parsed], [])
    return Plan(parsed, [o.input_line for o in base], values)


def finish(base: DictConfig, run: Plan) -> DictConfig | None:
    """The base composition with the value overrides applied, as Hydra composes the whole list.

    Applies the values with Hydra's ``_apply_overrides_to_config`` and rebuilds
    ``hydra.overrides`` and ``hydra.job.override_dirname`` from the whole list, in its order (the
    rest of ``hydra.runtime`` does not depend on values). Returns None where Hydra must compose
    itself: the result copies environment variables or asks for Hydra's debug log.
    """
    from hydra._internal.config_loader_impl import ConfigLoaderImpl, get_overrides_dirname
    from hydra.errors import ConfigCompositionException
    from omegaconf.errors import OmegaConfBaseException

    try:
        ConfigLoaderImpl._apply_overrides_to_config(run.values, base)
    except OmegaConfBaseException as exc:  # as Hydra's load_configuration reports it
        raise ConfigCompositionException() from exc
    if base.hydra.job.env_copy or base.hydra.verbose:
        return None
    task = [o for o in run.parsed if not o.is_hydra_override()]
    with open_dict(base.hydra):
        base.hydra.overrides.task = [o.input_line for o in task]
        base.hydra.overrides.hydra = [o.input_line for o in run.parsed if o.is_hydra_override()]
    dirname = base.hydra.job.config.override_dirname
    base.hydra.job.override_dirname = get_overrides_dirname(
        overrides=task, kv_sep=dirname.kv_sep, item_sep=dirname.item_sep, exclude_keys=dirname.exclude_keys
    )
    return base


def _is_value_override(override: Override) -> bool:
    key = override.key_or_group
    return (
        "." in key
        and "/" not in key
        and override.package is None
        and not override.is_sweep_override()
        and not override.is_delete()
        and not key.startswith("hydra.searchpath")
    )


def _related(key: str, other: str) -> bool:
    """Whether one dotted key is the other, or lies below it."""
    return key == other or key.startswith(f"{other}.") or other.startswith(f"{key}.")


def composition_key(config_name: str, overrides: list[str], task_name: str) -> str:
    """Digest of every input of a composition that is known before composing.

    The config sources' files are checked separately (:func:`lookup`), because which sources a
    composition reads is only known once it is composed.
    """
    import hydra
    import omegaconf
    from hydra import version

    import harness

    inputs = {
        "config_name": config_name,
        "overrides": overrides,
        "task_name": task_name,
        "cwd": os.getcwd(),
        "python": sys.version,
        "versions": [hydra.__version__, str(version.getbase()), omegaconf.__version__],
        "harness": harness.__version__,
        "structured_configs": _tree_status(_plugin_folders()),
    }
    return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()


def lookup(key: str) -> DictConfig | None:
    """The composition kept under ``key`` if its config sources are unchanged, else None."""
    try:
        entry = pickle.loads((_cache_dir() / f"{key}.pickle").read_bytes())
        config = entry["config"]
        fresh = isinstance(config, DictConfig) and entry["sources"] == _sources_status(config)
    except Exception:  # missing, unreadable or damaged (unpickling can raise anything): compose
        return None
    return config if fresh else None


def keep(key: str, config: DictConfig) -> None:
    """Keep a fresh base composition under ``key`` (not one that copies environment variables)."""
    from harness.store import write_bytes_atomic

    if config.hydra.job.env_copy or config.hydra.verbose:
        return
    sources = _sources_status(config)
    if sources is None:
        return
    directory = _cache_dir()
    try:
        write_bytes_atomic(directory / f"{key}.pickle", pickle.dumps({"sources": sources, "config": config}))
        _prune(directory)
    except OSError:  # a read-only or full home: the next run composes again
        return


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


def _tree_status(folders: Iterable[Path]) -> list[list[Any]]:
    """(folder, relative path, size, mtime in ns) of every file below the folders, sorted."""
    status = []
    for folder in folders:
        for root, dirs, files in os.walk(folder):
            dirs[:] = sorted(d for d in dirs if d not in SKIPPED_DIRS)
            for name in sorted(files):
                path = os.path.join(root, name)
                stat = os.stat(path)
                status.append([str(folder), os.path.relpath(path, folder), stat.st_size, stat.st_mtime_ns])
    return status
