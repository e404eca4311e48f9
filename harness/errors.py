"""Errors a user can cause and fix. The CLI prints them as one clear message, never a traceback."""

from __future__ import annotations

from collections.abc import Iterable


class HarnessError(Exception):
    """Base class: the message says what is wrong and how to fix it."""


class ConfigError(HarnessError):
    """A bad configuration key or value; the message names the key and the valid choices."""


def check_choice(key: str, value: object, choices: Iterable[str]) -> None:
    """Raise ``ConfigError("<key>=<value> is not valid; choose one of: a, b")`` unless ``value`` is one."""
    valid = list(choices)
    if value not in valid:
        raise ConfigError(f"{key}={value!r} is not valid; choose one of: {', '.join(valid)}")


class DataError(HarnessError):
    """Malformed input data; the message names the file, the line and the field."""

    def __init__(self, message: str, *, path: str | None = None, line: int | None = None) -> None:
        where = ""
        if path is not None:
            where = f"{path}:{line}: " if line is not None else f"{path}: "
        super().__init__(f"{where}{message}")
        self.path = path
        self.line = line


class PluginError(HarnessError):
    """A plugin is missing, duplicated or fails to import; the message names its distribution."""


class AdapterError(HarnessError):
    """A user-fixable problem with a model: unknown id, unreachable hub, missing API key, ..."""


class MetricUnitError(HarnessError):
    """A metric's values fall outside the range of the unit its scenario declares for it.

    Raised while metrics are computed, after the answers are stored: fixing the unit and running
    the same command again computes the metrics without asking the model again.
    """


class ScenarioSkipped(HarnessError):
    """A scenario that cannot run as configured (for example, no source to check against).

    Raised while the scenario is built, before any scenario of the job runs: the job skips it
    with one line naming the scenario and this message, runs the others, and records the skip.
    """
