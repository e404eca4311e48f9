"""The OpenAI wire format: request payloads and the checks that turn response bodies into results.

Everything here is pure (no I/O), so it is tested on hand-written bodies. Shape problems raise
:class:`~harness.adapters.http_retry.TransientError` with a message that says exactly what was
wrong (empty ``choices``, a choice without text, missing log-probabilities), because a server
under load can send a broken body once and a good one on retry.

Log-likelihoods use the legacy completions trick: send ``context + continuation`` with
``echo=true``, ``logprobs=1`` and ``max_tokens=1``; the server returns the log-probability of
every prompt token, each with its character offset. The continuation's log-probability is the
sum over tokens whose offset lies in ``[len(context), len(context + continuation))``; the one
generated token (offset ``>= len(prompt)``) is ignored. This is the convention of
lm-evaluation-harness's OpenAI-completions and llama.cpp models (Gao et al., 2023). A token that
straddles the boundary belongs to the context, so continuations should start with a space
(" she", not "she"), as in those harnesses.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from harness.adapters.http_retry import TransientError
from harness.types import ChatMessage, Prompt

GREEDY_TOLERANCE = 1e-6
"""Two log-probabilities closer than this count as a tie when deciding greedy tokens."""


def chat_messages(prompt: Prompt) -> list[dict[str, str]]:
    """The ``messages`` of a chat request; a text prompt becomes one user message."""
    if isinstance(prompt, str):
        return [{"role": "user", "content": prompt}]
    return [{"role": m.role, "content": m.content} for m in prompt]


def render_chat_as_text(messages: Sequence[ChatMessage]) -> str:
    """A plain-text rendering of chat turns for completion-only endpoints.

    ``Role: content`` per line, then ``Assistant:`` to cue the answer. It is a fallback for
    servers without a chat endpoint (and for log-likelihoods of chat prompts, which only the
    completions endpoint can return); the model's own chat template is not known here.
    """
    lines = [f"{m.role.capitalize()}: {m.content}" for m in messages]
    return "\n".join([*lines, "Assistant:"])


def prompt_as_text(prompt: Prompt) -> str:
    """The prompt as completions-endpoint text (chat prompts rendered, see above)."""
    return prompt if isinstance(prompt, str) else render_chat_as_text(prompt)


@dataclass(frozen=True)
class Sampling:
    """The decoding fields of one HTTP request (``seed`` None when seeds are not sent)."""

    max_tokens: int
    temperature: float
    top_p: float
    n: int
    stop: tuple[str, ...]
    seed: int | None


def generation_payload(
    model: str,
    prompt: Prompt,
    chat: bool,
    sampling: Sampling,
    *,
    stream: bool,
    max_tokens_field: str,
    extra_body: dict[str, Any],
) -> dict[str, Any]:
    """The JSON body of a ``/completions`` (text) or ``/chat/completions`` (chat) request."""
    payload: dict[str, Any] = {"model": model}
    if chat:
        payload["messages"] = chat_messages(prompt)
    else:
        payload["prompt"] = prompt_as_text(prompt)
    payload[max_tokens_field] = sampling.max_tokens
    payload["temperature"] = sampling.temperature
    payload["top_p"] = sampling.top_p
    payload["n"] = sampling.n
    if sampling.stop:
        payload["stop"] = list(sampling.stop)
    if sampling.seed is not None:
        payload["seed"] = sampling.seed
    if stream:
        payload["stream"] = True
    payload.update(extra_body)
    return payload


def echo_payload(model: str, text: str, extra_body: dict[str, Any]) -> dict[str, Any]:
    """The ``/completions`` body that returns the log-probability of every token of ``text``."""
    return {
        **extra_body,
        "model": model,
        "prompt": text,
        "max_tokens": 1,  # llama.cpp treats 0 as "no limit"; the one generated token is ignored
        "temperature": 0.0,
        "echo": True,
        "logprobs": 1,
    }


def _choices(body: dict[str, Any]) -> list[dict[str, Any]]:
    choices = body.get("choices")
    if choices is None:
        raise TransientError("invalid response: the body has no 'choices' field")
    if not isinstance(choices, list):
        raise TransientError(f"invalid response: 'choices' is a {type(choices).__name__}, not a list")
    if not choices:
        raise TransientError("empty 'choices' list in the response")
    if not all(isinstance(c, dict) for c in choices):
        raise TransientError("invalid response: an entry of 'choices' is not an object")
    return sorted(choices, key=lambda c: c.get("index", 0) if isinstance(c.get("index"), int) else 0)


def choice_text(choice: dict[str, Any], chat: bool) -> str:
    """The text of one choice: ``text`` (completions) or ``message.content`` (chat).

    A chat refusal (``content`` null, ``refusal`` set) is the refusal text: for responsible-AI
    scenarios a refusal is an answer, not a failure.
    """
    if chat:
        message = choice.get("message")
        if not isinstance(message, dict):
            raise TransientError(f"invalid response: choice {choice.get('index', 0)} has no 'message' object")
        content = message.get("content")
        if content is None:
            content = message.get("refusal")
    else:
        content = choice.get("text")
    if not isinstance(content, str):
        field = "message.content" if chat else "text"
        raise TransientError(f"invalid response: choice {choice.get('index', 0)} has no string '{field}'")
    return content


def choice_texts(body: dict[str, Any], chat: bool) -> list[str]:
    """The texts of every choice of a non-streamed response, in ``index`` order."""
    return [choice_text(c, chat) for c in _choices(body)]


class ChoiceStream:
    """Assembles streamed chunks (``choices[].text`` or ``choices[].delta.content``) per index."""

    def __init__(self, chat: bool) -> None:
        self.chat = chat
        self._parts: dict[int, list[str]] = {}

    def feed(self, event: dict[str, Any]) -> None:
        """Add one chunk's pieces of text."""
        for choice in event.get("choices") or []:
            if not isinstance(choice, dict):
                raise TransientError("invalid stream event: an entry of 'choices' is not an object")
            index = choice.get("index", 0)
            piece = (choice.get("delta") or {}).get("content") if self.chat else choice.get("text")
            parts = self._parts.setdefault(int(index), [])
            if isinstance(piece, str):
                parts.append(piece)

    def result(self) -> list[str]:
        """The assembled texts in index order; a stream without any choice is an error."""
        if not self._parts:
            raise TransientError("empty 'choices' list in the response: the stream carried no choice")
        return ["".join(self._parts[i]) for i in sorted(self._parts)]


