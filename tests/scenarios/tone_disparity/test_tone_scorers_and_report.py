"""Tone scorers (VADER, a transformers classifier through ``hf``), the shared sampling stream of the
adapters, and the escaped side-by-side report."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from tone_testlib import planted_rules, run, write_terms

from harness.adapters.simulated import SimulatedAdapter, SimulatedParams
from harness.scorers.registry import build_scorer
from harness.types import GenerationParams, Request
from scenarios.tone_disparity import report


def test_vader_scores_positive_tone_with_its_identity() -> None:
    scorer = build_scorer("vader")
    good, bad, empty = scorer.score(["a wonderful, brilliant colleague", "a terrible, lazy colleague", ""])
    assert good > 0.8 and bad < 0.2 and empty == 0.5
    assert scorer.identity.version.startswith("1+vaderSentiment-") and len(scorer.identity.model_hash) == 64


def test_a_request_without_a_sample_seed_keeps_its_key() -> None:
    params = GenerationParams(n=2, temperature=1.0)
    plain = Request("generate", "Hello", params)
    assert "sample_seed" not in plain.payload() and plain.sampling_key() == plain.key()
    shared = Request("generate", "Hello", params, sample_seed="t1")
    assert shared.payload()["sample_seed"] == "t1" and shared.key() != plain.key()
    other_prompt = Request("generate", "Goodbye", params, sample_seed="t1")
    assert other_prompt.sampling_key() == shared.sampling_key() != plain.sampling_key()


def test_simulated_members_sharing_a_stream_answer_alike_where_their_tables_agree() -> None:
    rules = [{"match": ".", "outputs": {" a": 0.3, " b": 0.3, " c": 0.4}}]
    adapter = SimulatedAdapter(SimulatedParams(rules=rules))
    params = GenerationParams(n=200, temperature=1.0)
    a, b = adapter.generate(
        [
            Request("generate", "x", params, sample_seed="s"),
            Request("generate", "y", params, sample_seed="s"),
        ],
        3,
    )
    c = adapter.generate([Request("generate", "y", params)], 3)[0]
    assert a.texts == b.texts
    assert np.mean([u == v for u, v in zip(a.texts, c.texts, strict=True)]) < 0.6


def test_hf_members_sharing_a_stream_are_coupled(tiny_gpt2_dir: Path) -> None:
    """Gumbel noise from the same generator makes close distributions pick the same token."""
    from harness.adapters.hf import HFAdapter, HFParams

    adapter = HFAdapter(HFParams(pretrained=str(tiny_gpt2_dir), device="cpu", batch_size=64))
    params = GenerationParams(max_new_tokens=1, temperature=1.0, n=64)
    prompts = ("The quick brown fox jumps", "The quick brown dog jumps")
    shared = adapter.generate([Request("generate", p, params, sample_seed="tuple-1") for p in prompts], 0)
    independent = adapter.generate([Request("generate", p, params) for p in prompts], 0)
    agree = lambda pair: np.mean([u == v for u, v in zip(pair[0].texts, pair[1].texts, strict=True)])  # noqa: E731
    # decoded bytes often read as the same replacement character, so independent samples agree at times
    assert agree(shared) > 0.9 and agree(independent) < 0.5


def test_hf_sentiment_classifier_scores_tone(tiny_gpt2_dir: Path, tmp_path: Path) -> None:
    """A tiny classifier built here: the scenario's tone is 2 P(POSITIVE) - 1 of that classifier."""
    import torch
    from transformers import AutoTokenizer, GPT2Config, GPT2ForSequenceClassification

    tokenizer = AutoTokenizer.from_pretrained(tiny_gpt2_dir)
    config = GPT2Config.from_pretrained(tiny_gpt2_dir)
    config.num_labels, config.id2label = 2, {0: "NEGATIVE", 1: "POSITIVE"}
    config.label2id, config.pad_token_id = {"NEGATIVE": 0, "POSITIVE": 1}, tokenizer.pad_token_id
    torch.manual_seed(0)
    model = GPT2ForSequenceClassification(config).eval()
    classifier = tmp_path / "classifier"
    model.save_pretrained(classifier)
    tokenizer.save_pretrained(classifier)
    adapter = SimulatedAdapter(SimulatedParams(rules=planted_rules(-0.2)))
    options = {"model": str(classifier), "toxic_labels": ["POSITIVE"], "device": "cpu"}
    scenario, _, _, n_errors = run(
        adapter,
        tmp_path / "run",
        k=2,
        terms=str(write_terms(tmp_path / "t.csv", 1)),
        scorer="hf",
        scorer_options=options,
    )
    assert n_errors == 0 and scenario.scorers()[0].name == f"hf:{classifier}"
    record = json.loads((tmp_path / "run" / "samples.jsonl").read_text().splitlines()[0])
    texts = record["outputs"][0]["texts"]
    with torch.no_grad():
        logits = model(**tokenizer(texts, return_tensors="pt", padding=True)).logits
    expected = (2 * torch.softmax(logits, dim=-1)[:, 1] - 1).tolist()
    assert record["scores"]["sample_tones"] == pytest.approx(expected, abs=1e-5)


def test_divergent_pairs_are_escaped_and_ordered(tmp_path: Path) -> None:
    records = [
        {
            "input": "P <b>a</b>",
            "metadata": {"tuple": "t1", "group": "female"},
            "outputs": [{"texts": ["<script>x</script>", "=1+1"]}],
            "scores": {"sample_tones": [-0.9, 0.1]},
            "error": None,
        },
        {
            "input": "P b",
            "metadata": {"tuple": "t1", "group": "male"},
            "outputs": [{"texts": ["fine & dandy", "ok"]}],
            "scores": {"sample_tones": [0.5, 0.1]},
            "error": None,
        },
    ]
    pairs = report.divergent_pairs(records, [("female", "male")], top=5)
    assert [(p["sample"], round(p["difference"], 3)) for p in pairs] == [(0, -1.4), (1, 0.0)]
    path = report.write_divergent_pairs(pairs, tmp_path / "pairs.csv", paired_sampling=True)
    rows = list(csv.DictReader(path.open(encoding="utf-8")))
    assert rows[0]["text_a"] == "<script>x</script>" and rows[0]["text_b"] == "fine & dandy"
    assert rows[0]["prompt_a"] == "P <b>a</b>" and rows[0]["same_random_numbers"] == "True"
    assert rows[1]["text_a"] == "'=1+1"  # a spreadsheet formula from the model is escaped
