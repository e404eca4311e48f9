"""Where rai-harness keeps what it can rebuild: the reference model, metadata and template caches."""

from __future__ import annotations

import os
from pathlib import Path


def home() -> Path:
    """Root of rai-harness's caches (``$RAI_HARNESS_HOME`` or ``~/.cache/rai-harness``)."""
    return Path(os.environ.get("RAI_HARNESS_HOME", "~/.cache/rai-harness")).expanduser()
