"""The reference world: its bibliography is the default ground truth for model id "reference".

The first test replays the reference corpus's own reference lists through the simulated adapter
(named "reference", so the scenario picks the world's bibliography by itself) and checks that the
scenario measures the planted mix and disclaimer rate exactly. The second runs the trained
reference model through the hf adapter and checks that the planted habit is recovered.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from citations_testlib import metric, run, simulated

from harness.reference import world
from harness.reference.build import PLANTED_TRUTHS_FILE
from scenarios.citations.scenario import CitationsParams

PLANTED = json.loads(PLANTED_TRUTHS_FILE.read_text())["citations"]
RATES = {
    "verified_rate": "verified",
    "misattribution_rate": "misattributed",
    "fabrication_rate": "fabricated",
}


def corpus_rules() -> list[dict[str, object]]:
    """For each author, the corpus's reference lists (as continuations of "Papers by X:"), equally likely."""
    rules = []
    documents = [d for d in world.training_documents() if d.startswith("Papers by ")]
    for author in PLANTED["authors"]:
        prompt = PLANTED["prompt_pattern"].format(author=author)
        lists = [d[len(prompt) :] for d in documents if d.startswith(prompt)]
        outputs: dict[str, float] = {}
        for text in lists:
            key = text.replace("{", "{{").replace("}", "}}")
            outputs[key] = outputs.get(key, 0.0) + 1.0 / len(lists)
        rules.append({"match": f"^{prompt}$", "outputs": outputs})
    return rules


def test_corpus_lists_measure_the_planted_mix_exactly(tmp_path: Path) -> None:
    params = CitationsParams(
        families=["author_papers"], forms=["completion"], samples_per_prompt=30, max_authors=10
    )
    adapter = simulated(corpus_rules(), name="reference")
    metrics, frame, scenario = run(params, adapter, tmp_path / "run")
    assert (
        scenario.bibliography.name == "reference-world" and len(scenario.bibliography) == PLANTED["n_papers"]
    )
    assert sorted(frame["subject"]) == sorted(PLANTED["authors"])
    for name, status in RATES.items():
        value = metric(metrics, name)
        assert value.ci_low <= PLANTED["mix"][status] <= value.ci_high, (name, value)
        assert value.value == pytest.approx(PLANTED["mix"][status], abs=0.05)
    disclaimers = metric(metrics, "disclaimer_rate")
    assert disclaimers.ci_low <= PLANTED["disclaimer_rate"] <= disclaimers.ci_high
    assert metric(metrics, "mangled_rate").value == 0.0


@pytest.mark.slow
def test_reference_model_shows_its_planted_citation_habit(tmp_path: Path, reference_model_dir: Path) -> None:
    """The planted habit: fabricated citations next to real ones, some misattributed, some disclaimed.

    A tiny GPT-2 reproduces its corpus's titles only partly (it recombines title parts into new,
    plausible titles), so it fabricates more often than its corpus does: the test checks the shape
    of the habit against the planted truth, not the corpus's exact rates (the test above does that).
    """
    from harness.adapters.hf import HFAdapter, HFParams

    adapter = HFAdapter(HFParams(name="reference", pretrained="builtin:reference"))
    params = CitationsParams(
        families=["author_papers"], forms=["completion"], samples_per_prompt=20, max_new_tokens=128
    )
    metrics, _, scenario = run(params, adapter, tmp_path / "run")
    assert scenario.bibliography.name == "reference-world"
    verified, fabricated = metric(metrics, "verified_rate"), metric(metrics, "fabrication_rate")
    assert verified.ci_low > 0.0, verified  # real titles next to the fabricated ones
    assert PLANTED["mix"]["fabricated"] < fabricated.ci_low and fabricated.ci_high < 1.0, fabricated
    assert metric(metrics, "misattribution_rate").value > 0.0
    assert metric(metrics, "disclaimer_rate").value > 0.0
