"""The ``harness list`` and ``harness validate`` subcommands."""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
from pathlib import Path

from harness import registry
from harness.errors import HarnessError, MetricUnitError


def list_main(argv: list[str]) -> int:
    """Print every scenario and model adapter with the distribution that supplied it.

    With ``--check`` each plugin is imported too, and import failures are listed with their
    distribution and error (they are never silently missing).
    """
    parser = argparse.ArgumentParser(prog="harness list", description=list_main.__doc__)
    parser.add_argument("--check", action="store_true", help="import every plugin and report failures")
    args = parser.parse_args(argv)
    failures = 0
    for group in (registry.SCENARIOS, registry.MODELS):
        entries = registry.discover(group)
        print(f"{registry.GROUPS[group]}s ({group}):")
        for name in sorted(entries):
            entry = entries[name]
            status = ""
            if args.check:
                try:
                    registry.load_entry(entry)
                    status = "  ok"
                except HarnessError as exc:
                    failures += 1
                    status = f"  IMPORT FAILED: {exc}"
            print(f"  {name:<20} {entry.distribution} {entry.version:<10} {entry.target}{status}")
    return 1 if failures else 0


def yaml_key_problems(name: str, params_cls: type) -> list[str]:
    """One line per key of the scenario's YAML files (``<config tree>/scenario/<name>.yaml``) that
    its ``Params`` lacks, naming the file and the key. A scenario needs no YAML file at all."""
    from omegaconf import OmegaConf

    from harness.config import config_folders

    fields = {f.name for f in dataclasses.fields(params_cls)}
    problems = []
    for folder in config_folders():
        path = folder / "scenario" / f"{name}.yaml"
        if not path.is_file():
            continue
        keys = OmegaConf.to_container(OmegaConf.load(path)) or {}
        for key in sorted(set(keys) - fields - {"defaults", "name"}):
            problems.append(
                f"{path}: key '{key}' is not a parameter of {params_cls.__name__} "
                f"(its parameters: {', '.join(sorted(fields - {'name'}))})"
            )
    return problems


def validate_scenario(name: str, overrides: dict[str, object], limit: int) -> list[str]:
    """Run a scenario on the simulated adapter and return the contract violations found.

    Checks: the parameters validate against the typed ``Params``; every key of the scenario's
    YAML file, if it has one, is a parameter; instance ids are unique; every declared metric is
    produced.
    """
    from harness.adapters.simulated import SimulatedAdapter, SimulatedParams
    from harness.config import HarnessSettings, validate_section
    from harness.evaluate import ScenarioRun, build_scenario, run_scenario

    scenario_cls = registry.load_scenario(name)
    problems: list[str] = []
    if not dataclasses.is_dataclass(scenario_cls.Params):
        problems.append(f"{scenario_cls.__name__}.Params is not a dataclass")
        return problems
    validate_section({"name": name, **overrides}, scenario_cls.Params, f"scenario[{name}]")
    problems.extend(yaml_key_problems(name, scenario_cls.Params))
    adapter = SimulatedAdapter(SimulatedParams())
    settings = HarnessSettings(limit=limit, progress=False, bootstrap_resamples=200)
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = Path(tmp) / name
        scenario = build_scenario({"name": name, **overrides}, adapter, settings, run_dir)
        try:
            result = run_scenario(ScenarioRun(scenario, adapter, run_dir, {}, settings), cache=None)
        except MetricUnitError as error:
            return [*problems, str(error)]
        produced = {m.name for m in result.metrics}
        declared = {spec.name for spec in scenario.metrics()}
        missing = declared - produced
        if missing:
            problems.append(f"declared metrics never produced: {sorted(missing)}")
        if result.n_instances == 0:
            problems.append("the scenario produced no instances")
    return problems


def validate_main(argv: list[str]) -> int:
    """``harness validate <scenario> [key=value ...]``: the plugin conformance check."""
    parser = argparse.ArgumentParser(prog="harness validate", description=validate_scenario.__doc__)
    parser.add_argument("scenario", help="scenario name (see `harness list`) or a one-file scenario's path")
    parser.add_argument("overrides", nargs="*", help="scenario parameters as key=value (YAML values)")
    parser.add_argument("--limit", type=int, default=50, help="instances to run (default 50)")
    args = parser.parse_args(argv)
    import yaml

    overrides = {}
    for item in args.overrides:
        key, sep, value = item.partition("=")
        if not sep:
            raise HarnessError(f"validate: expected key=value, got {item!r}")
        overrides[key] = yaml.safe_load(value)
    name = args.scenario
    if name.endswith(".py"):
        from harness.plugins import load_scenario_file

        name = load_scenario_file(Path(name)).name
    problems = validate_scenario(name, overrides, args.limit)
    if problems:
        for problem in problems:
            print(f"FAIL  {problem}")
        return 1
    print(f"OK    {name}: parameters valid, instance ids unique, all declared metrics produced")
    return 0
