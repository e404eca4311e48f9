"""Every user mistake the CLI can meet ends in one line naming the key or file, never a traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
RUN = ["model=simulated", "progress=false", "report=false", "limit=2", "scenario.k=2"]


def _empty_data(tmp: Path) -> list[str]:
    (tmp / "empty.jsonl").write_text("")
    return ["scenario=toxicity", f"scenario.data={tmp / 'empty.jsonl'}", *RUN]


def _cache_folder(tmp: Path) -> list[str]:
    (tmp / "cache_dir").mkdir()
    return ["scenario=toxicity", f"cache.path={tmp / 'cache_dir'}", *RUN]


def _corrupt_cache(tmp: Path) -> list[str]:
    (tmp / "broken.sqlite").write_text("this is not a database, it is a tampered cache\n" * 10)
    return ["scenario=toxicity", f"cache.path={tmp / 'broken.sqlite'}", *RUN]


def _unwritable_output(tmp: Path) -> list[str]:
    (tmp / "a_file").write_text("x")  # below a file nothing can be created, whoever runs the test
    return ["scenario=toxicity", f"hydra.run.dir={tmp / 'a_file' / 'run'}", *RUN]


def _braces(tmp: Path) -> list[str]:
    (tmp / "rules.json").write_text(json.dumps([{"match": ".", "outputs": {'{"label": 1}': 1.0}}]))
    return ["scenario=toxicity", f"model.table={tmp / 'rules.json'}", *RUN]


UNIT_MISMATCH = """
from dataclasses import dataclass

from harness.scenario import Scenario, ScenarioParams
from harness.types import GenerationParams, Instance, MetricSpec, Request


@dataclass
class LengthParams(ScenarioParams):
    pass


class LengthScenario(Scenario):
    name = "prompt_length"
    version = "1"
    Params = LengthParams

    def instances(self):
        return [Instance(id=str(i), input="word " * (i + 2)) for i in range(4)]

    def requests(self, instance):
        return [Request("generate", instance.input, GenerationParams(max_new_tokens=2))]

    def score(self, instance, outputs):
        return {"words": float(len(instance.input.split()))}

    def metrics(self):
        return [MetricSpec("mean_words", "words per prompt", value="words")]  # unit defaults to proportion
"""


def _unit_mismatch(tmp: Path) -> list[str]:
    (tmp / "length.py").write_text(UNIT_MISMATCH)
    return [f"scenario={tmp / 'length.py'}", "model=simulated", "progress=false", "report=false"]


CASES: dict[str, tuple[Callable[[Path], list[str]], str]] = {
    "window_size=0": (
        lambda tmp: ["scenario=toxicity", "window_size=0", *RUN],
        "window_size must be a positive",
    ),
    "empty data file": (_empty_data, "empty.jsonl"),
    "cache path is a folder": (_cache_folder, "cache.path"),
    "corrupt cache file": (_corrupt_cache, "broken.sqlite: not a usable response cache"),
    "unwritable output folder": (
        _unwritable_output,
        "a_file is not a folder; choose another with hydra.run.dir",
    ),
    "replay without model.path": (
        lambda tmp: ["model=replay", "scenario=toxicity"],
        "model.path is required by model=replay (conf/model/replay.yaml): pass model.path=<value>",
    ),
    "hf without model.pretrained": (
        lambda tmp: ["model=hf", "scenario=toxicity"],
        "model.pretrained is required by model=hf (conf/model/hf.yaml): pass model.pretrained=<value>",
    ),
    "braces in a simulated output": (
        _braces,
        "rules.json rule 0: output '{\"label\": 1}' has braces that are not a group",
    ),
    "metric values outside the declared unit": (
        _unit_mismatch,
        "metric 'mean_words' declares unit 'proportion', but a value (2) lies outside [0, 1]; "
        "declare the unit",
    ),
    "scenario key without scenario=": (
        lambda tmp: ["scenario.k=abc"],
        "'scenario.k=abc': no scenario is selected, so scenario.<key> has nothing to set; "
        "pass scenario=<name>",
    ),
}


def _harness(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "RAI_HARNESS_CACHE": str(cwd / "cache.sqlite"), "HF_HUB_OFFLINE": "1"}
    command = [sys.executable, "-m", "harness", *args]
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, env=env, timeout=300)


@pytest.mark.parametrize("case", list(CASES))
def test_a_mistake_is_one_line_naming_it(tmp_path: Path, case: str) -> None:
    build, expected = CASES[case]
    result = _harness(build(tmp_path), tmp_path)
    assert "Traceback" not in result.stderr + result.stdout
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("harness: error: "), result.stderr
    assert expected in lines[0]


def test_hydra_options_take_their_value_as_the_next_word(tmp_path: Path) -> None:
    result = _harness(["--cfg", "job", "scenario=toxicity", "model=simulated"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert "name: toxicity" in result.stdout and "adapter: simulated" in result.stdout


def test_a_long_override_gets_a_short_readable_run_directory(tmp_path: Path) -> None:
    deep = tmp_path / ("d" * 120) / ("e" * 100)
    deep.mkdir(parents=True)
    prompts = (REPO / "scenarios" / "toxicity" / "prompts.jsonl").read_text().splitlines()[:2]
    (deep / "my_code.jsonl").write_text("\n".join(prompts) + "\n")
    result = _harness(["scenario=toxicity", f"scenario.data={deep / 'my_code.jsonl'}", *RUN], tmp_path)
    assert result.returncode == 0, result.stderr
    (job,) = (tmp_path / "results" / "runs").iterdir()
    assert len(job.name.encode()) <= 150 and "scenario.data=my_code.jsonl" in job.name
    assert json.loads((job / "toxicity" / "run.json").read_text())["status"] == "completed"


def test_validate_names_a_metric_whose_values_leave_their_unit(tmp_path: Path) -> None:
    (tmp_path / "length.py").write_text(UNIT_MISMATCH)
    result = _harness(["validate", str(tmp_path / "length.py"), "--limit", "4"], tmp_path)
    assert result.returncode == 1 and "Traceback" not in result.stderr + result.stdout
    assert result.stdout.startswith("FAIL  metric 'mean_words' declares unit 'proportion'"), result.stdout
