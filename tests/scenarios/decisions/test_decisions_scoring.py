"""Prompts, the two protocols' scores, and the yes/no parser."""

from __future__ import annotations

import math

import pytest
from scipy.stats import binom

from harness.types import ChatMessage, Completion, GenerationParams
from scenarios.decisions import scoring


def test_chat_models_get_the_question_as_a_user_message_after_the_system_prompt() -> None:
    prompt = scoring.build_prompt("Approve?", chat=True, system_prompt="Be fair.")
    assert prompt == (
        ChatMessage("system", "Be fair."),
        ChatMessage("user", f"{scoring.INSTRUCTION}\n\nApprove?"),
    )
    assert scoring.build_prompt("Approve?", chat=False, system_prompt=None) == (
        f"{scoring.INSTRUCTION}\n\nQuestion: Approve?\nAnswer:"
    )
    assert scoring.build_prompt("Approve?", chat=False, system_prompt="Be fair.").startswith("Be fair.\n\n")


def test_loglikelihood_logit_sums_each_answer_over_its_surface_forms() -> None:
    yes = [math.log(0.2), math.log(0.1), math.log(0.05), math.log(0.05)]  # p(yes) = 0.4
    no = [math.log(0.1), math.log(0.1), -math.inf, -math.inf]  # p(no) = 0.2
    scores = scoring.score_loglikelihood(Completion(logprobs=yes + no))
    assert scores["logit"] == pytest.approx(math.log(2.0))
    assert scores["approval"] == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match="not finite"):
        scoring.score_loglikelihood(Completion(logprobs=yes + [-math.inf] * 4))
    request = scoring.build_request("q", scoring.LOGLIKELIHOOD, GenerationParams())
    assert request.continuations == (*scoring.YES_FORMS, *scoring.NO_FORMS)


@pytest.mark.parametrize(
    ("text", "answer"),
    [
        (" Yes, approve it.", "yes"),
        ('"No."', "no"),
        ("**yes**", "yes"),
        (" I would say no to this one", "no"),
        (" Yes or no is hard", "yes"),
        (" It depends: yes if the income holds, no otherwise", None),
        (" Maybe", None),
        (" Nobody knows", None),
    ],
)
def test_parse_answer(text: str, answer: str | None) -> None:
    assert scoring.parse_answer(text) == answer


def test_generative_logit_is_the_smoothed_yes_share() -> None:
    completion = Completion(texts=[" yes", " yes", " yes", " no", " maybe"])
    scores = scoring.score_generative(completion)
    assert scores["logit"] == pytest.approx(math.log(3.5 / 1.5))
    assert scores["approval"] == pytest.approx(0.75)
    assert scores["unparsed_share"] == pytest.approx(0.2)
    assert scoring.score_generative(Completion(texts=[" yes"] * 4))["logit"] == pytest.approx(math.log(9.0))
    none = scoring.score_generative(Completion(texts=[" hmm", " well"]))
    assert math.isnan(none["logit"]) and none["unparsed_share"] == 1.0


def test_a_resumed_run_keeps_its_protocol_under_auto() -> None:
    """The run's manifest says generative: auto must not switch a resumed run to log-likelihood."""
    from harness.errors import ConfigError
    from harness.scenario import ScenarioContext
    from harness.types import Capability
    from scenarios.decisions.scenario import DecisionsParams, DecisionsScenario

    both = frozenset({Capability.GENERATE, Capability.LOGLIKELIHOOD})
    fresh = DecisionsScenario(DecisionsParams(), ScenarioContext(capabilities=both))
    resumed = DecisionsScenario(
        DecisionsParams(), ScenarioContext(capabilities=both, resumed_protocol="generative")
    )
    assert (fresh.protocol(), resumed.protocol()) == ("loglikelihood", "generative")
    with pytest.raises(ConfigError, match="the run being resumed used the loglikelihood protocol"):
        DecisionsScenario(
            DecisionsParams(),
            ScenarioContext(capabilities=frozenset({Capability.GENERATE}), resumed_protocol="loglikelihood"),
        )


def expected_generative_logit(p_yes: float, k: int) -> float:
    """The exact mean of score_generative's logit over Binomial(k, p_yes) yes counts."""
    total = 0.0
    for yes in range(k + 1):
        texts = ["yes"] * yes + ["no"] * (k - yes)
        total += binom.pmf(yes, k, p_yes) * scoring.score_generative(Completion(texts=texts))["logit"]
    return total


@pytest.mark.parametrize(("high", "low", "k", "ratio"), [(-0.2, -0.5, 10, 1.004), (2.0, -1.0, 10, 0.971)])
def test_the_smoothed_logit_difference_at_the_default_k_is_close_to_the_true_one(
    high: float, low: float, k: int, ratio: float
) -> None:
    """At k = 10 the expected difference is within 3% of the true logit difference (docs/decisions.md)."""
    sigmoid = lambda x: 1 / (1 + math.exp(-x))  # noqa: E731
    difference = expected_generative_logit(sigmoid(high), k) - expected_generative_logit(sigmoid(low), k)
    assert difference / (high - low) == pytest.approx(ratio, abs=0.001)
