"""Provenance for the manifest: harness version, git SHA and the versions of key packages."""

from __future__ import annotations

import subprocess
from functools import lru_cache
from importlib import metadata
from pathlib import Path

import harness

KEY_PACKAGES = (
    "rai-harness", "torch", "transformers", "tokenizers", "datasets", "hydra-core",
    "omegaconf", "pandas", "numpy", "scipy", "rapidfuzz", "alt-profanity-check", "scikit-learn",
    "vaderSentiment", "sentence-transformers", "httpx",
)  # fmt: skip


@lru_cache(maxsize=1)
def package_versions() -> dict[str, str | None]:
    """Installed versions of the packages that can change results (None when not installed)."""
    versions: dict[str, str | None] = {}
    for name in KEY_PACKAGES:
        try:
            versions[name] = installed_version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def installed_version(name: str) -> str:
    """The installed version of distribution ``name`` (as ``importlib.metadata.version`` gives it).

    Read from the metadata file's header block: ``metadata.version`` parses the whole file with
    the email parser, long description included (this project's is its README), which cost more
    than every other package's lookup together. Falls back to it when the header is not found.
    """
    distribution = metadata.distribution(name)
    text = distribution.read_text("METADATA") or distribution.read_text("PKG-INFO") or ""
    for line in text.split("\n\n", 1)[0].splitlines():
        if line[:1].isspace():  # a folded continuation of the header above
            continue
        key, _, value = line.partition(":")
        if key.strip().lower() == "version":
            return value.strip()
    return distribution.version


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
