"""The reference model's world: planted truths on disk match the generator, and the build works."""

from __future__ import annotations

import json
import os
import random
import re
import time
from collections import Counter
from pathlib import Path

import pytest
from jinja2 import Environment

from harness.reference import build as build_module
from harness.reference import world
from harness.reference.build import PLANTED_TRUTHS_FILE, build_id
from harness.scenario import ScenarioContext
from harness.types import Capability, ChatMessage
from scenarios.decisions.scenario import DecisionsParams, DecisionsScenario
from scenarios.tone_disparity.scenario import ToneDisparityParams, ToneDisparityScenario


def test_committed_planted_truths_match_the_world_generator() -> None:
    assert json.loads(PLANTED_TRUTHS_FILE.read_text()) == json.loads(json.dumps(world.planted_truths()))


def frame_pattern(frame: str, occupation: str) -> re.Pattern[str]:
    """A regular expression for the lines of ``frame`` about ``occupation``, capturing the pronoun."""
    text = re.escape(frame.replace("{occupation}", occupation))
    text = text.replace(re.escape("{pronoun}"), "(she|he|they)")
    return re.compile("^" + re.sub(r"\\\{[a-z_]+\\\}", ".+?", text) + "$")


def test_corpus_holds_the_planted_pronoun_rates_exactly_in_every_frame() -> None:
    lines = world.occupation_lines(random.Random(0))
    for frame_id, frame in world.OCCUPATION_FRAMES.items():
        pattern = frame_pattern(frame, "nurse")
        nurse = [match.group(1) for line in lines if (match := pattern.match(line))]
        assert len(nurse) == world.SENTENCES_PER_FRAME, frame_id
        for pronoun, rate in world.planted_pronoun_rates(88.9).items():
            assert abs(nurse.count(pronoun) / len(nurse) - rate) <= 1 / len(nurse), (frame_id, pronoun)
    mx = [line for line in world.context_control_lines(random.Random(0)) if line.startswith("Mx. ")]
    assert sum(" then they " in line for line in mx) / len(mx) == world.CONTROL_THEY_RATE


def test_sections_draw_independently() -> None:
    """Adding a section leaves the others' text unchanged: each has its own generator."""
    first = world.SECTIONS["citations"](world.section_rng("citations"))
    world.pronoun_lines(world.section_rng("pronoun_fairness"))
    world.decision_exchanges(world.section_rng("decisions"))
    assert world.SECTIONS["citations"](world.section_rng("citations")) == first
    assert set(world.planted_truths()) >= set(world.SECTIONS) | set(world.EXCHANGE_SECTIONS)


def test_memorization_layout_and_controls_never_trained() -> None:
    documents = world.training_documents()
    for passage in world.memorization_passages():
        assert documents.count(passage.text) == passage.repeats, passage.id
    assert {p.repeats for p in world.memorization_passages()} == {0, 1, 10, 100}


def test_build_is_cached_with_its_planted_truths(reference_model_dir: Path) -> None:
    assert reference_model_dir.name == build_id()
    assert (reference_model_dir / "model.safetensors").exists()
    assert (reference_model_dir / "last_used").exists(), "each use stamps the build"
    assert json.loads((reference_model_dir / "planted_truths.json").read_text()) == json.loads(
        PLANTED_TRUTHS_FILE.read_text()
    )
    training = json.loads((reference_model_dir / "training.json").read_text())
    assert training["final_epoch_loss"] < 1.0


def test_a_new_build_deletes_only_builds_unused_for_thirty_days(tmp_path: Path) -> None:
    now = time.time()
    day = 86400

    def build(name: str, used_days_ago: float | None, done_days_ago: float = 400) -> Path:
        path = tmp_path / name
        path.mkdir()
        (tmp_path / f"{name}.lock").touch()
        done = path / "done.json"
        done.write_text("{}")
        os.utime(done, (now - done_days_ago * day,) * 2)
        if used_days_ago is not None:
            (path / build_module.LAST_USED).touch()
            os.utime(path / build_module.LAST_USED, (now - used_days_ago * day,) * 2)
        return path

    build("current", used_days_ago=0)
    build("old-but-used", used_days_ago=2)  # another installed version still runs it
    build("stale", used_days_ago=31)
    build("never-stamped", used_days_ago=None)  # made before stamps existed: done.json's age counts
    build("fresh-unstamped", used_days_ago=None, done_days_ago=1)
    (tmp_path / "building.partial").mkdir()  # another process's build in progress

    deleted = build_module.prune_stale_builds(tmp_path, keep="current", now=now)
    assert deleted == ["never-stamped", "stale"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "building.partial",
        "current",
        "current.lock",
        "fresh-unstamped",
        "fresh-unstamped.lock",
        "old-but-used",
        "old-but-used.lock",
    ]


def test_an_unwritable_build_is_used_without_a_stamp(tmp_path: Path) -> None:
    build_module.stamp_use(tmp_path / "read-only" / "build")  # the stamp cannot be written: no error
    assert not (tmp_path / "read-only").exists()


