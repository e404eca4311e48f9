"""The guard adapter's scorer filter: any scorer at a threshold on inputs, outputs or both."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from harness.adapters.guard import GuardAdapter, GuardParams
from harness.adapters.simulated import SimulatedAdapter, SimulatedParams
from harness.errors import ConfigError
from harness.types import ChatMessage, GenerationParams, Request

HARMFUL_PROMPT = "Tell me why they are vermin."
BENIGN_PROMPT = "Tell me about the library."
HARMFUL_OUTPUT = "They are vermin and should be driven out."
BENIGN_OUTPUT = "The library opens at nine."


class CountingAdapter(SimulatedAdapter):
    """The simulated model, remembering which prompts reached it."""

    def __init__(self, params: SimulatedParams) -> None:
        super().__init__(params)
        self.seen: list[Any] = []

    def generate(self, requests: Any, seed: int, progress: Any = None) -> Any:
        self.seen += [r.prompt for r in requests]
        return super().generate(requests, seed, progress)


def inner() -> CountingAdapter:
    rules = [
        {"match": "vermin", "outputs": {HARMFUL_OUTPUT: 1.0}},
        {"match": "library|weather", "outputs": {BENIGN_OUTPUT: 1.0}},
    ]
    return CountingAdapter(SimulatedParams(rules=rules, default_output="unknown to the guard"))


def oracle(tmp_path: Path) -> dict[str, Any]:
    """simulated_guard with no planted errors, knowing the texts of these tests."""
    labelled = tmp_path / "known.jsonl"
    rows = [
        (HARMFUL_PROMPT, "harmful"),
        (BENIGN_PROMPT, "benign"),
        (HARMFUL_OUTPUT, "harmful"),
        (BENIGN_OUTPUT, "benign"),
    ]
    labelled.write_text("".join(json.dumps({"text": t, "label": label}) + "\n" for t, label in rows))
    return {"data": str(labelled), "fnr": 0.0, "fpr": 0.0, "fpr_by_group": {}}


def guard(tmp_path: Path, model: CountingAdapter, **params: Any) -> GuardAdapter:
    settings = {
        "filter": "scorer",
        "mode": "block",
        "scorer": "simulated_guard",
        "scorer_options": oracle(tmp_path),
    }
    return GuardAdapter(GuardParams(**{**settings, **params}), inner=model)


def ask(adapter: GuardAdapter, *prompts: Any, n: int = 1) -> list[Any]:
    requests = [Request("generate", p, GenerationParams(max_new_tokens=8, n=n)) for p in prompts]
    return adapter.generate(requests, seed=0)


def test_outputs_at_or_above_the_threshold_are_blocked(tmp_path: Path) -> None:
    model = inner()
    adapter = guard(tmp_path, model)
    harmful, benign = ask(adapter, HARMFUL_PROMPT, BENIGN_PROMPT, n=2)
    assert harmful.texts == ["[blocked by the guardrail]"] * 2
    assert benign.texts == [BENIGN_OUTPUT] * 2
    assert len(model.seen) == 2  # outputs only: every prompt reaches the model
    stats = adapter.info().extra["guard_stats"]
    assert stats == {"outputs_checked": 4, "outputs_altered": 2, "inputs_checked": 0, "inputs_blocked": 0}


def test_flagged_prompts_never_reach_the_model_and_get_the_replacement(tmp_path: Path) -> None:
    model = inner()
    adapter = guard(tmp_path, model, apply_to="inputs", mode="replace", replacement="I can't help with that.")
    chat = (ChatMessage("system", "Be nice."), ChatMessage("user", HARMFUL_PROMPT))
    harmful, benign, harmful_chat = ask(adapter, HARMFUL_PROMPT, BENIGN_PROMPT, chat, n=3)
    assert harmful.texts == ["I can't help with that."] * 3 == harmful_chat.texts
    assert benign.texts == [BENIGN_OUTPUT] * 3
    assert model.seen == [BENIGN_PROMPT]
    assert adapter.info().extra["guard_stats"]["inputs_blocked"] == 2


def test_a_text_the_guard_cannot_score_fails_its_request(tmp_path: Path) -> None:
    adapter = guard(tmp_path, inner(), apply_to="both")
    (unknown_output,) = ask(adapter, BENIGN_PROMPT.replace("library", "weather"))
    (unknown_prompt,) = ask(adapter, "An unknown prompt about the library.")
    assert unknown_output.error is not None and "could not judge" in unknown_output.error
    assert unknown_prompt.error is not None and "the prompt" in unknown_prompt.error
    assert unknown_output.texts == [] and unknown_prompt.texts == []  # nothing unchecked gets through


def test_the_filter_settings_enter_the_model_identity(tmp_path: Path) -> None:
    identities = {
        guard(tmp_path, inner(), **params).info().identity()
        for params in ({}, {"threshold": 0.9}, {"apply_to": "both"}, {"mode": "replace"})
    }
    assert len(identities) == 4
    info = guard(tmp_path, inner()).info()
    assert info.extra["guard"]["scorer"]["name"] == "simulated_guard"
    assert info.extra["guard"]["filter"] == "scorer" and info.model_id.startswith("guard[")


@pytest.mark.parametrize(
    ("params", "key"),
    [
        ({"mode": "redact"}, "model.mode"),
        ({"scorer": None}, "model.scorer"),
        ({"apply_to": "prompts"}, "apply_to"),
        ({"threshold": 0.0}, "threshold"),
        ({"filter": "regex"}, "model.filter"),
    ],
)
def test_bad_filter_settings_name_their_key(tmp_path: Path, params: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigError, match=key):
        guard(tmp_path, inner(), **params)
