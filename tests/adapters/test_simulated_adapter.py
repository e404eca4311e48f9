"""The simulated adapter reproduces its declared table within sampling error."""

from __future__ import annotations

import math

import pytest
from scipy import stats as sps

from harness.adapters.simulated import SimulatedAdapter, SimulatedParams
from harness.errors import ConfigError
from harness.types import GenerationParams, Request

TABLE = [
    {"match": r"nurse", "outputs": {" she": 0.7, " he": 0.2, " they": 0.1}},
    {"match": r"Echo (\w+)", "outputs": {" {1}!": 1.0}},
]


def test_sampled_frequencies_match_the_declared_table() -> None:
    adapter = SimulatedAdapter(SimulatedParams(rules=TABLE))
    requests = [
        Request("generate", f"The nurse {i} said", GenerationParams(temperature=1.0, n=10))
        for i in range(300)
    ]
    texts = [t for c in adapter.generate(requests, seed=1) for t in c.texts]
    observed = [texts.count(" she"), texts.count(" he"), texts.count(" they")]
    assert sum(observed) == 3000
    chi2 = sps.chisquare(observed, [2100, 600, 300])
    assert chi2.pvalue > 0.001, (observed, chi2)


def test_sampling_is_seeded_and_independent_of_batching() -> None:
    adapter = SimulatedAdapter(SimulatedParams(rules=TABLE))
    requests = [Request("generate", f"nurse {i}", GenerationParams(temperature=1.0, n=3)) for i in range(20)]
    together = adapter.generate(requests, seed=4)
    alone = [adapter.generate([r], seed=4)[0] for r in reversed(requests)][::-1]
    assert [c.texts for c in together] == [c.texts for c in alone]
    assert [c.texts for c in adapter.generate(requests, seed=5)] != [c.texts for c in together]


def test_greedy_templates_and_loglikelihood() -> None:
    adapter = SimulatedAdapter(SimulatedParams(rules=TABLE))
    assert adapter.generate([Request("generate", "the nurse")], seed=0)[0].texts == [" she"]
    assert adapter.generate([Request("generate", "Echo hello")], seed=0)[0].texts == [" hello!"]
    result = adapter.loglikelihood(
        [Request("loglikelihood", "the nurse", continuations=(" she", " he", " it"))]
    )[0]
    assert result.logprobs[0] == pytest.approx(math.log(0.7))
    assert result.logprobs[1] == pytest.approx(math.log(0.2))
    assert result.logprobs[2] == pytest.approx(math.log(1e-12))
    assert result.greedy == [True, False, False]


def test_recite_rule_reproduces_documents_at_the_planted_rate() -> None:
    documents = [f"doc {i} " + " ".join(f"w{i}_{j}" for j in range(30)) for i in range(400)]
    adapter = SimulatedAdapter(
        SimulatedParams(
            rules=[{"match": "doc", "recite": {"documents": documents, "rate": 0.4, "miss": " zzz"}}]
        )
    )
    requests = [
        Request("generate", " ".join(d.split()[:10]), GenerationParams(max_new_tokens=5)) for d in documents
    ]
    outputs = adapter.generate(requests, seed=0)
    hits = [o.texts[0] == " " + " ".join(d.split()[10:15]) for o, d in zip(outputs, documents, strict=True)]
    assert sps.binomtest(sum(hits), 400, 0.4).pvalue > 0.001
    assert all(o.texts[0] == " zzz" for o, h in zip(outputs, hits, strict=True) if not h)


def test_bad_tables_fail_with_the_rule_named() -> None:
    with pytest.raises(ConfigError, match="rule 0: give exactly one of 'outputs' or 'recite'"):
        SimulatedAdapter(SimulatedParams(rules=[{"match": "x"}]))
    with pytest.raises(ConfigError, match="rule 0: bad regular expression"):
        SimulatedAdapter(SimulatedParams(rules=[{"match": "(", "outputs": {"a": 1}}]))


def test_loglikelihood_matches_whole_words_only() -> None:
    adapter = SimulatedAdapter(
        SimulatedParams(rules=[{"match": "x", "outputs": {" her book": 0.6, " he left": 0.4}}])
    )
    result = adapter.loglikelihood([Request("loglikelihood", "x", continuations=(" he", " her", " h"))])[0]
    assert result.logprobs[0] == pytest.approx(math.log(0.4))
    assert result.logprobs[1] == pytest.approx(math.log(0.6))
    assert result.logprobs[2] == pytest.approx(math.log(1e-12))
