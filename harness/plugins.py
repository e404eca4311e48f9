"""Scenarios from single Python files, and configs for scenarios that ship no YAML.

``harness scenario=path/to/my_scenario.py`` runs the scenario class defined in that file without
packaging or ``pip install``; so does any scenario in a file or folder listed under ``plugins:``
(in the config, or ``plugins=[dir]`` on the command line). The file is imported under a module
name of its own, its one :class:`~harness.scenario.Scenario` subclass is registered under the
class's ``name`` (the scenario's one name: run directories, config keys and reports use it), and
the override becomes ``scenario=<name>``.

A scenario needs no YAML file: where ``conf/scenario/<name>.yaml`` (or a plugin config package's)
does not exist, its config node is built from its ``Params`` dataclass defaults and given to
Hydra's :class:`~hydra.core.config_store.ConfigStore`, so ``scenario=<name>`` and suite entries
find it like any other option.

Plugin files are Python code: they run with the user's rights, like any config that names code.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.util
import inspect
import sys
from pathlib import Path
from typing import Any

from harness import registry
from harness.errors import ConfigError, PluginError

SCENARIO_GROUP = "scenario"


def load_scenario_file(path: Path) -> type:
    """Import ``path`` and register the one Scenario subclass it defines; returns the class."""
    from harness.scenario import Scenario

    path = Path(path).expanduser().resolve()
    if not path.is_file():
        raise PluginError(f"scenario file {path} does not exist")
    module_name = f"harness_plugin_{path.stem}_{hashlib.sha256(str(path).encode()).hexdigest()[:8]}"
    if module_name not in sys.modules:
        spec = importlib.util.spec_from_file_location(module_name, path)
        if spec is None or spec.loader is None:
            raise PluginError(f"{path}: not a Python file")
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module  # dataclasses look their module up while the file runs
        try:
            spec.loader.exec_module(module)
        except Exception as exc:  # the user's code: report where it failed, not a traceback
            del sys.modules[module_name]
            raise PluginError(f"{path} failed to import: {type(exc).__name__}: {exc}") from exc
    module = sys.modules[module_name]
    found = [
        value
        for value in vars(module).values()
        if inspect.isclass(value)
        and issubclass(value, Scenario)
        and value.__module__ == module_name
        and not inspect.isabstract(value)
    ]
    if len(found) != 1:
        names = ", ".join(cls.__name__ for cls in found) or "none"
        raise PluginError(f"{path} must define exactly one Scenario subclass (found: {names})")
    scenario_class = found[0]
    name = getattr(scenario_class, "name", None)
    if not isinstance(name, str) or not name.isidentifier():
        raise PluginError(
            f"{path}: {scenario_class.__name__}.name must be set to the scenario's name "
            f"(letters, digits and underscores), got {name!r}"
        )
    registry.register_scenario(name, scenario_class, str(path))
    return scenario_class


def load_search_path(entries: list[str]) -> list[type]:
    """Load every scenario of the ``plugins`` search path: files, and ``*.py`` files in folders.

    Files in a folder that define no Scenario subclass (helpers) are left alone.
    """
    loaded = []
    for entry in entries:
        path = Path(entry).expanduser()
        if path.is_dir():
            for file in sorted(path.glob("*.py")):
                if _defines_a_scenario(file):
                    loaded.append(load_scenario_file(file))
        elif path.is_file():
            loaded.append(load_scenario_file(path))
        else:
            raise ConfigError(f"plugins: {entry} is neither a file nor a folder")
    return loaded


def _defines_a_scenario(path: Path) -> bool:
    """Whether a file's text subclasses Scenario (cheap: folders may hold helper modules)."""
    try:
        return "Scenario)" in path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return False


def default_node(name: str, scenario_class: type) -> dict[str, Any]:
    """A scenario's config node from its ``Params`` defaults, with its name."""
    from omegaconf import OmegaConf

    params = scenario_class.Params
    if not dataclasses.is_dataclass(params):
        raise PluginError(f"scenario {name}: {getattr(params, '__name__', params)} is not a dataclass")
    node = OmegaConf.to_container(OmegaConf.structured(params), resolve=False)
    return {**node, "name": name}


def store_default_configs(has_yaml: set[str]) -> None:
    """Give Hydra a config node for every known scenario that has no YAML option (``has_yaml``).

    Entry-point scenarios are imported only when they lack a YAML file.
    """
    from hydra.core.config_store import ConfigStore

    store = ConfigStore.instance()
    for name in registry.scenario_names():
        if name in has_yaml:
            continue
        store.store(group=SCENARIO_GROUP, name=name, node=default_node(name, registry.load_scenario(name)))


def prepare(argv: list[str], plugin_entries: list[str]) -> list[str]:
    """Load the ``plugins`` search path and every ``scenario=<file>.py`` of ``argv``; returns ``argv``
    with each such override naming the scenario instead of its file."""
    from harness.config import group_options

    load_search_path(plugin_entries)
    prepared = []
    for argument in argv:
        key, sep, value = argument.partition("=")
        if sep and key.lstrip("+") == SCENARIO_GROUP and value.endswith(".py"):
            argument = f"{key}={load_scenario_file(Path(value)).name}"
        prepared.append(argument)
    store_default_configs(set(group_options(SCENARIO_GROUP)))
    return prepared
