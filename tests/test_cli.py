"""The harness command as a user runs it: help, list, errors, runs, sweeps, validate."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
HARNESS = [sys.executable, "-m", "harness"]


def run(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """Run the harness CLI in ``cwd`` and capture its output."""
    merged = {**os.environ, "RAI_HARNESS_CACHE": str(cwd / "cache.sqlite"), **env}
    return subprocess.run([*HARNESS, *args], cwd=cwd, capture_output=True, text=True, env=merged, timeout=300)


def test_help_lists_groups_and_subcommands(tmp_path: Path) -> None:
    result = run(["--help"], tmp_path)
    assert result.returncode == 0
    assert (
        "reference" in result.stdout and "validate" in result.stdout and "pronoun_fairness" in result.stdout
    )


def test_misspelled_key_names_it_and_lists_valid_keys(tmp_path: Path) -> None:
    result = run(["model.temprature=0.5"], tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "unknown config key 'model.temprature'" in lines[0] and "pretrained" in lines[0]
    result = run(["seeed=1"], tmp_path)
    assert "Did you mean 'seed'?" in result.stderr and result.returncode == 2


def test_unknown_group_option_lists_the_options(tmp_path: Path) -> None:
    result = run(["model=gpt5"], tmp_path)
    assert result.returncode == 2
    assert (
        result.stderr.strip().splitlines() == [result.stderr.strip().splitlines()[0]]
        and "unknown model 'gpt5'. Valid options:" in result.stderr
    )
    assert "reference" in result.stderr and "simulated" in result.stderr


def test_unknown_hub_model_is_one_line(tmp_path: Path) -> None:
    result = run(["model=hf", "model.pretrained=nobody/nothing-here", "scenario=toxicity"], tmp_path)
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert "cannot load 'nobody/nothing-here'" in result.stderr


def test_bad_value_type_names_the_key(tmp_path: Path) -> None:
    result = run(["model.batch_size=many"], tmp_path)
    assert result.returncode == 2 and "invalid value for 'model.batch_size'" in result.stderr


def test_malformed_replay_file_is_one_clear_message(tmp_path: Path, demo_plugin_installed: None) -> None:
    bad = tmp_path / "outputs.jsonl"
    bad.write_text('{"id": "q0", "output": "1"}\n{"id": "q1" "output": "2"}\n')
    result = run(
        ["scenario=demo_arithmetic", "model=replay", f"model.path={bad}", "progress=false"], tmp_path
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"harness: error: {bad}:2: not valid JSON (Expecting ',' delimiter at column 13)"
    ]


def test_plugin_runs_through_the_cli_and_is_listed_with_its_package(
    tmp_path: Path, demo_plugin_installed: None
) -> None:
    listed = run(["list", "--check"], tmp_path)
    assert listed.returncode == 0, listed.stdout + listed.stderr
    assert any("demo_arithmetic" in line and "rai-demo-plugin" in line for line in listed.stdout.splitlines())
    assert any("demo_calculator" in line and "rai-demo-plugin" in line for line in listed.stdout.splitlines())
    result = run(
        ["scenario=demo_arithmetic", "model=demo_calculator", "model.wrong_every=7", "progress=false"],
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    run_dir = (
        tmp_path
        / "results/runs/model.wrong_every=7,model=demo_calculator,scenario=demo_arithmetic/demo_arithmetic"
    )
    metrics = json.loads((run_dir / "metrics.json").read_text())
    accuracy = next(m for m in metrics["metrics"] if m["name"] == "accuracy" and m["group"] is None)
    assert accuracy["value"] == pytest.approx(25 / 30)
    manifest = json.loads((run_dir / "run.json").read_text())
    assert manifest["status"] == "completed" and manifest["scenario"]["version"] == "1.0"
    assert manifest["model"]["adapter"] == "demo_calculator" and manifest["schema_version"] == 1
    assert len(manifest["dataset_fingerprint"]) == 64 and manifest["packages"]["torch"]
    assert "accuracy" in result.stdout and str(run_dir.parent) in result.stdout


def test_validate_checks_the_plugin_contract(tmp_path: Path, demo_plugin_installed: None) -> None:
    ok = run(["validate", "demo_arithmetic"], tmp_path)
    assert ok.returncode == 0 and ok.stdout.startswith("OK"), ok.stdout + ok.stderr
    bad = run(["validate", "demo_arithmetic", "n_questions=ten"], tmp_path)
    assert bad.returncode == 2 and "invalid value for 'scenario[demo_arithmetic].n_questions'" in bad.stderr


def test_sweep_runs_every_job_and_points_at_the_leaderboard(
    tmp_path: Path, demo_plugin_installed: None
) -> None:
    result = run(
        [
            "-m",
            "scenario=demo_arithmetic",
            "model=demo_calculator",
            "model.wrong_every=0,5",
            "seed=0,1",
            "progress=false",
            "hydra.sweep.dir=results/sweeps/t",
        ],
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    manifests = sorted((tmp_path / "results/sweeps/t").rglob("run.json"))
    assert len(manifests) == 4
    assert all(json.loads(m.read_text())["status"] == "completed" for m in manifests)
    assert "harness leaderboard results/sweeps/t" in result.stdout


def test_runs_follow_each_other_in_one_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from hydra.core.global_hydra import GlobalHydra

    from harness.cli import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("RAI_HARNESS_CACHE", str(tmp_path / "cache.sqlite"))
    common = ["scenario=regurgitation", "model=reference", "limit=2", "progress=false", "report=false"]
    runs = (([*common, "seeed=1"], 2), ([*common, "hydra.run.dir=a"], 0), ([*common, "hydra.run.dir=b"], 0))
    for argv, code in runs:
        with pytest.raises(SystemExit) as exited:
            main(argv)
        assert exited.value.code == code
        assert not GlobalHydra.instance().is_initialized()
    assert json.loads((tmp_path / "b/regurgitation/run.json").read_text())["status"] == "completed"


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("seeed=1", "unknown config key 'seeed'"),
        ("model.batch_size=many", "invalid value for 'model.batch_size'"),
        ("seed=1,2", "Ambiguous value for argument 'seed=1,2': To use it as a list"),
        ("hydra.job.chdir=maybe", "hydra.job.chdir=maybe: Value 'maybe' is not a valid bool"),
    ],
)
def test_config_error_creates_no_run_directory(tmp_path: Path, override: str, message: str) -> None:
    result = run([override, "hydra.run.dir=never"], tmp_path)
    assert result.returncode == 2 and message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert not (tmp_path / "never").exists()


def test_unknown_subcommand(tmp_path: Path) -> None:
    result = run(["lst"], tmp_path)
    assert result.returncode == 2 and "unknown subcommand 'lst'" in result.stderr


def test_progress_false_hides_library_progress_bars(tmp_path: Path) -> None:
    result = run(
        ["scenario=regurgitation", "model=reference", "limit=2", "progress=false", "report=false"], tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert "Loading weights" not in result.stderr + result.stdout  # transformers' bar when weights load
    assert "%|" not in result.stderr  # no tqdm bar of any library


def test_library_quieting_reaches_libraries_imported_before_it(tmp_path: Path) -> None:
    code = (
        "import huggingface_hub.utils.tqdm  # loads the hub constants, reading the environment now\n"
        "from harness.quiet import quiet_libraries\n"
        "quiet_libraries()\n"
        "import transformers.utils.logging as tl\n"
        "print(tl.is_progress_bar_enabled())\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "HF_HUB_DISABLE_PROGRESS_BARS"}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120
    )
    assert out.stdout.strip() == "False", out.stderr


def test_a_run_prints_one_bar_per_scenario_and_the_table_once_and_no_library_lines(tmp_path: Path) -> None:
    """The toxicity scenario loads the reference model (transformers) and the embedding scorer
    (sentence-transformers): neither library's log lines or progress bars reach the console."""
    result = run(
        ["scenario=toxicity", "model=reference", "limit=3", "scenario.k=2", "hydra.run.dir=out"], tmp_path
    )
    assert result.returncode == 0, result.stderr
    bars = [line for line in result.stderr.replace("\r", "\n").splitlines() if line.strip()]
    assert bars and all(line.startswith("toxicity:") for line in bars), bars
    for library_line in ("INFO", "WARNING", "Loading", "Generating", "attention_mask", "Batches"):
        assert library_line not in result.stdout + result.stderr
    table = result.stdout.splitlines()
    headline = [line for line in table if line.split()[:1] == ["toxicity_probability"]]
    assert len(headline) == 1, result.stdout  # the summary table only, no second block
    assert table[-2:] == [
        f"run directory: {tmp_path / 'out'}",
        f"report:        {tmp_path / 'out/report/report.html'}",
    ]
