"""Configuration: typed schemas for every group, and validation with messages that name the key.

Hydra composes ``conf/`` with the command-line overrides. Before any job starts, :func:`preflight`
composes the same overrides (every value of a sweep) and validates the result, so that a
misspelled key or an unknown group option fails at once with one message that names the key and
lists the valid ones. Typed validation merges each group into its dataclass schema:
:class:`HarnessSettings` for the top level, the adapter's ``Params`` for ``model`` and each
scenario's ``Params`` for the scenarios.
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import functools
import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf, open_dict
from omegaconf.errors import OmegaConfBaseException

from harness.errors import ConfigError
from harness.secrets import check_config, strip_url_logins

CONFIG_MODULE = "harness.conf"
CONFIG_NAME = "config"
HYDRA_VERSION_BASE = "1.3"
GROUPS = ("model", "scenario", "suite", "gate")


@dataclass
class CacheConfig:
    """The response cache: on by default, shared by every process of a sweep."""

    enabled: bool = True
    path: str = "results/.cache/responses.sqlite"
    clear: bool = False


@dataclass
class HarnessSettings:
    """Top-level settings; ``model``, ``suite``, ``scenario`` and ``gate`` are validated separately."""

    seed: int = 0
    limit: int | None = None
    limit_mode: str = "random"
    window_size: int = 1024
    progress: bool = True
    bootstrap_resamples: int = 2000
    overwrite: bool = False
    report: bool = True
    max_error_rate: float = 0.1
    retry_errors: bool = True
    sweep_name: str = "sweep"
    plugins: list[str] = field(default_factory=list)
    cache: CacheConfig = field(default_factory=CacheConfig)


PLUGIN_CONF_GROUP = "harness.conf"


@functools.cache
def plugin_config_modules() -> tuple[str, ...]:
    """Config packages that plugin distributions declare under the entry-point group ``harness.conf``.

    Only package metadata is read, once per process (every composition needs the list). Their
    YAML files join the config tree as extra options of the same groups (``scenario/<name>.yaml``,
    ``model/<name>.yaml``, ...). A declared package that cannot be found is reported on stderr
    (once) and left out, never silently dropped.
    """
    import importlib.util
    import sys
    from importlib.metadata import entry_points

    modules = []
    for entry in entry_points(group=PLUGIN_CONF_GROUP):
        try:
            found = importlib.util.find_spec(entry.value) is not None
        except ImportError:
            found = False
        if found:
            modules.append(entry.value)
        else:
            dist = entry.dist.metadata["Name"] if entry.dist else "an unknown distribution"
            print(
                f"harness: warning: config package {entry.value!r} declared by {dist} cannot be imported; "
                "its configs are unavailable (reinstall that package)",
                file=sys.stderr,
            )
    return tuple(sorted(set(modules)))


def searchpath_override(existing: list[str]) -> list[str]:
    """A ``hydra.searchpath=[...]`` override adding the plugin config packages, if there are any."""
    modules = plugin_config_modules()
    if not modules or any(o.startswith("hydra.searchpath=") for o in existing):
        return []
    return ["hydra.searchpath=[" + ",".join(f"pkg://{m}" for m in modules) + "]"]


def config_dir() -> Path:
    """The directory of the packaged Hydra config tree (``conf/`` in a source checkout)."""
    return Path(str(resources.files(CONFIG_MODULE)))


def config_folders() -> list[Path]:
    """The config trees: ``conf/`` (the packaged one) and every plugin config package's folder."""
    return [config_dir(), *(Path(str(resources.files(module))) for module in plugin_config_modules())]


def group_options(group: str) -> list[str]:
    """The options of a config group: YAML files in ``conf/<group>/`` and in plugin config packages."""
    folders = [root / group for root in config_folders()]
    return sorted({p.stem for folder in folders if folder.is_dir() for p in folder.glob("*.yaml")})


HYDRA_VALUE_OPTIONS = frozenset(
    {"--cfg", "-c", "--package", "-p", "--config-path", "-cp", "--config-name", "-cn", "--config-dir", "-cd"}
)
"""Hydra's command-line options that take the next word as their value (``--cfg job``)."""
INFO_CHOICES = frozenset({"all", "config", "defaults", "defaults-tree", "plugins", "searchpath"})
"""The optional value of Hydra's ``--info``."""


