"""Reuse of finished work: a run whose samples are unchanged gets its metrics back, and a window
of instances whose records are unchanged gets its scores back.

A scenario's metrics and artifacts (``metrics.json``, plots, tables) are a function of its
per-instance samples, its identity and parameters, the run's seed and bootstrap size, the model
it describes, its scorers, its dataset, the code that computes them and the libraries behind
that code. When every one of these matches an aggregation the response cache already holds,
the runner writes the stored files instead of recomputing them: a rerun of a suite with one
scenario's scoring parameter changed recomputes only that scenario's bootstrap intervals and
charts (benchmarks/warm_cache.py).

Scores are reused the same way (:func:`scoring_key`): a scenario rerun into a new run directory
with the same parameters (the other scenarios of that suite rerun, or a run that only changes
``report`` or ``bootstrap_resamples``) does not score the same outputs again.

The keys are deliberately strict. Samples are hashed byte for byte, and the code is identified
by the contents of the scenario's package and the engine's modules, so editing a metric's code
without bumping the scenario's version still recomputes it. ``cache.enabled=false`` turns reuse
off together with the response cache.
"""

from __future__ import annotations

import base64
import sys
from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Any

import harness
from harness.file_digests import file_digest
from harness.types import stable_hash

#: Manifest fields that decide what a scenario's aggregation computes.
KEY_FIELDS = (
    "schema_version",
    "harness_version",
    "packages",
    "scenario",
    "scorers",
    "seed",
    "limit",
    "dataset_fingerprint",
    "template_hash",
)


@cache
def _source_digest(root: Path) -> str:
    """:func:`~harness.file_digests.file_digest` of ``root``'s ``.py`` files, subpackages included.

    ``root`` is a package's folder, or the file of a top-level module (a single-module plugin
    installed beside every other distribution in ``site-packages``, whose folder holds other
    projects' code).
    """
    if root.is_file():
        return file_digest([root])
    return file_digest(root.rglob("*.py"))


def code_fingerprint(scenario_class: type) -> str:
    """The source of the scenario's package (or module) and of the whole engine package.

    Subpackages count: the engine's scorers, adapters and report code, and a plugin's own helper
    packages, change scores and metrics as much as its top-level modules do.
    """
    module = sys.modules.get(scenario_class.__module__)
    module_file = getattr(module, "__file__", None)
    scenario_source = None
    if module_file:
        module_path = Path(module_file).resolve()
        # A module inside a package (namespace packages included) counts its package's folder;
        # a top-level module only itself.
        in_package = bool(getattr(getattr(module, "__spec__", None), "parent", ""))
        scenario_source = module_path.parent if in_package else module_path
    engine_folder = Path(harness.__file__).resolve().parent
    return stable_hash(
        [
            scenario_class.__module__,
            scenario_class.__qualname__,
            _source_digest(scenario_source) if scenario_source else None,
            _source_digest(engine_folder),
        ]
    )


#: Manifest fields that, besides an instance and its model outputs, decide the scores it gets.
SCORING_FIELDS = ("schema_version", "harness_version", "packages", "scenario", "scorers", "seed")


def scoring_key(manifest: Mapping[str, Any], model_identity: str, scenario_class: type) -> str:
    """What a scenario's scores depend on besides the instances and outputs being scored.

    The scenario's identity and parameters, its scorers' identities (weights digests included),
    the seed, the model, the code and the libraries. :class:`harness.runner.Runner` combines it
    with a window's records to find the scores it gave the same records before.
    """
    return stable_hash(
        {
            "manifest": {name: manifest.get(name) for name in SCORING_FIELDS},
            "model": model_identity,
            "code": code_fingerprint(scenario_class),
        }
    )


def aggregation_key(
    manifest: Mapping[str, Any],
    model_identity: str,
    scenario_class: type,
    bootstrap_resamples: int,
    samples_path: Path,
) -> str:
    """The key under which one aggregation is stored and found (see the module docstring)."""
    return stable_hash(
        {
            "manifest": {name: manifest.get(name) for name in KEY_FIELDS},
            "model": model_identity,
            "code": code_fingerprint(scenario_class),
            "bootstrap_resamples": bootstrap_resamples,
            "samples": file_digest([samples_path]) if samples_path.exists() else None,
        }
    )


def pack(metrics_json: str, artifacts: Sequence[Path], run_dir: Path) -> dict[str, Any] | None:
    """What to store: the metrics file's text and each artifact's bytes by its path in ``run_dir``.

    None when an artifact lies outside the run directory (it could not be restored faithfully).
    """
    files: dict[str, str] = {}
    root = run_dir.resolve()
    for artifact in artifacts:
        path = Path(artifact).resolve()
        if not path.is_relative_to(root) or not path.is_file():
            return None
        files[path.relative_to(root).as_posix()] = base64.b64encode(path.read_bytes()).decode("ascii")
    return {"metrics_json": metrics_json, "artifacts": files}


def unpack_artifacts(stored: Mapping[str, Any], run_dir: Path) -> list[Path]:
    """Write the stored artifacts into ``run_dir``; returns their paths."""
    written = []
    for relative, encoded in stored["artifacts"].items():
        path = run_dir / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(encoded))
        written.append(path)
    return written
