"""`pip install .` works: the wheel carries the configs, and the installed command finds them."""

from __future__ import annotations

import re
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import tomllib

REPO = Path(__file__).resolve().parent.parent


def test_every_package_directory_is_listed_in_pyproject() -> None:
    listed = set(tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {
        ".".join(p.parent.relative_to(REPO).parts)
        for root in ("harness", "scenarios")
        for p in (REPO / root).rglob("__init__.py")
    }
    found = {name for name in found if "__pycache__" not in name}
    assert found | {"harness.conf"} == listed


def test_wheel_installs_into_a_fresh_venv_and_finds_its_configs(tmp_path: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path / "dist"),
            str(REPO),
        ],
        check=True,
    )
    wheel = next((tmp_path / "dist").glob("rai_harness-*.whl"))
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=False)
    site = next((env_dir / "lib").glob("python*/site-packages"))
    # Dependencies come from this test environment through a .pth file;
    # the project itself comes only from the wheel.
    (site / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    python = env_dir / "bin" / "python"
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps", str(wheel)],
        check=True,
    )
    workdir = tmp_path / "elsewhere"
    workdir.mkdir()
    harness = env_dir / "bin" / "harness"
    help_out = subprocess.run(
        [str(harness), "--help"], cwd=workdir, capture_output=True, text=True, check=True
    )
    assert re.search(r"model=<name>\s+.*reference", help_out.stdout)
    listed = subprocess.run([str(harness), "list"], cwd=workdir, capture_output=True, text=True, check=True)
    assert "pronoun_fairness" in listed.stdout and "hf" in listed.stdout
    where = subprocess.run(
        [
            str(python),
            "-c",
            "import harness, harness.config as c; print(harness.__file__); print(c.config_dir())",
        ],
        cwd=workdir,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert str(site) in where[0] and (Path(where[1]) / "config.yaml").exists()
