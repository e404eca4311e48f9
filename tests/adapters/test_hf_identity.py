"""The hf adapter's model identity: the whole content of a local model's files, a Hub model's commit."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from harness import file_digests
from harness.adapters.hf import weights_fingerprint
from tests.conftest import REPO

MIB = 1 << 20


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("RAI_HARNESS_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


@pytest.fixture
def hashed(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the files read to compute a digest."""
    names: list[str] = []
    real = file_digests.file_digest

    def counting(paths: list[Path]) -> str:
        names.extend(Path(p).name for p in paths)
        return real(paths)

    monkeypatch.setattr(file_digests, "file_digest", counting)
    return names


def test_an_edit_in_the_middle_of_a_weight_file_changes_the_identity(tmp_path: Path, home: Path) -> None:
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text("{}")
    weights = model / "model.safetensors"
    weights.write_bytes(b"\x01" * (5 * MIB))  # larger than a head and a tail of 1 MiB each
    before = weights_fingerprint(model)
    with weights.open("r+b") as handle:  # same size, same first and last MiB
        handle.seek(5 * MIB // 2)
        handle.write(b"\x02")
    stat = weights.stat()
    os.utime(weights, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1))
    assert weights_fingerprint(model) != before


def test_unchanged_files_are_not_read_again(tmp_path: Path, home: Path, hashed: list[str]) -> None:
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text("{}")
    (model / "model.safetensors").write_bytes(b"w" * 1000)
    first = weights_fingerprint(model)
    assert sorted(hashed) == ["config.json", "model.safetensors"]
    hashed.clear()
    assert weights_fingerprint(model) == first and hashed == []
    (model / "config.json").write_text('{"n_layer": 2}')
    assert weights_fingerprint(model) != first
    assert hashed == ["config.json"], "only the changed file is read again"


def test_the_fingerprint_covers_chat_templates_tokenizer_files_and_code(tmp_path: Path, home: Path) -> None:
    (tmp_path / "config.json").write_text("{}")
    before = weights_fingerprint(tmp_path)
    (tmp_path / "README.md").write_text("not part of the model")
    assert weights_fingerprint(tmp_path) == before
    changed = []
    for name in ("additional_chat_templates/tool_use.jinja", "tokenizer.tiktoken", "modeling_custom.py"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text("x")
        changed.append(weights_fingerprint(tmp_path))
    assert len({before, *changed}) == 4


def test_a_hub_model_is_identified_by_its_cached_commit(tiny_gpt2_dir: Path, tmp_path: Path) -> None:
    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = tmp_path / "hub" / "models--acme--tiny"
    shutil.copytree(tiny_gpt2_dir, repo / "snapshots" / commit)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    script = (
        "from harness.adapters.hf import HFAdapter, HFParams; "
        "a = HFAdapter(HFParams(pretrained='acme/tiny')); "
        "print(a.info().revision, a._load_kwargs['revision'])"  # the weights load at that commit too
    )
    env = {**os.environ, "HF_HUB_CACHE": str(tmp_path / "hub"), "HF_HUB_OFFLINE": "1"}
    done = subprocess.run([sys.executable, "-c", script], env=env, cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [commit, commit]
