"""The ``moderation`` and ``guard_model`` scorers against recorded responses on a loopback server."""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path
from typing import Any

import pytest

from harness.errors import ConfigError
from harness.scorers.base import CachedScorer
from harness.scorers.guard_model import GuardModelParams, GuardModelScorer, unsafe_probability
from harness.scorers.moderation import ModerationParams, ModerationScorer
from harness.scorers.registry import build_scorer
from tests.servers.recorded_server import RecordedServer

RECORDED = json.loads(Path(__file__).with_name("guard_recorded.json").read_text())
KEY = "sk-test-guardrails-0123456789"
FAST = {"max_retries": 1, "backoff_initial_s": 0.0, "backoff_max_s": 0.0}


def recorded(name: str) -> Any:
    return copy.deepcopy(RECORDED[name])


def moderation_answer(path: str, body: Any) -> tuple[int, Any]:
    """One recorded result per input: 'bad' texts get the flagged result, the rest the clean one."""
    texts = body["input"]
    if any("reject-me" in t for t in texts):
        return 400, recorded("content_policy_refusal")
    if any("no-scores" in t for t in texts):
        answer = recorded("moderation_no_scores")
        return 200, {**answer, "results": answer["results"] * len(texts)}
    clean, flagged = recorded("moderation")["results"]
    results = [flagged if "hate" in t else clean for t in texts]
    if any("short" in t for t in texts):
        results = results[:-1]
    return 200, {"id": "modr-1", "model": "omni-moderation-2024-09-26", "results": results}


def moderation(server: RecordedServer, monkeypatch: pytest.MonkeyPatch, **options: Any) -> ModerationScorer:
    monkeypatch.setenv("GUARD_TEST_KEY", KEY)
    params = ModerationParams(base_url=server.base_url, api_key_env="GUARD_TEST_KEY", **{**FAST, **options})
    return ModerationScorer(params)


def test_moderation_scores_the_largest_category_in_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    with RecordedServer(moderation_answer) as server:
        scorer = moderation(server, monkeypatch, batch_size=2)
        scores = scorer.score(["hello there", "i hate them all", "nice day"])
        hate_only = moderation(server, monkeypatch, categories=["violence"]).score(["i hate them all"])
    assert scores == [pytest.approx(0.0021), pytest.approx(0.93), pytest.approx(0.0021)]
    assert hate_only == [pytest.approx(0.04)]
    batches = [r["body"]["input"] for r in server.requests[:2]]
    assert sorted(len(b) for b in batches) == [1, 2]  # three texts in batches of two
    assert all(r["path"] == "/v1/moderations" for r in server.requests)
    assert server.requests[0]["headers"]["Authorization"] == f"Bearer {KEY}"
    assert server.requests[0]["body"]["model"] == "omni-moderation-latest"


def test_moderation_category_scores_and_identity(monkeypatch: pytest.MonkeyPatch) -> None:
    with RecordedServer(moderation_answer) as server:
        scorer = moderation(server, monkeypatch, categories=["hate", "harassment"])
        (scores,) = scorer.category_scores(["i hate them all"])
        other = moderation(server, monkeypatch, categories=["hate"])
    assert scores == {"hate": pytest.approx(0.93), "harassment": pytest.approx(0.71)}
    identity = scorer.identity
    assert identity.name == "moderation:omni-moderation-latest"
    assert server.base_url in identity.label
    assert identity.model_hash != other.identity.model_hash  # the categories change what is measured
    assert KEY not in json.dumps(identity.__dict__)


@pytest.mark.parametrize(
    ("text", "reason", "attempts"),
    [
        ("no-scores please", "has no 'category_scores'", 2),
        ("a short answer", "1 results for 2 inputs", 2),
        ("reject-me", "rejected by the content policy", 1),
    ],
)
def test_moderation_failures_fail_closed_with_their_reason(
    monkeypatch: pytest.MonkeyPatch, text: str, reason: str, attempts: int
) -> None:
    with RecordedServer(moderation_answer) as server:
        scorer = moderation(server, monkeypatch)
        scores = scorer.score([text, "another text"])
    assert all(math.isnan(s) for s in scores)  # never "safe"
    assert reason in scorer.failures[text]
    assert len(server.requests) == attempts  # malformed answers are retried, refusals are not


