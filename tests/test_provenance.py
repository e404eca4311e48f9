"""Provenance: the package versions a manifest records."""

from __future__ import annotations

import contextlib
from importlib import metadata

import pytest

from harness import provenance


def test_versions_are_those_importlib_metadata_reports() -> None:
    versions = provenance.package_versions()
    assert versions["rai-harness"] == metadata.version("rai-harness")
    for name, version in versions.items():
        expected = None
        with contextlib.suppress(metadata.PackageNotFoundError):
            expected = metadata.version(name)
        assert version == expected, name


def test_a_missing_distribution_raises_as_importlib_does() -> None:
    with pytest.raises(metadata.PackageNotFoundError):
        provenance.installed_version("no-such-distribution-rai")
