"""``gate=<option>`` names a policy in conf/gate/; it never loads a YAML file from elsewhere."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from harness.config import check_gate_override
from harness.errors import ConfigError

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("override", ["gate=../../x", "+gate=../s", "gate=/etc/policy", "gate=a/../../b"])
def test_a_gate_option_cannot_leave_the_gate_folders(override: str) -> None:
    with pytest.raises(ConfigError, match=r"gate= takes a policy name from conf/gate/ \(release"):
        check_gate_override([override])
    check_gate_override(["gate=release", "model.base_url=http://h/../v1", "scenario=x"])  # no error


def test_the_command_refuses_it_before_anything_is_loaded_or_written(tmp_path: Path) -> None:
    outside = tmp_path / "outside.yaml"
    outside.write_text("rules: [{scenario: x, metric: y, threshold: 0.5}]\ncanary_key: read-me\n")
    relative = Path("..") / ".." / ".." / ".." / ".." / ".." / ".." / ".." / outside.relative_to("/")
    command = [
        sys.executable, "-m", "harness", "model=simulated", "scenario=pronoun_fairness", "limit=2",
        f"gate={relative.with_suffix('')}", f"hydra.run.dir={tmp_path / 'run'}", "cache.enabled=false",
    ]  # fmt: skip
    env = {"PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"}
    done = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 2 and "gate= takes a policy name from conf/gate/" in done.stderr
    assert "read-me" not in done.stdout + done.stderr and not (tmp_path / "run").exists()
