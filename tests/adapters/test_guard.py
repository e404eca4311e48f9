"""The guard adapter: n-gram index, redaction and blocking, and extraction falling to zero."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest

from harness.adapters.guard import GuardAdapter, GuardParams, NgramIndex, build_inner_adapter
from harness.adapters.simulated import SimulatedAdapter, SimulatedParams
from harness.errors import ConfigError, DataError
from harness.runner import Runner, RunSettings
from harness.scenario import ScenarioContext
from harness.types import Capability, GenerationParams, Request
from scenarios.regurgitation.scenario import RegurgitationParams, RegurgitationScenario

PROTECTED = (
    "It was the best of times, it was the worst of times, it was the age of wisdom, "
    "it was the age of foolishness, it was the epoch of belief."
)


def echo(output: str, **params: Any) -> SimulatedAdapter:
    """A simulated model that answers every prompt with ``output``."""
    return SimulatedAdapter(SimulatedParams(rules=[{"match": ".", "outputs": {output: 1.0}}], **params))


def guard_for(inner: SimulatedAdapter, tmp_path: Path, **params: Any) -> GuardAdapter:
    corpus = tmp_path / "protected.jsonl"
    corpus.write_text(json.dumps({"text": PROTECTED}) + "\n", encoding="utf-8")
    return GuardAdapter(GuardParams(corpus=str(corpus), ngram=params.pop("ngram", 6), **params), inner=inner)


def generate(adapter: GuardAdapter, prompt: str = "Tell me a story.") -> str:
    request = Request(kind="generate", prompt=prompt, params=GenerationParams(max_new_tokens=50))
    return adapter.generate([request], seed=0)[0].texts[0]


def test_index_marks_tokens_inside_protected_ngrams() -> None:
    index = NgramIndex(["a b c d e f"], n=3)
    assert index.covered(["x", "a", "b", "c", "y"]) == [False, True, True, True, False]
    assert index.covered(["a", "b", "x", "c", "d", "e"]) == [False, False, False, True, True, True]
    assert index.covered(["a", "b"]) == [False, False]
    assert index.covered(["A", "B", "C"]) == [True, True, True]  # case-folded


def test_redact_replaces_only_the_copied_span(tmp_path: Path) -> None:
    output = "Sure. it was the best of times, it was the worst of times, and then we left."
    guard = guard_for(echo(output), tmp_path)
    assert generate(guard) == "Sure. [REDACTED] and then we left."  # the comma is part of the protected text
    assert guard.outputs_altered == 1
    assert guard.info().extra["guard_stats"] == {
        "outputs_checked": 1,
        "outputs_altered": 1,
        "tokens_covered": 14,
    }


def test_upper_case_does_not_evade_the_guard(tmp_path: Path) -> None:
    guard = guard_for(echo("IT WAS THE AGE OF WISDOM, IT WAS THE AGE"), tmp_path)
    assert generate(guard) == "[REDACTED]"


def test_block_mode_withholds_the_whole_output(tmp_path: Path) -> None:
    guard = guard_for(echo("Well: it was the age of foolishness, truly"), tmp_path, mode="block")
    assert generate(guard) == guard.block_message


def test_unrelated_output_passes_unchanged(tmp_path: Path) -> None:
    output = "It was a sunny day and the times were good for a walk."
    guard = guard_for(echo(output), tmp_path)
    assert generate(guard) == output
    assert guard.outputs_altered == 0


def test_prompt_tail_catches_a_continuation_that_completes_a_protected_ngram(tmp_path: Path) -> None:
    prompt = "Recite: It was the best of times, it was"
    guard = guard_for(echo(" the worst of"), tmp_path)
    assert generate(guard, prompt) == " [REDACTED]"
    unchecked = guard_for(echo(" the worst of"), tmp_path, check_prompt_tail=False)
    assert generate(unchecked, prompt) == " the worst of"


def test_failures_pass_through_and_loglikelihood_is_not_offered(tmp_path: Path) -> None:
    guard = guard_for(echo("x", error_rate=1.0), tmp_path)
    completion = guard.generate([Request(kind="generate", prompt="p")], seed=0)[0]
    assert completion.error is not None
    assert Capability.LOGLIKELIHOOD in guard.inner.capabilities()
    assert Capability.LOGLIKELIHOOD not in guard.capabilities()


def test_identity_depends_on_inner_model_and_protected_corpus(tmp_path: Path) -> None:
    inner = echo("x")
    first = guard_for(inner, tmp_path)
    assert first.info().identity() != inner.info().identity()
    assert first.info().identity() == guard_for(inner, tmp_path).info().identity()
    assert first.info().identity() != guard_for(inner, tmp_path, ngram=8).info().identity()
    assert first.info().extra["inner"]["model_id"] == inner.info().model_id


def test_inner_adapter_from_a_mapping_and_corpus_from_a_callable() -> None:
    inner = build_inner_adapter({"adapter": "simulated", "rules": [{"match": ".", "outputs": {"hi": 1.0}}]})
    assert isinstance(inner, SimulatedAdapter)
    guard = GuardAdapter(
        GuardParams(inner={"adapter": "simulated"}, corpus="scenarios.regurgitation.probes:builtin_probes")
    )
    assert guard.index.documents > 10
    zen = "Beautiful is better than ugly. Explicit is better than implicit. Simple is better than complex."
    assert "[REDACTED]" in guard.check("", zen).text


@pytest.mark.parametrize(
    ("params", "error", "message"),
    [
        ({"inner": {"rules": []}, "corpus": "reference"}, ConfigError, "mapping with an 'adapter' key"),
        ({"inner": "no_such_model", "corpus": "reference"}, ConfigError, "unknown model 'no_such_model'"),
        ({"inner": {"adapter": "simulated"}}, ConfigError, "needs a protected corpus"),
        (
            {"inner": {"adapter": "simulated"}, "corpus": "reference", "mode": "hide"},
            ConfigError,
            "model.mode",
        ),
        (
            {"inner": {"adapter": "simulated"}, "corpus": "/nonexistent/protected.jsonl"},
            DataError,
            "protected corpus",
        ),
    ],
)
def test_configuration_errors_name_the_key(
    params: dict[str, Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        GuardAdapter(GuardParams(**params))


def test_missing_text_field_names_the_fields(tmp_path: Path) -> None:
    corpus = tmp_path / "protected.jsonl"
    corpus.write_text(json.dumps({"body": PROTECTED}) + "\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"no field 'text'; the fields are \['body'\]"):
        GuardAdapter(GuardParams(corpus=str(corpus)), inner=echo("x"))


def test_guard_drives_extraction_to_zero_and_reports_its_cost(tmp_path: Path) -> None:
    rng = random.Random(3)
    words = [f"word{i}" for i in range(12)]
    documents = [{"id": f"d{i}", "text": " ".join(rng.choice(words) for _ in range(150))} for i in range(20)]
    corpus = tmp_path / "docs.jsonl"
    corpus.write_text("".join(json.dumps(d) + "\n" for d in documents), encoding="utf-8")
    reciter = SimulatedAdapter(
        SimulatedParams(rules=[{"match": ".", "recite": {"documents_file": str(corpus), "rate": 1.0}}])
    )
    results = {}
    for label, adapter in (
        ("off", reciter),
        ("on", GuardAdapter(GuardParams(corpus=str(corpus)), inner=reciter)),
    ):
        context = ScenarioContext(
            capabilities=adapter.capabilities(), model_info=adapter.info(), bootstrap_resamples=200
        )
        scenario = RegurgitationScenario(
            RegurgitationParams(
                source="dataset", dataset=str(corpus), id_field="id", prefix_lengths=[25, 50]
            ),
            context,
        )
        runner = Runner(scenario, adapter, tmp_path / label, RunSettings(progress=False))
        runner.execute()
        metrics, _, _ = runner.aggregate()
        results[label] = {m.name: m.value for m in metrics if m.group is None}
    assert results["off"]["extraction_rate"] == 1.0
    assert "guard_altered_rate" not in results["off"]
    assert results["on"]["extraction_rate"] == 0.0
    assert results["on"]["approx_memorization_rate"] == 0.0
    assert results["on"]["guard_altered_rate"] == 1.0


def test_example_config_validates_against_the_parameters() -> None:
    from omegaconf import OmegaConf

    from harness.config import validate_section

    config = OmegaConf.to_container(
        OmegaConf.load(Path(__file__).parents[2] / "conf/model/guard_example.yaml")
    )
    assert config.pop("adapter") == "guard"
    params = validate_section(config, GuardParams, "model")
    assert (params.inner, params.corpus, params.mode) == ("reference", "reference", "redact")
