"""Entry-point discovery: only selected plugins import; duplicates and import failures are named."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def fake_distribution(site: Path, name: str, entry_points: str) -> None:
    """Write the metadata of an installed distribution (no code) into ``site``."""
    info = site / f"{name.replace('-', '_')}-9.9.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 9.9\n")
    (info / "entry_points.txt").write_text(entry_points)


def harness(args: list[str], site: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(REPO)])}
    return subprocess.run(
        [sys.executable, "-m", "harness", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def test_duplicate_scenario_name_names_both_distributions(tmp_path: Path) -> None:
    fake_distribution(
        tmp_path / "site", "evil-plugin", "[harness.scenarios]\ntoxicity = evil.module:Toxicity\n"
    )
    result = harness(["list"], tmp_path / "site", tmp_path)
    assert result.returncode == 2
    assert "scenario name 'toxicity' is declared twice" in result.stderr
    assert "evil-plugin (evil.module:Toxicity)" in result.stderr
    assert "rai-harness (scenarios.toxicity.scenario:ToxicityScenario)" in result.stderr


def test_broken_plugin_is_reported_with_distribution_and_error(tmp_path: Path) -> None:
    fake_distribution(
        tmp_path / "site", "broken-plugin", "[harness.models]\nbroken = no_such_module_xyz:Adapter\n"
    )
    result = harness(["list", "--check"], tmp_path / "site", tmp_path)
    assert result.returncode == 1
    line = next(line for line in result.stdout.splitlines() if line.strip().startswith("broken"))
    assert (
        "IMPORT FAILED" in line
        and "broken-plugin 9.9" in line
        and "No module named 'no_such_module_xyz'" in line
    )


def test_selecting_one_plugin_imports_no_other(tmp_path: Path) -> None:
    code = (
        "import sys; from harness import registry; registry.load_adapter('simulated');"
        "print(sorted(m for m in sys.modules if m.startswith(('scenarios', 'harness.adapters.'))))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=tmp_path
    )
    assert out.stdout.strip() == "['harness.adapters.simulated']"
    heavy = subprocess.run(
        [sys.executable, "-c", "import sys, harness.cli, harness.registry; print('torch' in sys.modules)"],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
    )
    assert heavy.stdout.strip() == "False"


def test_an_entry_point_under_another_name_than_its_class_is_refused(tmp_path: Path) -> None:
    site = tmp_path / "site"
    fake_distribution(site, "renamed-plugin", "[harness.scenarios]\nmy_tox = renamed:Toxicity\n")
    (site / "renamed.py").write_text("from scenarios.toxicity.scenario import ToxicityScenario as Toxicity\n")
    result = harness(["validate", "my_tox"], site, tmp_path)
    assert result.returncode == 2
    assert "scenario entry point 'my_tox' (renamed:Toxicity) loads a class named 'toxicity'" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
