"""The hf adapter's start-up without torch: device/dtype from files, remembered capabilities, Hub commits."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from harness.adapters import hf_metadata
from harness.adapters.hf import HFAdapter, HFParams, weights_fingerprint
from harness.adapters.hf_metadata import literal_assignments, static_device_dtype, torch_is_cpu_only
from harness.types import Capability, GenerationParams, Request
from tests.conftest import REPO

CPU_BUILD = """from typing import Optional
__version__ = '2.13.0+cpu'
cuda: Optional[str] = None
hip: Optional[str] = None
"""


def test_literal_assignments_reads_plain_and_annotated_names() -> None:
    assert literal_assignments(CPU_BUILD + "debug = False\nx = f()\n") == {
        "__version__": "2.13.0+cpu",
        "cuda": None,
        "hip": None,
        "debug": False,
    }


@pytest.mark.parametrize(
    ("source", "cpu_only"),
    [
        (CPU_BUILD, True),
        (CPU_BUILD.replace("cuda: Optional[str] = None", "cuda = '12.4'"), False),
        (CPU_BUILD.replace("hip: Optional[str] = None", "hip = '6.2.4'"), False),
        ("__version__ = '2.13.0'\n", False),  # no cuda entry: cannot tell, so torch decides
        ("this is not python(", False),
        ("cuda = None\x00\n", False),  # a NUL byte: ast refuses the file, torch decides
    ],
)
def test_torch_build_is_read_from_its_version_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, source: str, cpu_only: bool
) -> None:
    monkeypatch.setattr(sys, "platform", "linux")
    version_file = tmp_path / "version.py"
    version_file.write_text(source)
    assert torch_is_cpu_only(version_file) is cpu_only
    assert torch_is_cpu_only(tmp_path / "missing.py") is False
    monkeypatch.setattr(sys, "platform", "darwin")  # MPS may exist on any macOS build
    assert torch_is_cpu_only(version_file) is False


def test_the_installed_torch_build_is_recognised_without_importing_it() -> None:
    assert torch_is_cpu_only() is (torch.version.cuda is None and torch.version.hip is None)


@pytest.mark.parametrize(
    ("device", "dtype", "cpu_only", "expected"),
    [
        ("auto", "auto", True, ("cpu", "float32")),
        ("auto", "bfloat16", True, ("cpu", "bfloat16")),
        ("auto", "auto", False, None),  # a CUDA build: only torch knows whether a GPU is there
        ("cpu", "auto", False, ("cpu", "float32")),
        ("mps", "float16", False, ("mps", "float16")),
        ("cuda", "auto", True, None),  # bf16 or fp16 depends on the GPU
        ("cuda", "float16", True, ("cuda", "float16")),
        ("cpu", "half", True, None),  # an alias: torch names it
    ],
)
def test_static_device_and_dtype_mirror_the_adapter(
    monkeypatch: pytest.MonkeyPatch,
    device: str,
    dtype: str,
    cpu_only: bool,
    expected: tuple[str, str] | None,
) -> None:
    monkeypatch.setattr(hf_metadata, "torch_is_cpu_only", lambda: cpu_only)
    assert static_device_dtype(device, dtype) == expected


def _adapter_in_fresh_process(model_dir: Path, home: Path, extra_env: dict[str, str] | None = None) -> dict:
    """Build the adapter in a new interpreter: what it imported to start, its identity, a generation."""
    script = f"""
import json, sys
from harness.adapters.hf import HFAdapter, HFParams, weights_fingerprint
from harness.types import GenerationParams, Request
adapter = HFAdapter(HFParams(pretrained={str(model_dir)!r}))
report = {{
    "imported": sorted(m for m in ("torch", "transformers", "tokenizers") if m in sys.modules),
    "identity": adapter.info().identity(),
    "revision": adapter.info().revision,
    "capabilities": sorted(c.value for c in adapter.capabilities()),
}}
request = Request("generate", "The quick", GenerationParams(max_new_tokens=5))
report["text"] = adapter.generate([request], 0)[0].texts
print(json.dumps(report))
"""
    env = {**os.environ, "RAI_HARNESS_HOME": str(home), **(extra_env or {})}
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, cwd=REPO, capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_a_model_seen_before_starts_without_torch_or_transformers(
    tiny_gpt2_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RAI_HARNESS_HOME", str(tmp_path / "home"))
    first = HFAdapter(HFParams(pretrained=str(tiny_gpt2_dir)))
    request = Request("generate", "The quick", GenerationParams(max_new_tokens=5))
    again = _adapter_in_fresh_process(tiny_gpt2_dir, tmp_path / "home")
    assert again == {
        "imported": [],  # at start-up: identity and capabilities came from files
        "identity": first.info().identity(),
        "revision": None,
        "capabilities": sorted(c.value for c in first.capabilities()),
        "text": first.generate([request], 0)[0].texts,
    }


def test_changed_tokenizer_files_are_loaded_again(
    tiny_gpt2_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RAI_HARNESS_HOME", str(tmp_path / "home"))
    model = shutil.copytree(tiny_gpt2_dir, tmp_path / "model")
    with_chat = HFAdapter(HFParams(pretrained=str(model)))
    assert Capability.CHAT in with_chat.capabilities()
    for template in model.glob("chat_template.*"):
        template.unlink()
    config_file = model / "tokenizer_config.json"
    config = json.loads(config_file.read_text())
    config.pop("chat_template", None)
    config_file.write_text(json.dumps(config))
    without_chat = HFAdapter(HFParams(pretrained=str(model)))
    assert without_chat._tokenizer is not None, "new files: the tokenizer is loaded, not remembered"
    assert Capability.CHAT not in without_chat.capabilities()
    assert without_chat.info().identity() != with_chat.info().identity()


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


def test_the_fingerprint_covers_chat_templates_tokenizer_files_and_code(tmp_path: Path) -> None:
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
