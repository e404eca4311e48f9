"""Six ways of supplying a key, each with a canary: it appears in no file, no cache row and no console line.

Keys the harness may hold (an environment variable, the default or a custom one with its own
header, a ``~/.netrc`` login) are sent to a server that echoes them, padded so that a cut of its
error text at 200 characters would split them, into errors the run records. Keys the
configuration must not hold (a login in ``model.base_url``, on the command line or in a YAML
file, and a key pasted into ``model.api_key_env``) are refused with one line before Hydra
creates the run directory or saves the config.
"""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.servers.openai_fault_server import Behaviour, FaultConfig, FaultServer

REPO = Path(__file__).resolve().parents[2]
CANARY = "sk-canary-7d1f0e9a4b2c4d6e8f00112233445566778899aabbccddee"
PADDING = 120  # "internal error " + 120 dots + " while checking Bearer " puts the key across character 200


def pieces(secret: str) -> list[str]:
    """Every 12-character piece of a secret: none may appear anywhere."""
    return [secret[i : i + 12] for i in range(len(secret) - 11)]


def leaks(tmp_path: Path, done: subprocess.CompletedProcess[str], secrets: list[str]) -> list[str]:
    """Where any piece of any secret appears: files under tmp_path (run, cache, logs), stdout, stderr."""
    texts = {"stdout": done.stdout, "stderr": done.stderr}
    for path in tmp_path.rglob("*"):
        if path.is_file() and path.name != "netrc":
            texts[str(path)] = path.read_bytes().decode("utf-8", errors="replace")
    return [where for where, text in texts.items() for s in secrets for p in pieces(s) if p in text]


def harness(tmp_path: Path, overrides: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    command = [
        sys.executable, "-m", "harness", "scenario=pronoun_fairness", "model=openai", "model.max_retries=0",
        "limit=8", "progress=false", f"cache.path={tmp_path / 'cache.sqlite'}", *overrides,
    ]  # fmt: skip
    environment = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": str(REPO),
        "HOME": str(tmp_path),
        "HF_HUB_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
        **env,
    }
    return subprocess.run(command, cwd=tmp_path, env=environment, capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("way", ["default_variable", "custom_variable_and_header", "netrc"])
def test_a_key_the_harness_holds_is_redacted_from_every_output(tmp_path: Path, way: str) -> None:
    faults = FaultConfig(rate=0.4, kinds=("server_error",), seed=3)
    behaviour = Behaviour(echo_credentials_in_errors=True, echo_padding=PADDING)
    with FaultServer(faults, behaviour) as server:
        overrides = [f"model.base_url={server.base_url}", f"hydra.run.dir={tmp_path / 'run'}"]
        secrets = [CANARY]
        if way == "default_variable":
            env = {"OPENAI_API_KEY": CANARY}
        elif way == "custom_variable_and_header":
            env = {"MY_GATEWAY_KEY": CANARY}
            overrides += ["model.api_key_env=MY_GATEWAY_KEY", "model.api_key_header=api-key"]
        else:
            (tmp_path / "netrc").write_text(f"machine 127.0.0.1 login alice password {CANARY}\n")
            (tmp_path / "netrc").chmod(0o600)
            env = {"NETRC": str(tmp_path / "netrc")}
            overrides += ["model.api_key_env=null"]
            secrets.append(base64.b64encode(f"alice:{CANARY}".encode()).decode())
        done = harness(tmp_path, overrides, env)
        sent = {value for record in server.state.records for value in record.headers.values()}
    assert any(CANARY in value or secrets[-1] in value for value in sent)  # the key was used ...
    samples = (tmp_path / "run" / "pronoun_fairness" / "samples.jsonl").read_text()
    assert "while checking" in samples and "***" in samples, done.stderr[-2000:]  # ... echoed, recorded ...
    assert leaks(tmp_path, done, secrets) == []  # ... and redacted everywhere


@pytest.mark.parametrize("way", ["base_url_override", "base_url_in_yaml", "key_pasted_into_api_key_env"])
def test_a_key_in_the_configuration_is_refused_in_one_line_that_does_not_repeat_it(
    tmp_path: Path, way: str
) -> None:
    overrides = [f"hydra.run.dir={tmp_path / 'run'}"]
    if way == "base_url_override":
        overrides += [f"model.base_url=http://alice:{CANARY}@127.0.0.1:9/v1"]
        expected = "model.base_url holds a URL with a user:password login"
    elif way == "base_url_in_yaml":
        (tmp_path / "conf" / "model").mkdir(parents=True)
        yaml = f"defaults:\n  - openai\n  - _self_\nbase_url: http://alice:{CANARY}@127.0.0.1:9/v1\n"
        (tmp_path / "conf" / "model" / "gateway.yaml").write_text(yaml)
        overrides += [f"hydra.searchpath=[file://{tmp_path / 'conf'}]", "model=gateway"]
        expected = "model.base_url holds a URL with a user:password login"
    else:
        overrides += [f"model.api_key_env={CANARY}"]
        expected = "model.api_key_env must name an environment variable"
    done = harness(tmp_path, overrides, {})
    assert done.returncode == 2
    assert done.stderr.startswith(f"harness: error: {expected}") and done.stderr.count("\n") == 1, done.stderr
    assert not (tmp_path / "run").exists()
    assert leaks(tmp_path / "run", done, [CANARY]) == []