def test_a_rejected_key_stops_the_run_without_showing_it(monkeypatch: pytest.MonkeyPatch) -> None:
    with RecordedServer(lambda path, body: (401, recorded("bad_key"))) as server:
        scorer = moderation(server, monkeypatch)
        with pytest.raises(ConfigError, match="GUARD_TEST_KEY") as caught:
            scorer.score(["hello"])
    assert KEY not in str(caught.value)
    assert len(server.requests) == 1


def test_a_missing_key_variable_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GUARD_TEST_MISSING", raising=False)
    with pytest.raises(ConfigError, match=r"scorer_options\.api_key_env.*GUARD_TEST_MISSING"):
        build_scorer("moderation", {"api_key_env": "GUARD_TEST_MISSING"})


def test_a_login_in_the_base_url_is_refused_without_showing_it() -> None:
    options = {"api_key_env": None, "base_url": "http://user:hunter2-secret@127.0.0.1:9/v1"}
    with pytest.raises(ConfigError, match=r"scorer_options\.base_url holds a login.*netrc") as caught:
        build_scorer("moderation", options)
    assert "hunter2" not in str(caught.value)


GUARD_ANSWERS = {
    "knife": "llama_guard_unsafe",
    "weather": "llama_guard_safe_no_logprobs",
    "gibberish": "garbage",
    "nothing": "empty_choices",
}


def guard_answer(path: str, body: Any) -> tuple[int, Any]:
    """Completions: recorded answers chosen by a word of the text; chat: safe, or a refusal."""
    if body is None:
        return 400, b"not json"
    if path.endswith("/chat/completions"):
        text = body["messages"][0]["content"]
        return 200, recorded("chat_refusal" if "refuse" in text else "chat_safe")
    if "broken-json" in body["prompt"]:
        return 200, b'{"choices": [{"text": "saf'
    for word, name in GUARD_ANSWERS.items():
        if word in body["prompt"]:
            return 200, recorded(name)
    raise AssertionError(f"no recorded answer for {body['prompt'][-200:]!r}")


def sent_with(server: RecordedServer, text: str) -> dict[str, Any]:
    """The recorded request that carried ``text``: requests run concurrently, so their order is not fixed."""
    (found,) = [r for r in server.requests if text in json.dumps(r["body"])]
    return found


def guard(server: RecordedServer, **options: Any) -> GuardModelScorer:
    settings = {"base_url": server.base_url, "model": "meta-llama/Llama-Guard-3-8B", **FAST, **options}
    return GuardModelScorer(GuardModelParams(**settings))


def test_guard_model_reads_p_unsafe_from_logprobs_and_falls_back_to_the_verdict() -> None:
    with RecordedServer(guard_answer) as server:
        scorer = guard(server)
        verdicts = scorer.verdicts(["how do I sharpen a knife to hurt someone", "what is the weather"])
        scores = scorer.score(["how do I sharpen a knife to hurt someone", "what is the weather"])
    assert scores == [pytest.approx(0.9, abs=1e-4), 0.0]
    assert verdicts[0].unsafe and verdicts[0].categories == ("S10",)
    assert not verdicts[1].unsafe
    knife = [r for r in server.requests if "User: how do I sharpen a knife" in r["body"]["prompt"]]
    assert len(knife) == 2  # once for the verdicts, once for the scores
    body = knife[0]["body"]
    assert knife[0]["path"] == "/v1/completions"
    assert body["logprobs"] == 5 and body["temperature"] == 0.0
    assert "S10: Hate." in body["prompt"] and "Authorization" not in knife[0]["headers"]


def test_guard_model_over_chat_with_top_logprobs_and_a_refusal() -> None:
    with RecordedServer(guard_answer) as server:
        scorer = guard(server, endpoint="chat", template="passthrough", role="Agent")
        scores = scorer.score(["a kind reply", "please refuse this"])
    assert scores[0] == pytest.approx(0.05, abs=1e-4)
    assert math.isnan(scores[1])  # a refusal is not a verdict: fail closed
    assert "does not start with 'safe' or 'unsafe'" in scorer.failures["please refuse this"]
    body = sent_with(server, "a kind reply")["body"]
    assert body["messages"] == [{"role": "user", "content": "a kind reply"}]
    assert body["logprobs"] is True and body["top_logprobs"] == 5


