"""Extraction recall and verifier calibration on real model answers (Agrawal et al. 2024 CSVs).

Thresholds asserted here, and why:

* Extraction recall >= 0.995 per model. Every one of the 600 answers is a five-item list, so a
  correct extractor recovers every title; the only allowed misses are rows whose ``gen_title``
  (the authors' own parse) kept text after the closing quote ('NFS Version 4 Protocol", RFC
  3530') or is a proceedings volume split at a dash. Measured: 1.000 / 0.996 / 1.000 (GPT-4 /
  GPT-3.5-turbo / text-davinci-003), 0.9987 overall.
* Title matching: agreement of real-vs-fabricated decisions with ``bing_return`` >= 0.995 over
  all 3,000 titles when the bibliography is every Bing-found title, declared complete (measured
  0.9990). This is circular as a fabrication measure (each model's own Bing-found titles are in
  the bibliography); it only shows that fabricated titles are not matched to real ones.
* Fabrication with a partial bibliography (GPT-4's 1,000 titles against the other two models'
  Bing-found titles, 636 distinct titles): fabrication among covered titles within 0.05 of the
  Bing label rate of the same titles. Measured: coverage 0.091, fabrication among covered 0.000,
  label rate among covered 0.000; the other 909 titles (468 Bing-False, 441 Bing-True) are not
  covered. A verdict without coverage called all 909 fabricated (0.909 against 0.468). The naive
  reading of author coverage (an author named in the bibliography counts as complete) gives
  0.727 against a label rate of 0.402, so author coverage needs declared-complete authors.
* The calibration grid, fitted on one half of the topics, picks exactly the shipped defaults,
  and its balanced accuracy on the other half is >= 0.99 (measured 0.997).
"""

from __future__ import annotations

import pytest
from citations_testlib import AGRAWAL_DIR, agrawal_frame

from scenarios.citations.calibrate import (
    bing_agreement,
    calibrate,
    corrupt_title,
    extraction_recall,
    main,
    partial_bibliography_check,
)
from scenarios.citations.scenario import CitationsParams
from scenarios.citations.verify import Thresholds

pytestmark = pytest.mark.skipif(
    not AGRAWAL_DIR.exists(), reason="needs ../shared/datasets/hallucinated_references"
)


def test_extraction_recall_on_real_answers() -> None:
    recall = extraction_recall(agrawal_frame())
    assert set(recall) == {"gpt-4", "gpt-3.5-turbo", "text-davinci-003", "all"}
    assert min(recall.values()) >= 0.995
    assert recall["all"] == pytest.approx(2996 / 3000)


def test_verifier_agrees_with_bing_return_on_every_title() -> None:
    result = bing_agreement(agrawal_frame())
    assert result["n"] == 3000
    assert result["agreement"] >= 0.995
    table = result["table"]
    assert int(table.loc["fabricated", True]) == 0  # a title Bing found is never called fabricated
    assert int(table.loc["fabricated", False]) >= 1790
    assert result["agreement"] == pytest.approx(0.999)


def test_gpt4_fabrication_among_covered_matches_the_labels_with_a_partial_bibliography() -> None:
    check = partial_bibliography_check(agrawal_frame(), "gpt-4")
    assert check["n"] == 1000 and check["label_rate"] == pytest.approx(0.468)
    fabrication, coverage = check["fabrication_among_covered"], check["coverage"]
    assert abs(fabrication.value - check["label_rate_among_covered"]) <= 0.05
    assert coverage.value == pytest.approx(0.091) and coverage.low < 0.091 < coverage.high
    table = check["table"]
    assert "fabricated" not in table.index  # no source can speak for an unmatched title here
    assert int(table.loc["not_covered"].sum()) == 909  # what a coverage-blind verdict called fabricated
    naive = partial_bibliography_check(agrawal_frame(), "gpt-4", author_coverage=True)
    assert naive["fabrication_among_covered"].value > naive["label_rate_among_covered"] + 0.2


def test_calibration_picks_the_shipped_defaults_and_generalises() -> None:
    calibration = calibrate(agrawal_frame())
    best = calibration["best"]
    defaults = Thresholds()
    assert (best["verified"], best["mangled"], best["word"]) == (
        defaults.verified,
        defaults.mangled,
        defaults.word,
    )
    params = CitationsParams()
    assert (params.verified_threshold, params.mangled_threshold, params.word_threshold) == (98.0, 60.0, 80.0)
    assert best["balanced_1"] >= 0.99
    assert calibration["n_negatives"] == 1800 and calibration["n_positives"] == 1200


def test_corruptions_change_titles_as_documented() -> None:
    import random

    rng = random.Random(0)
    title = "Clean Code: A Handbook of Agile Software Craftsmanship"
    assert corrupt_title(title, rng, "subtitle") == "Clean Code"
    assert corrupt_title(title, rng, "swap") != title
    assert len(corrupt_title(title, rng, "drop").split()) == len(title.split()) - 1
    typo = corrupt_title(title, rng, "typo")
    assert typo != title and len(typo.split()) == len(title.split())


def test_calibration_command_prints_the_figures(capsys: pytest.CaptureFixture[str]) -> None:
    main([str(AGRAWAL_DIR)])
    out = capsys.readouterr().out
    assert "extraction recall" in out and "agreement with bing_return at the defaults: 0.9990" in out
