"""Detection scans: agreement with transformers' detector, a calibrated null, and exact tails."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch
from scipy.stats import binom
from transformers import PretrainedConfig, WatermarkDetector

from harness.adapters.hf import DEMO_WATERMARK_KEY, watermark_key_id, watermarking_config
from harness.errors import AdapterError
from harness.types import WatermarkSpec
from scenarios.watermark.detection import Scan, build_detector

CONFIG = PretrainedConfig(vocab_size=1000, bos_token_id=0)
KEY_ID = watermark_key_id(DEMO_WATERMARK_KEY)
KGW = WatermarkSpec("kgw", (("bias", 2.0), ("greenlist_ratio", 0.25)), None, KEY_ID)
SYNTHID = WatermarkSpec("synthid", (("depth", 10), ("ngram_len", 4)), None, KEY_ID)


def test_kgw_scan_counts_what_transformers_detector_counts() -> None:
    rng = np.random.default_rng(0)
    sequence = rng.integers(1, 40, size=120).tolist()  # a small alphabet: many repeated bigrams
    scan = build_detector(KGW, CONFIG, special_ids=[0]).scan_many([sequence])[0]
    reference = WatermarkDetector(CONFIG, "cpu", watermarking_config(KGW), ignore_repeated_ngrams=True)
    output = reference(torch.tensor([sequence]), return_dict=True)
    assert scan.trials.sum() == output.num_tokens_scored[0]
    assert scan.hits.sum() == output.num_green_tokens[0]
    assert scan.null_p == 250 / 1000


@pytest.mark.parametrize("spec", [KGW, SYNTHID], ids=["kgw", "synthid"])
def test_p_values_of_text_without_the_watermark_are_calibrated(spec: WatermarkSpec) -> None:
    """Random token sequences carry no watermark: about 5% fall at p <= 0.05, and none are all-green."""
    rng = np.random.default_rng(1)
    sequences = [rng.integers(1, 1000, size=60).tolist() for _ in range(400)]
    p_values = np.array([s.p_value() for s in build_detector(spec, CONFIG, [0]).scan_many(sequences)])
    flagged = int((p_values <= 0.05).sum())
    assert binom.ppf(0.001, 400, 0.05) <= flagged <= binom.ppf(0.999, 400, 0.05)


def test_synthid_counts_each_table_entry_once() -> None:
    """A text that repeats one n-gram context scores it once (masked repeats, deduplicated entries)."""
    scan = build_detector(SYNTHID, CONFIG, [0]).scan_many([[5, 6, 7, 8, 9] * 6])[0]
    assert scan.trials.sum() <= 5 * 10
    assert scan.trials[0] > 0 and scan.trials[-1] == 0


def test_prefix_p_values_and_tokens_to_detection_are_exact() -> None:
    scan = Scan(
        positions=np.array([2, 3, 4, 5]),
        hits=np.array([1.0, 1.0, 0.0, 1.0]),
        trials=np.array([1.0, 1.0, 1.0, 1.0]),
        null_p=0.25,
        length=5,
    )
    expected = [binom.sf(0, 1, 0.25), binom.sf(1, 2, 0.25), binom.sf(1, 3, 0.25), binom.sf(2, 4, 0.25)]
    assert scan.prefix_p_values() == pytest.approx(expected)
    assert scan.tokens_to_detection(0.0625) == 3.0  # 0.25**2 = 0.0625 reached after two scored tokens
    assert scan.tokens_to_detection(0.01) == float("inf")
    assert scan.p_value() == pytest.approx(expected[-1])


def test_a_key_other_than_the_requested_one_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WATERMARK_TEST_KEY", "another key")
    spec = WatermarkSpec("kgw", (("bias", 2.0),), "WATERMARK_TEST_KEY", KEY_ID)
    with pytest.raises(AdapterError, match=r"has id .* the request asks for"):
        watermarking_config(spec)
    monkeypatch.delenv("WATERMARK_TEST_KEY")
    with pytest.raises(AdapterError, match="WATERMARK_TEST_KEY is not set"):
        watermarking_config(spec)


def test_different_keys_draw_different_green_lists() -> None:
    rng = np.random.default_rng(2)
    sequence = rng.integers(1, 1000, size=200).tolist()
    ours = build_detector(KGW, CONFIG, [0]).scan_many([sequence])[0]
    other_spec = replace(KGW, key_id=watermark_key_id("a different key"))
    other = build_detector(other_spec, CONFIG, [0], secret="a different key").scan_many([sequence])[0]
    assert not np.array_equal(ours.hits, other.hits)
