"""Nothing the project ships points into the test datasets' folder beside the checkout.

Users load the public datasets from the Hub or from a local path they name; only the tests read
the folder that CI places beside the repository (``tests/conftest.py``).
"""

from __future__ import annotations

import subprocess

from tests.conftest import REPO

FORBIDDEN = "../" + "shared"  # spelled apart so that this file does not match itself


def test_no_shipped_file_refers_to_the_test_datasets_folder() -> None:
    tracked = subprocess.run(
        ["git", "ls-files", "--", ".", ":!tests"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.split()
    offenders = [
        path
        for path in tracked
        if (REPO / path).is_file() and FORBIDDEN in (REPO / path).read_text(encoding="utf-8", errors="ignore")
    ]
    assert offenders == []