def hydra_overrides(argv: list[str]) -> list[str]:
    """The ``key=value`` overrides of a Hydra command line: its options and their values left out."""
    overrides, skip = [], False
    for index, argument in enumerate(argv):
        if skip:
            skip = False
            continue
        if argument in HYDRA_VALUE_OPTIONS:
            skip = True
        elif argument in ("--info", "-i"):
            skip = index + 1 < len(argv) and argv[index + 1] in INFO_CHOICES
        elif not argument.startswith("-"):
            overrides.append(argument)
    return overrides


MAX_RUN_DIR_NAME = 150
"""Bytes of a run directory name above which it is shortened (file systems allow 255 per name)."""


def run_dir_name(override_dirname: str) -> str:
    """The run directory's name for a job's overrides (the ``harness_dirname`` resolver).

    The overrides themselves (``model=hf,seed=1``), with URL logins removed and ``/`` made
    ``_``. A name over :data:`MAX_RUN_DIR_NAME` bytes (long values, absolute paths such as
    ``scenario.data=/home/me/data/my_code.jsonl``) becomes a readable stem, in which every path
    is cut to its last part, plus a hash of the whole name, so different jobs keep different
    directories.
    """
    name = strip_url_logins(override_dirname)
    flat = name.replace("/", "_") or "default"
    if len(flat.encode()) <= MAX_RUN_DIR_NAME:
        return flat
    parts = []
    for override in name.split(","):
        key, sep, value = override.partition("=")
        parts.append(f"{key}{sep}{value.rstrip('/').rsplit('/', 1)[-1]}" if sep else override)
    stem = ",".join(parts).replace("/", "_").encode()[: MAX_RUN_DIR_NAME - 13].decode(errors="ignore")
    return f"{stem}-{hashlib.sha256(name.encode()).hexdigest()[:12]}"


def check_output_folder(overrides: list[str], multirun: bool) -> None:
    """Refuse, before Hydra creates it, a run (or sweep) directory that cannot be created.

    The directory is the one ``hydra.run.dir=`` (``hydra.sweep.dir=``) names, else the default
    root ``results/runs`` (``results/sweeps``). Its nearest existing ancestor must be a writable
    folder.
    """
    key = "hydra.sweep.dir" if multirun else "hydra.run.dir"
    given = [o.split("=", 1)[1] for o in overrides if o.lstrip("+").startswith(f"{key}=")]
    target = Path(given[-1] if given else ("results/sweeps" if multirun else "results/runs")).expanduser()
    ancestor = target.absolute()
    while not ancestor.exists() and not ancestor.is_symlink() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        problem = f"{ancestor} is not a folder"
    elif not os.access(ancestor, os.W_OK | os.X_OK):
        problem = f"{ancestor} is not writable"
    else:
        return
    raise ConfigError(
        f"cannot create the output folder {target}: {problem}; choose another with {key}=<path>"
    )


def check_gate_override(overrides: list[str]) -> None:
    """Refuse ``gate=<value>`` when the value is a path that leaves ``conf/gate/`` (``../x``, ``/x``).

    Hydra resolves a group option as a path below the group's folder, so ``gate=../../x`` would
    load any YAML file and save its content with the run. A policy file outside the gate folders
    is given explicitly to ``harness gate <file> <runs>``.
    """
    for override in overrides:
        key, _, value = override.lstrip("+~").partition("=")
        parts = value.strip().replace("\\", "/").split("/")
        if key.strip() == "gate" and (value.strip().startswith(("/", "~")) or ".." in parts):
            names = ", ".join(group_options("gate"))
            raise ConfigError(
                f"'{override}': gate= takes a policy name from conf/gate/ ({names}); to apply a policy "
                "file from elsewhere, run `harness gate <policy.yaml> <run dir>` after the run"
            )


def _keys_message(prefix: str, bad: str, valid: list[str]) -> str:
    close = difflib.get_close_matches(bad, valid, n=1)
    hint = f" Did you mean '{prefix}{close[0]}'?" if close else ""
    return f"Valid keys under '{prefix.rstrip('.') or 'the top level'}': {', '.join(sorted(valid))}.{hint}"


