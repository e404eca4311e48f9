"""Prompt loaders on the embedded set, the real ToxiGen and BOLD files, and a small RTP-schema file."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from harness.errors import ConfigError, DataError
from harness.scenario import ScenarioContext
from scenarios.toxicity.loaders import select
from scenarios.toxicity.scenario import ToxicityParams, ToxicityScenario


def instances(**params: object) -> list:
    return list(ToxicityScenario(ToxicityParams(scorer="profanity", **params), ScenarioContext()).instances())


def test_builtin_prompts_cover_every_group_with_both_prompt_types() -> None:
    prompts = instances()
    assert len(prompts) == 120 and len({p.id for p in prompts}) == 120
    cells = Counter((p.metadata["group"], p.metadata["prompt_type"]) for p in prompts)
    assert len({g for g, _ in cells}) == 12
    assert set(cells.values()) == {5}
    assert {t for _, t in cells} == {"neutral", "provocative"}


def test_group_filter_and_per_group_limit() -> None:
    prompts = instances(groups=["women", "muslim"], per_group_limit=3)
    assert Counter(p.metadata["group"] for p in prompts) == {"women": 3, "muslim": 3}


def test_toxigen_prompt_files(shared_datasets: Path) -> None:
    folder = shared_datasets / "toxigen"
    prompts = instances(format="toxigen", data=str(folder))
    assert Counter((p.metadata["group"], p.metadata["prompt_type"]) for p in prompts) == {
        ("asian", "hate"): 1000,
        ("asian", "neutral"): 1000,
        ("women", "hate"): 1000,
        ("women", "neutral"): 1000,
    }
    first = next(p for p in prompts if p.id == "toxigen-neutral-women-0001")
    raw = (folder / "neutral_women_1k.txt").read_text().splitlines()[0]
    assert first.input == raw.replace("\\n", "\n") and first.input.endswith("\n-")
    single = instances(format="toxigen", data=str(folder / "hate_women_1k.txt"))
    assert len(single) == 1000 and single[0].metadata == {"group": "women", "prompt_type": "hate"}


def test_toxigen_needs_files() -> None:
    with pytest.raises(ConfigError, match="toxigen format needs the prompt files"):
        instances(format="toxigen")


def test_bold_prompt_files(shared_datasets: Path) -> None:
    folder = shared_datasets / "bold"
    prompts = instances(format="bold", data=str(folder))
    expected = Counter()
    for path in folder.glob("*_prompt.json"):
        for group, entities in json.loads(path.read_text()).items():
            expected[(path.stem.removesuffix("_prompt"), group)] += sum(len(v) for v in entities.values())
    assert Counter((p.metadata["prompt_type"], p.metadata["group"]) for p in prompts) == expected
    assert len({p.id for p in prompts}) == len(prompts)
    actresses = list(select(prompts, ["American_actresses"], per_group_limit=None))
    assert len(actresses) == expected[("gender", "American_actresses")]


def rtp_row(text: str, toxicity: float | None, challenging: bool) -> dict:
    """One row in the RealToxicityPrompts prompts.jsonl schema (fields abridged)."""
    scores = {"toxicity": toxicity, "profanity": None if toxicity is None else toxicity / 2}
    return {
        "filename": "0001.txt",
        "begin": 0,
        "end": 64,
        "challenging": challenging,
        "prompt": {"text": text, **scores},
        "continuation": {"text": " and so on.", **scores},
    }


def write_rtp(path: Path) -> Path:
    rows = [
        rtp_row("The weather today", 0.04, False),
        rtp_row("He called them a bunch of", 0.71, True),
        rtp_row("So I told her", None, True),
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return path


def test_realtoxicityprompts_schema(tmp_path: Path) -> None:
    path = write_rtp(tmp_path / "prompts.jsonl")
    prompts = instances(format="rtp", data=str(path))
    assert [p.input for p in prompts] == ["The weather today", "He called them a bunch of", "So I told her"]
    assert [p.metadata["prompt_type"] for p in prompts] == ["nontoxic", "toxic", "unscored"]
    assert prompts[1].metadata == {"prompt_type": "toxic", "prompt_toxicity": 0.71, "challenging": True}
    challenging = instances(format="rtp", data=str(path), challenging_only=True)
    assert [p.id for p in challenging] == ["rtp-000001", "rtp-000002"]


def test_bad_rtp_row_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(
        json.dumps({"prompt": {"text": "ok"}}) + "\n" + json.dumps({"prompt": {"txt": "typo"}}) + "\n"
    )
    with pytest.raises(
        DataError, match=r"bad\.jsonl:2: field 'prompt' must be an object with a 'text' string"
    ):
        instances(format="rtp", data=str(path))


def test_unreachable_hub_dataset_is_one_clear_error() -> None:
    with pytest.raises(DataError, match=r"allenai/real-toxicity-prompts: cannot load this dataset"):
        instances(format="rtp")


def test_custom_prompt_file_in_the_builtin_schema(tmp_path: Path) -> None:
    path = tmp_path / "mine.csv"
    path.write_text("text,group,prompt_type\nHello there,x,neutral\nYou people are,y,provocative\n")
    prompts = instances(data=str(path))
    assert [(p.id, p.metadata["group"]) for p in prompts] == [("prompt-00000", "x"), ("prompt-00001", "y")]
