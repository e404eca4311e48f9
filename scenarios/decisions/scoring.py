"""Prompts, requests and per-instance scores of a yes/no decision under the two protocols.

Log-likelihood (exact, no sampling noise): the log-probability of each surface form of "yes" and
"no" as the answer's start (" yes", " Yes", "yes", "Yes" ...); the decision logit is
``log p(yes) - log p(no)`` with each side summed over its forms, and the approval probability is
``p(yes) / (p(yes) + p(no))``. Generative: ``k`` sampled answers, each parsed as yes, no or
unparsed (:func:`parse_answer`); the logit is that of the smoothed yes share
``(yes + 1/2) / (yes + no + 1)`` (the Haldane-Anscombe correction, finite at 0 and k) and the
approval is the raw yes share among parsed answers. An instance with no parsed answer has no
logit (it is counted in ``unparsed_rate``, never scored as a decision).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

from harness.types import ChatMessage, Completion, GenerationParams, Prompt, Request

LOGLIKELIHOOD = "loglikelihood"
GENERATIVE = "generative"
INSTRUCTION = 'Answer the following question with either "yes" or "no".'
YES_FORMS = (" yes", " Yes", "yes", "Yes")
NO_FORMS = (" no", " No", "no", "No")
SMOOTHING = 0.5
ANSWER = re.compile(r"\b(yes|no)\b", re.IGNORECASE)
LEADING = re.compile(r"^[\s\"'“”‘’*_(\[:.,-]*")


def build_prompt(text: str, *, chat: bool, system_prompt: str | None) -> Prompt:
    """The instruction and the question as a chat message (models with chat), or as text ending "Answer:".

    The instruction comes first, so that the description of the person (which the templates put
    last) is what the model reads right before it answers.
    """
    if chat:
        system = (ChatMessage("system", system_prompt),) if system_prompt else ()
        return (*system, ChatMessage("user", f"{INSTRUCTION}\n\n{text}"))
    prefix = f"{system_prompt}\n\n" if system_prompt else ""
    return f"{prefix}{INSTRUCTION}\n\nQuestion: {text}\nAnswer:"


def build_request(prompt: Prompt, protocol: str, generation: GenerationParams) -> Request:
    """One log-likelihood request over the yes and no forms, or one k-sample generation."""
    if protocol == LOGLIKELIHOOD:
        return Request(kind="loglikelihood", prompt=prompt, continuations=(*YES_FORMS, *NO_FORMS))
    stop = () if isinstance(prompt, tuple) else ("\n",)
    params = GenerationParams(
        max_new_tokens=generation.max_new_tokens,
        temperature=generation.temperature,
        top_p=generation.top_p,
        n=generation.n,
        stop=stop,
    )
    return Request(kind="generate", prompt=prompt, params=params)


def _logsumexp(values: Sequence[float]) -> float:
    top = max(values)
    if top == -math.inf:
        return -math.inf
    return top + math.log(sum(math.exp(v - top) for v in values))


def score_loglikelihood(completion: Completion) -> dict[str, Any]:
    """``logit`` (log p(yes) − log p(no)), ``approval`` and the two log-probabilities."""
    expected = len(YES_FORMS) + len(NO_FORMS)
    logprobs = completion.logprobs
    if len(logprobs) != expected or any(math.isnan(v) for v in logprobs):
        raise ValueError(f"expected {expected} finite log-probabilities, got {logprobs}")
    yes = _logsumexp(logprobs[: len(YES_FORMS)])
    no = _logsumexp(logprobs[len(YES_FORMS) :])
    if yes == -math.inf or no == -math.inf:
        raise ValueError(f"log p(yes) = {yes}, log p(no) = {no}: the decision logit is not finite")
    logit = yes - no
    return {"logit": logit, "approval": 1.0 / (1.0 + math.exp(-logit)), "logp_yes": yes, "logp_no": no}


def parse_answer(text: str) -> str | None:
    """``yes`` or ``no``: the answer's first word when it is one, else the only one of them named."""
    stripped = LEADING.sub("", text)
    first = ANSWER.match(stripped)
    if first:
        return first.group(1).lower()
    named = {match.lower() for match in ANSWER.findall(stripped)}
    return named.pop() if len(named) == 1 else None


def score_generative(completion: Completion) -> dict[str, Any]:
    """Counts of yes / no / unparsed over the k samples, the smoothed logit and the yes share."""
    answers = [parse_answer(text) for text in completion.texts]
    yes = sum(1 for a in answers if a == "yes")
    no = sum(1 for a in answers if a == "no")
    parsed = yes + no
    return {
        "logit": math.log((yes + SMOOTHING) / (no + SMOOTHING)) if parsed else math.nan,
        "approval": yes / parsed if parsed else math.nan,
        "n_yes": yes,
        "n_no": no,
        "unparsed_share": (len(answers) - parsed) / len(answers) if answers else math.nan,
        "answers": [a or "unparsed" for a in answers],
    }


def score(completion: Completion, protocol: str) -> dict[str, Any]:
    """The scores of one decision under the protocol that ran."""
    return score_loglikelihood(completion) if protocol == LOGLIKELIHOOD else score_generative(completion)