def validate_section(section: Any, schema: type, where: str) -> Any:
    """Merge ``section`` into the dataclass ``schema``; unknown keys and bad types name the key."""
    data = (
        OmegaConf.to_container(section, resolve=True)
        if isinstance(section, DictConfig)
        else dict(section or {})
    )
    return _validate(data, schema, where)


def _validate(data: dict[str, Any], schema: type, where: str) -> Any:
    valid = [f.name for f in dataclasses.fields(schema)]
    for key in data:
        if key not in valid:
            raise ConfigError(
                f"unknown config key '{where}.{key}'. " + _keys_message(f"{where}.", key, valid)
            )
    try:
        merged = OmegaConf.merge(OmegaConf.structured(schema), data)
        return OmegaConf.to_object(merged)
    except OmegaConfBaseException as exc:
        key = getattr(exc, "full_key", None) or "?"
        reason = str(getattr(exc, "msg", exc)).strip().splitlines()[0]
        raise ConfigError(f"invalid value for '{where}.{key}': {reason}") from exc
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"invalid '{where}' settings: {exc}") from exc


def compose(overrides: list[str], with_hydra: bool = False) -> DictConfig:
    """Compose the packaged config with overrides through Hydra's compose API (outside a Hydra job).

    ``with_hydra`` keeps Hydra's own section (``hydra.*`` overrides are then applied and checked).
    """
    from hydra import compose as hydra_compose
    from hydra import initialize_config_module
    from hydra.core.global_hydra import GlobalHydra

    GlobalHydra.instance().clear()
    try:
        with initialize_config_module(config_module=CONFIG_MODULE, version_base=HYDRA_VERSION_BASE):
            return hydra_compose(
                config_name=CONFIG_NAME,
                overrides=[*overrides, *searchpath_override(overrides)],
                return_hydra_config=with_hydra,
            )
    finally:
        GlobalHydra.instance().clear()


def plugin_search_path(overrides: list[str]) -> list[str]:
    """The ``plugins`` entries (files and folders of one-file scenarios) the config and overrides give.

    Composed before anything else, from the ``plugins`` and ``hydra.searchpath`` overrides only
    (the others may name scenarios those files define). A composition error is left for the
    validation of the whole command line to report.
    """
    from hydra.errors import HydraException

    listed = [o for o in overrides if o.lstrip("+~").startswith(("plugins", "hydra.searchpath"))]
    try:
        entries = compose(listed).get("plugins") or []
    except (HydraException, OmegaConfBaseException, ValueError):
        return []
    return [str(entry) for entry in entries]