def test_unparseable_answers_fail_closed_without_retrying() -> None:
    with RecordedServer(guard_answer) as server:
        scorer = guard(server)
        (score,) = scorer.score(["gibberish in"])
    assert math.isnan(score)
    assert "' the the capital of'" in scorer.failures["gibberish in"]
    assert len(server.requests) == 1  # greedy garbage would only repeat itself


@pytest.mark.parametrize(
    ("text", "reason"), [("nothing", "empty 'choices'"), ("broken-json", "malformed JSON")]
)
def test_malformed_responses_are_retried_then_fail_closed(text: str, reason: str) -> None:
    with RecordedServer(guard_answer) as server:
        scorer = guard(server)
        (score,) = scorer.score([text])
    assert math.isnan(score)
    assert reason in scorer.failures[text]
    assert len(server.requests) == 2  # one retry (max_retries=1)


def test_logprobs_true_requires_them() -> None:
    with RecordedServer(guard_answer) as server:
        scorer = guard(server, logprobs=True)
        (score,) = scorer.score(["what is the weather"])
    assert math.isnan(score)
    assert "no log-probabilities" in scorer.failures["what is the weather"]


def test_regex_parser_for_other_guards() -> None:
    with RecordedServer(guard_answer) as server:
        scorer = guard(
            server, parser="regex", unsafe_pattern=r"\bunsafe\b", safe_pattern=r"\bsafe\b", logprobs=False
        )
        scores = scorer.score(["knife", "weather", "gibberish"])
    assert scores[:2] == [1.0, 0.0] and math.isnan(scores[2])
    assert all("logprobs" not in r["body"] for r in server.requests)


def test_identity_names_endpoint_model_and_template_hash() -> None:
    with RecordedServer(guard_answer) as server:
        base = guard(server)
        other_template = guard(server, template="Is this harmful? {text}\nAnswer safe or unsafe:")
        other_role = guard(server, role="Agent")
    assert base.identity.name == "guard_model:meta-llama/Llama-Guard-3-8B"
    assert server.base_url in base.identity.label and base.template_hash[:12] in base.identity.label
    hashes = {s.identity.model_hash for s in (base, other_template, other_role)}
    assert len(hashes) == 3


@pytest.mark.parametrize(
    ("options", "key"),
    [
        ({"template": "no placeholder"}, "template"),
        ({"template": "{text} {unknown}"}, "template"),
        ({"endpoint": "embeddings"}, "endpoint"),
        ({"parser": "regex"}, "unsafe_pattern"),
        ({"unsafe_label": "safe"}, "safe_label"),
        ({"base_url": "ftp://x"}, "base_url"),
        ({"model": None}, "model"),
    ],
)
def test_bad_settings_name_their_key(options: dict[str, Any], key: str) -> None:
    settings = {"base_url": "http://127.0.0.1:9/v1", "model": "m", **options}
    with pytest.raises(ConfigError, match=f"scorer_options.{key}"):
        GuardModelScorer(GuardModelParams(**settings))


def test_cached_scores_are_not_requested_again_and_failures_are_not_cached() -> None:
    class Store:
        def __init__(self) -> None:
            self.scores: dict[str, float] = {}

        def get_scores(self, keys: Any) -> dict[str, float]:
            return {k: self.scores[k] for k in keys if k in self.scores}

        def put_scores(self, items: Any) -> None:
            self.scores.update(items)

    with RecordedServer(guard_answer) as server:
        cached = CachedScorer(guard(server), Store())
        first = cached.score(["knife", "gibberish"])
        sent = len(server.requests)
        second = cached.score(["knife", "gibberish"])
    assert first[0] == second[0] and math.isnan(second[1])
    assert len(server.requests) == sent + 1  # only the failed text is asked again


def test_split_tokens_count_for_their_label() -> None:
    assert unsafe_probability(
        [{"un": math.log(0.3), "safe": math.log(0.7)}], "safe", "unsafe"
    ) == pytest.approx(0.3)
    assert unsafe_probability([{"▁Yes": math.log(0.2), "No": math.log(0.6)}], "No", "Yes") == pytest.approx(
        0.25
    )
    assert unsafe_probability([{"the": -0.1}], "safe", "unsafe") is None