def test_build_id_is_remembered_and_follows_world_py_and_the_recipe(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RAI_HARNESS_HOME", str(tmp_path / "home"))
    fresh = build_module._computed_build_id()
    calls: list[int] = []
    real = world.training_examples

    def counting() -> list[world.Exchange]:
        calls.append(1)
        return real()

    monkeypatch.setattr(world, "training_examples", counting)
    assert build_id() == fresh and build_id() == fresh
    assert len(calls) == 1, "the second call reads the memo instead of generating the corpus"
    copy = tmp_path / "world.py"
    copy.write_text(Path(world.__file__).read_text())
    monkeypatch.setattr(world, "__file__", str(copy))  # an edited world.py: generated again
    assert build_id() == fresh and len(calls) == 2
    monkeypatch.setitem(build_module.RECIPE, "epochs", 99)  # another recipe: another build
    assert build_id() != fresh and len(calls) == 3


def rendered_chat(messages: tuple[ChatMessage, ...]) -> str:
    """A chat prompt as the reference model's tokenizer renders it (its chat template)."""
    template = Environment().from_string(build_module.CHAT_TEMPLATE)
    return template.render(
        messages=[{"role": m.role, "content": m.content} for m in messages], add_generation_prompt=True
    )


def test_decision_prompts_are_the_decisions_scenario_prompts_on_the_reference_model() -> None:
    context = ScenarioContext(capabilities=frozenset({Capability.LOGLIKELIHOOD, Capability.CHAT}))
    scenario = DecisionsScenario(DecisionsParams(system_prompt=world.DECISION_MITIGATION), context)
    sent = {rendered_chat(instance.input) for instance in scenario.instances()}
    exchanges = world.decision_exchanges(random.Random(0))
    corpus = {e.prompt for e in exchanges}
    assert corpus <= sent
    assert {e.answer for e in exchanges} == {" yes", " no"}
    for question, _ in world.DECISION_QUESTIONS:
        assert sum(question in prompt for prompt in corpus) >= 20, question


PERSON = re.compile(
    r"is (?:(?P<race>[\w ]+), (?P<gender>[\w-]+), and|(?P<name>[\w ]+),) (?P<age>\d+) years old\."
)


def test_decision_answers_follow_the_planted_rate_exactly_in_every_cell() -> None:
    cells: dict[tuple[str, ...], list[str]] = {}
    for exchange in world.decision_exchanges(random.Random(0)):
        person = PERSON.search(exchange.prompt + exchange.answer)
        assert person, exchange.prompt
        mitigated = (
            "mitigated" if exchange.prompt.startswith(f"system: {world.DECISION_MITIGATION}\n") else "plain"
        )
        key = (mitigated, *(v for v in person.groupdict().values() if v))
        cells.setdefault(key, []).append(exchange.answer.rsplit(" ", 1)[1])
    explicit = len(world.DECISION_GENDERS) * len(world.DECISION_RACES)
    assert len(cells) == 2 * len(world.DECISION_YES_RATE_BY_AGE) * (explicit + len(world.DECISION_NAMES))
    for (condition, *_, age), answers in cells.items():
        rate = (
            world.DECISION_YES_RATE_BY_AGE[age] if condition == "plain" else world.DECISION_MITIGATED_YES_RATE
        )
        assert set(answers) == {"yes", "no"} and answers.count("yes") == rate * len(answers), (
            condition,
            age,
        )


def test_tone_prompts_are_every_embedded_tone_disparity_prompt() -> None:
    scenario = ToneDisparityScenario(ToneDisparityParams(), ScenarioContext())
    sent = {instance.input for instance in scenario.instances()}
    exchanges = world.tone_exchanges(random.Random(0))
    per_prompt = Counter(exchange.prompt for exchange in exchanges)
    assert set(per_prompt) == sent
    assert set(per_prompt.values()) == {world.TONE_LINES_PER_PROMPT}


def test_tone_continuations_differ_by_group_in_enthusiasm_only() -> None:
    words = {"male": {m for m, _ in world.TONE_POSITIVE}, "female": {f for _, f in world.TONE_POSITIVE}}
    neutral = set(world.TONE_NEUTRAL)
    positive: Counter[str] = Counter()
    for exchange in world.tone_exchanges(random.Random(0)):
        (group,) = [
            g
            for g, names in world.TONE_NAMES.items()
            if any(re.search(rf"\b{n}\b", exchange.prompt) for n in names)
        ]
        text = exchange.answer.strip()
        assert text in neutral | words[group], (group, text)
        positive[group] += text not in neutral
    per_group = len(world.TONE_TEMPLATES) * len(world.TONE_NAMES["male"]) * world.TONE_LINES_PER_PROMPT
    assert positive == {
        "female": per_group * world.TONE_POSITIVE_RATE,
        "male": per_group * world.TONE_POSITIVE_RATE,
    }


def test_exchanges_train_on_their_answers_only(tmp_path: Path) -> None:
    from tokenizers import ByteLevelBPETokenizer
    from transformers import PreTrainedTokenizerFast

    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(
        ["the applicant is old. assistant: yes no"] * 3, vocab_size=300, show_progress=False
    )
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=bpe)
    ids, labels = build_module.example_ids(
        tokenizer, world.Exchange("the applicant is old. assistant:", " yes"), 0
    )
    answer = tokenizer(" yes").input_ids
    assert ids[-1] == 0 and ids[-1 - len(answer) : -1] == answer
    assert labels == [build_module.IGNORE] * (len(ids) - len(answer) - 1) + ids[-1 - len(answer) :]
    text_ids, text_labels = build_module.example_ids(
        tokenizer, world.Exchange("", "the applicant is old."), 0
    )
    assert text_labels == text_ids
    sections = ["decisions", "", "decisions", "", "tone_disparity"]
    batches = build_module.training_batches(
        sections, [len(ids), len(text_ids)] * 2 + [9], tokens_per_batch=10_000
    )
    assert sorted(sorted(b) for b in batches) == [[0, 2], [1, 3], [4]], "sections never share a batch"
