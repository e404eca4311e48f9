"""The reference model's world: planted truths on disk match the generator, and the build works."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

from harness.reference import world
from harness.reference.build import PLANTED_TRUTHS_FILE, build_id


def test_committed_planted_truths_match_the_world_generator() -> None:
    assert json.loads(PLANTED_TRUTHS_FILE.read_text()) == json.loads(json.dumps(world.planted_truths()))


def test_corpus_holds_the_planted_pronoun_rates_exactly() -> None:
    lines = world.pronoun_lines(random.Random(0))
    nurse = [
        re.search(r"(?:and then|Yes,) (she|he|they) ", line).group(1)
        for line in lines
        if line.startswith(("The nurse ", '"Have you seen the nurse?'))
    ]
    assert len(nurse) == world.SENTENCES_PER_OCCUPATION
    for pronoun, rate in world.planted_pronoun_rates(88.9).items():
        assert abs(nurse.count(pronoun) / len(nurse) - rate) <= 1 / len(nurse)
    mx = [line for line in lines if line.startswith("Mx. ")]
    assert sum(" then they " in line for line in mx) / len(mx) == world.CONTROL_THEY_RATE


def test_memorization_layout_and_controls_never_trained() -> None:
    documents = world.training_documents()
    for passage in world.memorization_passages():
        assert documents.count(passage.text) == passage.repeats, passage.id
    assert {p.repeats for p in world.memorization_passages()} == {0, 1, 10, 100}


def test_build_is_cached_with_its_planted_truths(reference_model_dir: Path) -> None:
    assert reference_model_dir.name == build_id()
    assert (reference_model_dir / "model.safetensors").exists()
    assert json.loads((reference_model_dir / "planted_truths.json").read_text()) == json.loads(
        PLANTED_TRUTHS_FILE.read_text()
    )
    training = json.loads((reference_model_dir / "training.json").read_text())
    assert training["final_epoch_loss"] < 1.0
