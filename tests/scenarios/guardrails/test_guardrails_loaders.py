"""Labelled-text sources: own files (bad rows name the file and line), ToxiGen, and the Hub schemas."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.errors import ConfigError, DataError
from scenarios.guardrails import data

TOXIGEN = Path(__file__).resolve().parents[4] / "shared" / "datasets" / "toxigen" / "statements.jsonl"


def test_toxigen_statements_load_with_their_groups_and_labels() -> None:
    if not TOXIGEN.exists():
        pytest.skip(f"{TOXIGEN} is not present")
    instances = list(data.load("toxigen", str(TOXIGEN), "train", None))
    assert len(instances) == 722
    truths = {i.metadata["truth"] for i in instances}
    assert truths == {"harmful", "benign"}
    first = instances[0]
    assert first.metadata["group"] == "asian" and first.metadata["truth"] == "harmful"
    assert first.metadata["source"] == "toxigen" and first.id == "toxigen-000001"


def test_own_csv_and_jsonl_files_accept_every_label_spelling(tmp_path: Path) -> None:
    csv_file = tmp_path / "mine.csv"
    csv_file.write_text("text,label,group,kind\nhello,safe,women,prompt\nget out,1,,response\nfine,FALSE,,\n")
    rows = list(data.load("labelled", str(csv_file), "train", None))
    assert [r.metadata["truth"] for r in rows] == ["benign", "harmful", "benign"]
    assert rows[0].metadata["group"] == "women" and "group" not in rows[1].metadata
    assert rows[1].metadata["kind"] == "response" and rows[2].metadata["kind"] == "prompt"
    assert rows[0].id == "mine-000002"  # the row's line in the file


@pytest.mark.parametrize(
    ("content", "suffix", "line", "message"),
    [
        (
            '{"text": "a", "label": "harmful"}\n{"text": "b", "label": "maybe"}\n',
            ".jsonl",
            2,
            "field 'label'",
        ),
        ('{"text": "a", "label": "benign"}\n{"label": "benign"}\n', ".jsonl", 2, "field 'text'"),
        (
            '{"text": "a", "label": "benign"}\n{"text": "b", "label": "benign", "kind": "reply"}\n',
            ".jsonl",
            2,
            "kind",
        ),
        (
            '{"id": "x", "text": "a", "label": 0}\n{"id": "x", "text": "b", "label": 1}\n',
            ".jsonl",
            2,
            "duplicate id",
        ),
        ('{"text": "a", "label": 0}\n{"text": "b", "label": 1\n', ".jsonl", 2, "not valid JSON"),
        ("text,label\nhello,benign\nbye,benign,extra\n", ".csv", 3, "more fields"),
        ("text,label\nhello,benign\n,harmful\n", ".csv", 3, "field 'text'"),
    ],
)
def test_a_bad_row_is_one_line_naming_file_and_line(
    tmp_path: Path, content: str, suffix: str, line: int, message: str
) -> None:
    path = tmp_path / f"bad{suffix}"
    path.write_text(content)
    with pytest.raises(DataError) as caught:
        list(data.load("labelled", str(path), "train", None))
    text = str(caught.value)
    assert text.startswith(f"{path}:{line}: ") and message in text and "\n" not in text


def test_unknown_format_and_file_type_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"scenario\.format='beavertails' is not valid; choose one of"):
        data.load("beavertails", None, "train", None)
    with pytest.raises(ConfigError, match=r"\.jsonl or \.csv"):
        list(data.load("labelled", str(tmp_path / "x.parquet"), "train", None))


def test_hub_schemas_map_to_labels() -> None:
    from datasets import Dataset

    moderation = Dataset.from_dict(
        {"prompt": ["kill them", "hi"], **{f: [1 if f == "V" else 0, 0] for f in data.MODERATION_FLAGS}}
    )
    rows = list(data._moderation(moderation, "mmathys/openai-moderation-api-evaluation"))
    assert [(r.metadata["truth"], r.metadata["category"]) for r in rows] == [
        ("harmful", "V"),
        ("benign", "benign"),
    ]
    chat = Dataset.from_dict({"user_input": ["a", "b"], "toxicity": [0, 1], "jailbreaking": [0, 1]})
    rows = list(data._toxicchat(chat, "lmsys/toxic-chat"))
    assert [(r.metadata["truth"], r.metadata["category"]) for r in rows] == [
        ("benign", "benign"),
        ("harmful", "jailbreaking"),
    ]
    xstest = Dataset.from_dict(
        {"prompt": ["kill a process", "kill a person"], "label": ["safe", "unsafe"], "type": ["homonyms"] * 2,
         "focus": ["kill", "kill"]}
    )  # fmt: skip
    rows = list(data._xstest(xstest, "Paul/XSTest"))
    assert [r.metadata["truth"] for r in rows] == ["benign", "harmful"]
    assert rows[0].metadata["category"] == "homonyms" and rows[0].id == "XSTest-000000"
    toxigen = Dataset.from_dict(
        {"text": ["x", "y"], "target_group": ["jewish", "women"], "toxicity_human": [4.3, 1.0]}
    )
    rows = list(data._toxigen_hub(toxigen, "toxigen/toxigen-data"))
    assert [(r.metadata["truth"], r.metadata["group"]) for r in rows] == [
        ("harmful", "jewish"),
        ("benign", "women"),
    ]
