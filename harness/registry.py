"""Plugin discovery through entry points, without importing what is not selected.

Scenarios live in the entry-point group ``harness.scenarios`` and model adapters in
``harness.models``; built-ins are declared in this project's ``pyproject.toml`` exactly like a
third-party package would declare its own. Discovery reads only package metadata, so listing
and selecting are cheap; :func:`load` imports the one plugin that was asked for. Scenarios from
single files (:mod:`harness.plugins`) are registered in this process with :func:`register_scenario`.

A scenario has one name, its class's ``name``: an entry point must be registered under it, and a
mismatch is refused with one line naming both.
"""

from __future__ import annotations

import difflib
import functools
import importlib
from collections.abc import Mapping
from dataclasses import dataclass
from importlib.metadata import Distribution, entry_points
from types import MappingProxyType
from typing import Any

from harness.errors import PluginError

SCENARIOS = "harness.scenarios"
MODELS = "harness.models"
GROUPS = {SCENARIOS: "scenario", MODELS: "model adapter"}


@dataclass(frozen=True)
class PluginEntry:
    """One discovered plugin: its name, the import target and the distribution that supplied it."""

    group: str
    name: str
    target: str
    distribution: str
    version: str

    @property
    def kind(self) -> str:
        """'scenario' or 'model adapter'."""
        return GROUPS[self.group]


def _name_and_version(dist: Distribution | None) -> tuple[str, str]:
    if dist is None:
        return "<unknown distribution>", "?"
    metadata = dist.metadata  # parses the whole METADATA file (long descriptions included): read once
    return metadata["Name"], metadata["Version"]


@functools.cache
def discover(group: str) -> Mapping[str, PluginEntry]:
    """All plugins of a group, by name. Two distributions claiming one name is an error.

    Read once per process (a config is validated before its jobs run and again inside each job,
    and ``harness list`` asks for both groups): installing a plugin takes effect in the next
    process, as with any Python package.
    """
    found: dict[str, PluginEntry] = {}
    distributions: dict[int, tuple[str, str]] = {}  # entry points of one distribution share its object
    for ep in entry_points(group=group):
        dist = getattr(ep, "dist", None)
        if id(dist) not in distributions:
            distributions[id(dist)] = _name_and_version(dist)
        distribution, version = distributions[id(dist)]
        entry = PluginEntry(group, ep.name, ep.value, distribution, version)
        previous = found.get(ep.name)
        if previous is not None and (previous.distribution, previous.target) != (distribution, ep.value):
            raise PluginError(
                f"{GROUPS[group]} name {ep.name!r} is declared twice: by {previous.distribution} "
                f"({previous.target}) and by {distribution} ({ep.value}). Uninstall one of them "
                f'or rename the entry point in its pyproject.toml [project.entry-points."{group}"].'
            )
        found[ep.name] = entry
    return MappingProxyType(found)


_FILE_SCENARIOS: dict[str, tuple[type, str]] = {}
"""Scenarios loaded from single files in this process: name -> (class, file)."""


def register_scenario(name: str, scenario_class: type, source: str) -> None:
    """Register a scenario class loaded from the file ``source`` under its ``name``.

    A name already taken by another file or by an installed plugin is refused.
    """
    previous = _FILE_SCENARIOS.get(name)
    if previous is not None and previous[1] != source:
        raise PluginError(f"scenario name {name!r} is defined twice: in {previous[1]} and in {source}")
    installed = discover(SCENARIOS).get(name)
    if installed is not None:
        raise PluginError(
            f"scenario name {name!r} of {source} is taken by {installed.distribution} ({installed.target}); "
            "rename the class's name"
        )
    _FILE_SCENARIOS[name] = (scenario_class, source)


def scenario_names() -> list[str]:
    """Every scenario name: installed plugins and those loaded from files."""
    return sorted({*discover(SCENARIOS), *_FILE_SCENARIOS})


def load(group: str, name: str) -> Any:
    """Import and return the plugin class registered as ``name`` in ``group``."""
    if group == SCENARIOS and name in _FILE_SCENARIOS:
        return _FILE_SCENARIOS[name][0]
    plugins = discover(group)
    if name not in plugins:
        suggestion = difflib.get_close_matches(name, plugins, n=1)
        hint = f" Did you mean {suggestion[0]!r}?" if suggestion else ""
        raise PluginError(
            f"unknown {GROUPS[group]} {name!r}.{hint} Installed: {', '.join(sorted(plugins)) or 'none'}. "
            f"Run `harness list` to see every plugin and the package that supplied it."
        )
    plugin = load_entry(plugins[name])
    if group == SCENARIOS and getattr(plugin, "name", None) != name:
        raise PluginError(
            f"scenario entry point {name!r} ({plugins[name].target}) loads a class named "
            f"{getattr(plugin, 'name', None)!r}; a scenario has one name: register the entry point "
            "under the class's name"
        )
    return plugin


def load_entry(entry: PluginEntry) -> Any:
    """Import one discovered plugin; an import failure names its distribution and the error."""
    module_name, _, attribute = entry.target.partition(":")
    try:
        module = importlib.import_module(module_name)
        plugin = module
        for part in attribute.split("."):
            if part:
                plugin = getattr(plugin, part)
    except Exception as exc:  # any import-time failure of third-party code is reported, not hidden
        raise PluginError(
            f"{entry.kind} {entry.name!r} from distribution {entry.distribution} {entry.version} "
            f"failed to import ({entry.target}): {type(exc).__name__}: {exc}"
        ) from exc
    return plugin


def load_scenario(name: str) -> Any:
    """The scenario class registered as ``name``."""
    return load(SCENARIOS, name)


def load_adapter(name: str) -> Any:
    """The model-adapter class registered as ``name``."""
    return load(MODELS, name)
