"""Scorers by name: the built-ins plus any installed under the entry-point group ``harness.scorers``.

Only the selected scorer's module is imported, so naming scorers costs nothing until one is
built. Options are validated against the scorer's ``Params`` dataclass, and unknown keys or
wrong types raise a :class:`ConfigError` that names the key.
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Mapping
from importlib.metadata import entry_points
from typing import Any

from harness.errors import ConfigError, PluginError
from harness.scorers.base import Scorer

GROUP = "harness.scorers"
BUILTIN: dict[str, str] = {
    "profanity": "harness.scorers.profanity:ProfanityScorer",
    "embedding": "harness.scorers.embedding:EmbeddingHeadScorer",
    "hf": "harness.scorers.hf:HFClassifierScorer",
    "detoxify": "harness.scorers.detoxify:DetoxifyScorer",
    "perspective": "harness.scorers.perspective:PerspectiveScorer",
    "moderation": "harness.scorers.moderation:ModerationScorer",
    "guard_model": "harness.scorers.guard_model:GuardModelScorer",
    "vader": "harness.scorers.vader:VaderScorer",
}
OFFLINE_BUILTIN = ("profanity", "embedding")
"""Built-ins that work with no options and no network: what ``harness scorer-check`` runs by default."""


def available() -> dict[str, str]:
    """Every scorer name and its import target (entry points may add to, not replace, built-ins)."""
    found = dict(BUILTIN)
    for ep in entry_points(group=GROUP):
        found.setdefault(ep.name, ep.value)
    return found


def scorer_class(name: str) -> type[Scorer]:
    """Import and return the scorer class registered as ``name``."""
    targets = available()
    if name not in targets:
        close = difflib.get_close_matches(name, targets, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ConfigError(f"unknown scorer {name!r}.{hint} Available: {', '.join(sorted(targets))}")
    module_name, _, attribute = targets[name].partition(":")
    try:
        return getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as exc:
        raise PluginError(
            f"scorer {name!r} ({targets[name]}) failed to import: {type(exc).__name__}: {exc}"
        ) from exc


def build_scorer(
    name: str, options: Mapping[str, Any] | None = None, where: str = "scorer_options"
) -> Scorer:
    """A scorer built from its name and options (validated against its ``Params``)."""
    from harness.config import validate_section

    cls = scorer_class(name)
    params = validate_section(dict(options or {}), cls.Params, where)
    return cls(params, where)
