"""Comparability keys: which runs may be ranked or compared with each other.

Two runs of a scenario are comparable only when everything that shapes the numbers, apart from
the model, is the same: the scenario version, the dataset (its fingerprint covers the instance
set, so a different ``limit`` sample differs too), the prompt-template hash, the decoding
parameters, the number of samples per prompt (k), the scorer identities and the measurement
protocol. Leaderboards split runs that differ into separate boards (or refuse), and gates refuse a
baseline that differs, always naming the key.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from harness.errors import HarnessError
from harness.report.frames import LoadedRun, scorer_names


class ComparabilityError(HarnessError):
    """Runs that were asked to be compared differ in a comparability key."""


def _decoding_entries(run: LoadedRun) -> list[dict[str, Any]]:
    """The manifest's distinct decoding settings (one dict per request kind and setting)."""
    decoding = run.manifest.get("decoding")
    entries = decoding if isinstance(decoding, list) else [decoding]
    return [entry for entry in entries if isinstance(entry, dict)]


def _decoding(run: LoadedRun) -> list[str]:
    return sorted(
        {json.dumps({k: v for k, v in e.items() if k != "n"}, sort_keys=True) for e in _decoding_entries(run)}
    )


def _k(run: LoadedRun) -> list[Any]:
    return sorted({e["n"] for e in _decoding_entries(run) if e.get("n") is not None})


def _scorers(run: LoadedRun) -> Any:
    scorers = run.manifest.get("scorers") or []
    return sorted(json.dumps(s, sort_keys=True, default=str) for s in scorers)


KEYS: dict[str, tuple[str, Callable[[LoadedRun], Any]]] = {
    "scenario_version": ("scenario version", lambda run: run.scenario_version),
    "dataset_fingerprint": ("dataset fingerprint", lambda run: run.manifest.get("dataset_fingerprint")),
    "template_hash": ("prompt template hash", lambda run: run.manifest.get("template_hash")),
    "decoding": ("decoding parameters", _decoding),
    "k": ("k (samples per prompt)", _k),
    "scorers": ("scorer identity", _scorers),
    "protocol": ("protocol", lambda run: run.protocol),
}
"""Key name -> (words used in messages, how to read it from a run)."""


def comparability_key(run: LoadedRun) -> dict[str, Any]:
    """The values of every comparability key for one run."""
    return {name: getter(run) for name, (_, getter) in KEYS.items()}


def _fingerprint(key: dict[str, Any]) -> str:
    return json.dumps(key, sort_keys=True, default=str)


def describe_value(name: str, run: LoadedRun) -> str:
    """A short, readable form of one key's value for a run (used in messages)."""
    if name == "scorers":
        return scorer_names(run.manifest.get("scorers")) or "no scorer"
    if name == "decoding":
        settings = [", ".join(f"{k}={v}" for k, v in json.loads(e).items()) for e in _decoding(run)]
        return "; ".join(settings) or "not recorded"
    value = comparability_key(run)[name]
    if value is None or value == []:
        return "not recorded"
    if isinstance(value, str) and len(value) > 16 and name.endswith(("fingerprint", "hash")):
        return value[:12]
    return value if isinstance(value, str) else json.dumps(value, default=str)


def differing_keys(runs: Sequence[LoadedRun]) -> list[str]:
    """Names of the comparability keys whose values are not identical across ``runs``."""
    keys = [comparability_key(run) for run in runs]
    return [
        name for name in KEYS if len({json.dumps(k[name], sort_keys=True, default=str) for k in keys}) > 1
    ]


def mismatch_message(subject: str, groups: Sequence[Sequence[LoadedRun]]) -> str:
    """'<subject>: runs differ in <key> (<labels>: <value> | ...)' for each differing key."""
    representatives = [group[0] for group in groups]
    names = differing_keys(representatives)
    details = []
    for name in names:
        values = " | ".join(
            f"{', '.join(run.label for run in group)}: {describe_value(name, group[0])}" for group in groups
        )
        details.append(f"{KEYS[name][0]} ({values})")
    return f"{subject}: runs differ in " + "; ".join(details)


@dataclass
class ComparableGroup:
    """Runs of one scenario whose comparability keys are all equal."""

    scenario: str
    key: dict[str, Any]
    runs: list[LoadedRun]


def comparable_groups(
    runs: Sequence[LoadedRun], *, refuse: bool = False
) -> tuple[list[ComparableGroup], list[str]]:
    """Split runs by scenario and comparability key.

    Returns the groups and one note per scenario that had to be split, naming the differing
    keys. With ``refuse=True`` such a split raises :class:`ComparabilityError` instead.
    """
    by_scenario: dict[str, dict[str, list[LoadedRun]]] = {}
    for run in runs:
        key = _fingerprint(comparability_key(run))
        by_scenario.setdefault(run.scenario, {}).setdefault(key, []).append(run)
    groups: list[ComparableGroup] = []
    notes: list[str] = []
    for scenario in sorted(by_scenario):
        buckets = list(by_scenario[scenario].values())
        if len(buckets) > 1:
            message = mismatch_message(f"scenario {scenario!r}", buckets)
            if refuse:
                raise ComparabilityError(
                    f"{message}. Runs that differ are never ranked together: re-run them with the same "
                    "settings, or drop --refuse-mismatch to rank them on separate boards."
                )
            notes.append(f"{message}; they are ranked on {len(buckets)} separate boards.")
        for bucket in buckets:
            groups.append(ComparableGroup(scenario, comparability_key(bucket[0]), bucket))
    return groups, notes
