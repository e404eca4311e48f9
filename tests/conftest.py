"""Shared test set-up: offline Hugging Face, shared fixtures (reference model, tiny GPT-2)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("MPLBACKEND", "Agg")

REPO = Path(__file__).resolve().parent.parent
SHARED_DATASETS = REPO.parent / "shared" / "datasets"
BIN = Path(sys.executable).parent


@pytest.fixture(scope="session")
def shared_datasets() -> Path:
    """The public datasets folder beside the repository (../shared/datasets)."""
    assert SHARED_DATASETS.is_dir(), f"expected the shared datasets at {SHARED_DATASETS}"
    return SHARED_DATASETS


@pytest.fixture(scope="session")
def reference_model_dir() -> Path:
    """The embedded reference model, built on first use (about 4 minutes) and cached."""
    from harness.reference.build import ensure_built

    return ensure_built()


@pytest.fixture(scope="session")
def tiny_gpt2_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A randomly initialised 2-layer GPT-2 with a BPE tokenizer trained here (a few seconds)."""
    from tests.helpers import build_tiny_gpt2

    return build_tiny_gpt2(tmp_path_factory.mktemp("tiny-gpt2"))


@pytest.fixture(scope="session")
def demo_plugin_installed() -> None:
    """Install the test plugin package into this environment, as a third party would."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        version("rai-demo-plugin")
    except PackageNotFoundError:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                "-q",
                "--no-deps",
                "--no-build-isolation",
                str(REPO / "tests" / "plugins" / "demo_plugin"),
            ],
            check=True,
        )
