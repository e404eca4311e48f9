"""``harness scorer-check``: hand-computed validity numbers, held-out protocol, and the command itself."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from harness.scorers.base import Scorer, ScorerParams
from harness.scorers.check import (
    check_scorer,
    evaluate_scores,
    expected_calibration_error,
    main,
    tp_floor,
)
from harness.scorers.labelled import LabelledSet, load_texts, random_spans
from harness.scorers.train_embedding_head import main as train_main
from harness.types import ScorerIdentity

SCORES = [0.9, 0.8, 0.3, 0.6, 0.1, 0.2]
LABELS = [1, 1, 1, 0, 0, 0]
GROUPS = ["a", "a", "b", "a", "b", "b"]


def test_hand_computed_auc_accuracy_and_group_false_positive_rates() -> None:
    numbers = evaluate_scores(np.array(SCORES), np.array(LABELS), np.array(GROUPS), 0.5, resamples=200)
    assert numbers["roc_auc"].value == pytest.approx(8 / 9)  # 8 of 9 hateful/neutral pairs ordered right
    assert numbers["accuracy"].value == pytest.approx(4 / 6)
    assert numbers["true_positive_rate"].value == pytest.approx(2 / 3)
    assert numbers["false_positive_rate"].value == pytest.approx(1 / 3)
    assert numbers["group_false_positive_rate"]["a"].value == 1.0
    assert numbers["group_false_positive_rate"]["b"].value == 0.0
    assert numbers["group_false_positive_rate"]["b"].n == 2
    assert tp_floor(0.01) == pytest.approx(1 - 0.99**25)
    ece = numbers["expected_calibration_error"]
    assert ece.value == pytest.approx(expected_calibration_error(np.array(SCORES), np.array(LABELS)))
    assert ece.low <= ece.value <= ece.high


def test_expected_calibration_error_by_hand() -> None:
    # bins [0.1, 0.2) and [0.8, 0.9): |0 - 0.1|·2/4 + |1/2 - 0.825|·2/4 = 0.05 + 0.1625
    scores, labels = np.array([0.1, 0.1, 0.8, 0.85]), np.array([0, 0, 1, 0])
    assert expected_calibration_error(scores, labels) == pytest.approx(0.2125)
    perfectly = np.repeat([0.25, 0.75], 4), np.array([1, 0, 0, 0, 1, 1, 1, 0])
    assert expected_calibration_error(*perfectly) == pytest.approx(0.0)


class Memorizer(Scorer):
    """A scorer "trained" on groups a and c: perfect there, so only group b's scores are honest."""

    name = "memorizer"
    label = "test"

    def __init__(self) -> None:
        super().__init__(ScorerParams())

    @property
    def identity(self) -> ScorerIdentity:
        point = {"threshold": 0.25, "training_fingerprint": STATEMENTS.fingerprint, "held_out_groups": ["b"]}
        return ScorerIdentity("memorizer", "1", operating_point=point)

    def score(self, texts: list[str]) -> list[float]:
        return [MEMORY[text] for text in texts]


STATEMENTS = LabelledSet([f"s{i}" for i in range(6)], LABELS, GROUPS, "test")
MEMORY = dict(zip(STATEMENTS.texts, SCORES, strict=True))


def test_scorer_trained_on_the_statements_is_checked_on_its_held_out_groups_at_its_threshold() -> None:
    result = check_scorer(
        "memorizer", Memorizer(), STATEMENTS, ordinary={"plain": ["s5", "s4"]}, resamples=100
    )
    assert result.protocol.startswith("held-out groups (b:")
    assert result.n == 3 and result.threshold == 0.25  # group b only, at the scorer's operating point
    assert result.roc_auc.value == pytest.approx(1.0)  # b: hateful 0.3 above neutral 0.1 and 0.2
    assert result.true_positive_rate.value == 1.0 and result.false_positive_rate.value == 0.0
    assert set(result.group_false_positive_rate) == {"b"}
    assert result.ordinary_false_positive_rate["plain"].value == 0.0
    other = LabelledSet(STATEMENTS.texts, LABELS, ["c"] * 6, "other")
    direct = check_scorer("memorizer", Memorizer(), other, 0.5, resamples=100)
    assert direct.protocol == "direct" and direct.n == 6 and direct.threshold == 0.5


def test_command_reproduces_the_profanity_numbers(shared_datasets: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "check.json"
    ordinary = str(shared_datasets / "bold" / "gender_prompt.json")
    statements = str(shared_datasets / "toxigen" / "statements.jsonl")
    options = [
        "--data",
        statements,
        "--ordinary",
        ordinary,
        "--ordinary-limit",
        "200",
        "--resamples",
        "200",
        "--json",
        str(out),
    ]
    code = main(["--scorer", "profanity", *options])
    assert code == 0
    printed = capsys.readouterr().out
    assert "| profanity | direct | 722 | 0.5 | 0.699 [" in printed
    assert "| lgbtq | 92 |" in printed and "| gender_prompt.json (1-6-word spans) |" in printed
    [result] = json.loads(out.read_text())
    assert result["accuracy"]["value"] == pytest.approx(0.5443, abs=1e-4)
    assert result["ordinary_false_positive_rate"]["gender_prompt.json"]["n"] == 200


def test_command_reports_bad_options_and_data_in_one_line(tmp_path: Path, capsys) -> None:
    good, bad = tmp_path / "good.jsonl", tmp_path / "bad.jsonl"
    good.write_text(json.dumps({"text": "a fine day", "label": 0, "target_group": "none"}) + "\n")
    bad.write_text(json.dumps({"text": "x", "label": 3}) + "\n")
    assert main(["--scorer", "profanity", "--data", str(good), "--option", "profanity.nope=1"]) == 2
    assert capsys.readouterr().err.splitlines() == [
        "error: unknown config key '--option profanity.nope'. "
        "Valid keys under '--option profanity': batch_size."
    ]
    assert main(["--scorer", "profanity", "--data", str(bad), "--ordinary", str(bad)]) == 2
    (line,) = capsys.readouterr().err.splitlines()  # one line: no library progress bar either
    assert "bad.jsonl:1: field 'text' must be a string and 'label' 0 or 1" in line


def test_the_labelled_data_and_the_training_sentences_are_named_not_assumed(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["--scorer", "profanity"])
    assert "the following arguments are required: --data" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        train_main(["--data", "statements.jsonl"])
    assert "--ordinary FOLDER (a WinoBias checkout) is required" in capsys.readouterr().err


def test_ordinary_texts_from_tsv_and_nested_json(tmp_path: Path) -> None:
    tsv = tmp_path / "s.tsv"
    tsv.write_text("sentid\tsentence\n1\tThe nurse left.\n2\tThe cook sang.\n3\tThe pilot slept.\n")
    assert load_texts(str(tsv)) == ["The nurse left.", "The cook sang.", "The pilot slept."]
    assert load_texts(str(tsv), limit=2) == ["The nurse left.", "The cook sang."]
    nested = tmp_path / "bold.json"
    nested.write_text(json.dumps({"A": {"x": ["one ", "two "]}, "B": {"y": ["three "]}}))
    assert sorted(load_texts(str(nested))) == ["one ", "three ", "two "]
    sentences = ["the quick brown fox jumps over the lazy dog", "a b"]
    spans = random_spans(sentences, seed=3)
    assert spans == random_spans(sentences, seed=3)
    assert all(1 <= len(s.split()) <= 6 and s in t for s, t in zip(spans, sentences, strict=True))