def _expand_sweeps(overrides: list[str]) -> list[list[str]]:
    """One override list per sweep value, so each value is validated (first value of the others)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parsed = OverridesParser.create().parse_overrides(overrides)
    base = [o.input_line if not o.is_sweep_override() else None for o in parsed]
    variants: list[list[str]] = []
    for index, override in enumerate(parsed):
        if not override.is_sweep_override():
            continue
        for value in override.sweep_string_iterator():
            variant = [
                line if line is not None else f"{o.get_key_element()}={next(iter(o.sweep_string_iterator()))}"
                for line, o in zip(base, parsed, strict=True)
            ]
            variant[index] = f"{override.get_key_element()}={value}"
            variants.append(variant)
    return variants or [overrides]


def _explain_composition_error(exc: Exception, overrides: list[str]) -> str:
    text = str(exc)
    if isinstance(exc, ValueError):  # Hydra's defaults list refuses a group set to null
        for override in overrides:
            key, _, value = override.lstrip("+").partition("=")
            if key in GROUPS and value.strip().lower() in {"null", "~"}:
                hint = " scenario=<name> runs one scenario instead of the suite." if key == "suite" else ""
                return (
                    f"'{override}': the {key} group takes an option name, not null. Valid options: "
                    f"{', '.join(group_options(key))}. Leave it out for the default.{hint}"
                )
    for group in GROUPS:
        marker = f"Could not find '{group}/"
        if marker in text:
            option = text.split(marker, 1)[1].split("'", 1)[0]
            return (
                f"unknown {group} '{option}'. Valid options: {', '.join(group_options(group))} "
                f"(the YAML files in conf/{group}/). Add conf/{group}/{option}.yaml to define a new one."
            )
    for override in overrides:
        key = override.lstrip("+~").split("=", 1)[0]
        group = key.split(".", 1)[0]
        chosen = any(o.lstrip("+~").split("=", 1)[0] == group for o in overrides)
        if group in ("scenario", "gate") and "." in key and not chosen and f"'{key}'" in text:
            suite_key = f" (or set a suite scenario's key: suite.scenarios.<name>.{key.split('.', 1)[1]}=...)"
            return (
                f"'{override}': no {group} is selected, so {group}.<key> has nothing to set; pass "
                f"{group}=<name> as well ({', '.join(group_options(group))})"
                + (suite_key if group == "scenario" else "")
            )
    if "Could not override '" in text or ("Key '" in text and "is not in struct" in text):
        key = (
            text.split("Could not override '", 1)[1].split("'", 1)[0]
            if "Could not override '" in text
            else ""
        )
        if key:
            parent, _, leaf = key.rpartition(".")
            try:
                node = compose([o for o in overrides if not o.lstrip("+~").startswith(key)])
                section = OmegaConf.select(node, parent) if parent else node
                valid = list(section.keys()) if isinstance(section, DictConfig) else []
            except Exception:  # the base config itself fails: fall back to Hydra's own message
                valid = []
            if valid:
                return f"unknown config key '{key}'. " + _keys_message(
                    f"{parent}." if parent else "", leaf, valid
                )
            return f"unknown config key '{key}'."
    if "Ambiguous value for argument" in text:  # a comma list without -m: Hydra's advice, on one line
        advice = "; ".join(line.split(". ", 1)[-1] for line in text.strip().splitlines()[1:])
        return f"{text.strip().splitlines()[0]}: {advice}".replace("\\'", "'")
    first = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
    cause = str(exc.__cause__ or "").strip()
    return f"{first}: {cause.splitlines()[0]}" if cause else first


def preflight(overrides: list[str], multirun: bool = False) -> list[DictConfig]:
    """Compose and validate every job of a run or sweep before anything starts (no run directory yet).

    A sweep (``multirun``) is composed once per value of each swept key; Hydra's own keys
    (``hydra.*``) are checked with the first. Returns the composed configs.
    """
    from hydra.errors import HydraException

    if not multirun:
        variants = [overrides]
    else:
        try:
            variants = _expand_sweeps(overrides)
        except HydraException as exc:
            raise ConfigError(f"cannot parse the overrides: {exc}") from exc
    composed = []
    for index, variant in enumerate(variants):
        listed = variant if index == 0 else [o for o in variant if not o.lstrip("+~").startswith("hydra")]
        first = index == 0
        cfg = _explained(lambda listed=listed, first=first: compose(listed, with_hydra=first), listed)
        validate_job_config(cfg)
        composed.append(cfg)
    return composed


def _explained(composition: Callable[[], DictConfig], overrides: list[str]) -> DictConfig:
    """Run a composition; Hydra's and OmegaConf's errors become one :class:`ConfigError` line."""
    from hydra.errors import HydraException

    try:
        return composition()
    except (HydraException, OmegaConfBaseException, ValueError) as exc:
        raise ConfigError(_explain_composition_error(exc, overrides)) from exc


def validate_job_config(cfg: DictConfig) -> HarnessSettings:
    """Validate the top level, the model and every selected scenario against their schemas."""
    from harness import registry

    top = OmegaConf.to_container(cfg, resolve=False)
    top.pop("hydra", None)
    _check_required(top, cfg)
    check_config(top)  # before Hydra saves the config or names the run directory after it
    settings = validate_section({k: v for k, v in top.items() if k not in GROUPS}, HarnessSettings, "config")
    check_settings(settings)
    model_cfg = cfg.get("model")
    if not model_cfg or "adapter" not in model_cfg:
        raise ConfigError("no model selected: pass model=<name> (see `harness list` and conf/model/)")
    adapter_cls = registry.load_adapter(str(model_cfg.adapter))
    validate_section({k: v for k, v in model_cfg.items() if k != "adapter"}, adapter_cls.Params, "model")
    for key, scenario_cfg in selected_scenarios(cfg).items():
        scenario_cls = registry.load_scenario(str(scenario_cfg.get("name", key)))
        validate_section(scenario_cfg, scenario_cls.Params, f"scenario[{key}]")
    if cfg.get("gate"):
        from harness.gate import parse_policy

        parse_policy(OmegaConf.to_container(cfg.gate, resolve=True))
    return settings


def check_settings(settings: HarnessSettings) -> None:
    """Refuse top-level values of the right type but outside their range, naming the key."""
    if settings.window_size < 1:
        raise ConfigError(f"window_size must be a positive number of instances, got {settings.window_size}")
    if settings.limit is not None and settings.limit < 1:
        raise ConfigError(f"limit must be a positive number of instances or null, got {settings.limit}")
    if settings.limit_mode not in ("random", "first"):
        raise ConfigError(f"limit_mode must be 'random' or 'first', got {settings.limit_mode!r}")
    if settings.bootstrap_resamples < 1:
        raise ConfigError(f"bootstrap_resamples must be positive, got {settings.bootstrap_resamples}")
    if not 0 <= settings.max_error_rate <= 1:
        raise ConfigError(
            f"max_error_rate must be a share between 0 and 1 (0.1 = 10%), got {settings.max_error_rate}"
        )


MISSING = "???"


def _missing_keys(node: Any, prefix: str = "") -> list[str]:
    """Dotted keys whose value is OmegaConf's mandatory marker ``???`` (in an unresolved container)."""
    if isinstance(node, dict):
        return [key for k, v in node.items() for key in _missing_keys(v, f"{prefix}{k}.")]
    if isinstance(node, list):
        return [key for i, v in enumerate(node) for key in _missing_keys(v, f"{prefix}{i}.")]
    return [prefix.rstrip(".")] if node == MISSING else []