def provenance(body: dict[str, Any]) -> dict[str, str]:
    """The server-reported ``model`` and ``system_fingerprint`` of a response, when present."""
    found = {}
    for key in ("model", "system_fingerprint"):
        if isinstance(body.get(key), str) and body[key]:
            found[key] = body[key]
    return found


def echo_shift(tokens: Any, prompt: str) -> int:
    """1 when the echoed tokens spell the prompt behind one extra leading space, else 0."""
    if not isinstance(tokens, list) or not all(isinstance(t, str) for t in tokens):
        return 0
    echoed = "".join(tokens)
    return 1 if not echoed.startswith(prompt) and echoed.startswith(" " + prompt) else 0


class LogprobsMissing(TransientError):
    """The body is well formed but lacks the echoed prompt log-probabilities that were asked for."""


@dataclass(frozen=True)
class ContinuationScore:
    """Summed log-probability, token count and greediness of one continuation."""

    logprob: float
    token_count: int
    greedy: bool


def continuation_score(body: dict[str, Any], context: str, continuation: str) -> ContinuationScore:
    """Score ``continuation`` after ``context`` from an echoed ``context + continuation`` prompt.

    Offsets are read in the server's coordinates: llama-cpp-python measures them in the
    detokenized text, which starts with SentencePiece's dummy-prefix space, so when the echoed
    tokens spell ``" " + prompt`` every offset is one character late and the boundaries move with
    them (:func:`echo_shift`). A token is greedy when its log-probability is (within
    :data:`GREEDY_TOLERANCE`) the largest of the returned alternatives; values are compared
    rather than token strings, because two different tokens can print the same.
    """
    logprobs = _choices(body)[0].get("logprobs")
    if not isinstance(logprobs, dict):
        raise LogprobsMissing("invalid response: no 'logprobs' object (the server ignored echo/logprobs)")
    offsets = logprobs.get("text_offset")
    values = logprobs.get("token_logprobs")
    tops = logprobs.get("top_logprobs")
    if not isinstance(offsets, list) or not isinstance(values, list) or len(offsets) != len(values):
        raise LogprobsMissing(
            "invalid response: 'logprobs' lacks matching 'text_offset' and 'token_logprobs' lists"
        )
    start = len(context) + echo_shift(logprobs.get("tokens"), context + continuation)
    end = start + len(continuation)
    total, count, greedy = 0.0, 0, True
    for position, (offset, value) in enumerate(zip(offsets, values, strict=True)):
        if not isinstance(offset, int) or offset < start or offset >= end:
            continue
        if not isinstance(value, int | float) or math.isnan(value):
            raise LogprobsMissing(
                f"invalid response: token {position} of the continuation has no log-probability "
                "(is the context empty? the first token of a prompt has none)"
            )
        total += float(value)
        count += 1
        top = tops[position] if isinstance(tops, list) and position < len(tops) else None
        if isinstance(top, dict) and top:
            greedy = greedy and float(value) >= max(float(v) for v in top.values()) - GREEDY_TOLERANCE
        else:
            greedy = False
    if count == 0:
        raise LogprobsMissing(
            "invalid response: no echoed token starts inside the continuation (the server did not echo "
            "the prompt, or the continuation merged into the context's last token: start it with a space)"
        )
    return ContinuationScore(total, count, greedy)
