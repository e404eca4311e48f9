"""Scorers whose model ships inside a package: identity from the package and its files, or one line."""

from __future__ import annotations

from importlib import metadata

import pytest

from harness.errors import ConfigError
from harness.scorers import base
from harness.scorers.profanity import ProfanityParams, ProfanityScorer
from harness.scorers.vader import VaderParams, VaderScorer


def test_identity_joins_wrapper_and_package_versions_and_hashes_the_shipped_files() -> None:
    vader = VaderScorer(VaderParams()).identity
    profanity = ProfanityScorer(ProfanityParams()).identity
    assert vader.version == f"1+vaderSentiment-{metadata.version('vaderSentiment')}"
    assert profanity.version == f"1+alt-profanity-check-{metadata.version('alt-profanity-check')}"
    assert (
        len(vader.model_hash) == len(profanity.model_hash) == 64 and vader.model_hash != profanity.model_hash
    )


def test_a_missing_package_is_one_line_with_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    def missing(name: str) -> str:
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(base.metadata, "version", missing)
    with pytest.raises(ConfigError, match=r"^scorer 'vader' needs the vaderSentiment package: pip install"):
        VaderScorer(VaderParams())