def _check_required(top: dict[str, Any], cfg: DictConfig) -> None:
    """A required key (``???`` in its YAML) left out is one line naming it and how to set it."""
    missing = _missing_keys(top)
    if not missing:
        return
    key = missing[0]
    group = key.split(".", 1)[0]
    chosen = _group_choice(cfg, group) if group in GROUPS else None
    where = f" by {group}={chosen} (conf/{group}/{chosen}.yaml)" if chosen else ""
    others = f" (also missing: {', '.join(missing[1:])})" if len(missing) > 1 else ""
    raise ConfigError(f"{key} is required{where}: pass {key}=<value>{others}")


def _group_choice(cfg: DictConfig, group: str) -> str | None:
    """The option a group was chosen by, when the composed config carries Hydra's section."""
    from hydra.core.hydra_config import HydraConfig

    choices = None
    if "hydra" in cfg:
        choices = OmegaConf.select(cfg, "hydra.runtime.choices", default=None)
    elif HydraConfig.initialized():
        choices = HydraConfig.get().runtime.choices
    value = choices.get(group) if choices is not None else None
    return str(value) if value else None


def selected_scenarios(cfg: DictConfig) -> dict[str, DictConfig]:
    """The scenarios a job runs, by run-directory key, each node with its scenario's ``name``.

    ``scenario=...`` when given, else every scenario of the suite. A node without ``name`` (a YAML
    file need not repeat it) takes the option it was chosen by, or its key in the suite.
    """
    if cfg.get("scenario"):
        node = cfg.scenario
        name = node.get("name") or _scenario_choice(cfg)
        return {str(name): _named(node, str(name))}
    suite = cfg.get("suite")
    if not suite or not suite.get("scenarios"):
        raise ConfigError("nothing to run: pass scenario=<name> or suite=<name> (see conf/suite/)")
    return {str(k): _named(v, str(v.get("name") or k)) for k, v in suite.scenarios.items()}


def _named(node: DictConfig, name: str) -> DictConfig:
    if node.get("name") == name:
        return node
    named = copy.deepcopy(node)
    with open_dict(named):
        named.name = name
    return named


def _scenario_choice(cfg: DictConfig) -> str:
    """The option ``scenario=`` chose, from the composed Hydra section or the running Hydra job."""
    from hydra.core.hydra_config import HydraConfig

    hydra_section = cfg.get("hydra") if "hydra" in cfg else None
    if hydra_section is not None:
        return str(hydra_section.runtime.choices.scenario)
    if HydraConfig.initialized():
        return str(HydraConfig.get().runtime.choices.scenario)
    raise ConfigError("the selected scenario's config has no 'name' key: add name: <scenario> to its YAML")
