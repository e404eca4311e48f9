"""Provenance for the manifest: harness version, git SHA and the versions of key packages."""

from __future__ import annotations

import subprocess
from functools import lru_cache
from importlib import metadata
from pathlib import Path

import harness

KEY_PACKAGES = (
    "rai-harness", "torch", "transformers", "tokenizers", "datasets", "evaluate", "hydra-core",
    "omegaconf", "pandas", "numpy", "scipy", "rapidfuzz", "alt-profanity-check", "scikit-learn",
    "vaderSentiment", "sentence-transformers", "httpx",
)  # fmt: skip


@lru_cache(maxsize=1)
def package_versions() -> dict[str, str | None]:
    """Installed versions of the packages that can change results (None when not installed)."""
    versions: dict[str, str | None] = {}
    for name in KEY_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


@lru_cache(maxsize=1)
def git_sha() -> str | None:
    """The commit of the harness source tree, with '-dirty' when it has local changes.

    None for installs that are not a git checkout (a wheel in site-packages).
    """
    root = Path(harness.__file__).resolve().parent.parent
    if not (root / ".git").exists():
        return None
    try:
        sha = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return f"{sha}-dirty" if dirty else sha


def harness_version() -> str:
    """The harness's own version string."""
    return harness.__version__
