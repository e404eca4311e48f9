"""Tampering edits: how much they change, and that a rerun makes the same edits."""

from __future__ import annotations

import numpy as np

from scenarios.watermark import perturb

IDS = list(range(100, 200))
REPLACEMENTS = np.arange(1000, 1100)  # disjoint from IDS, so every substitution shows


def test_substitution_replaces_the_planted_share_of_positions() -> None:
    for rate in perturb.RATES:
        out = perturb.perturb_tokens(f"substitute_{int(rate * 100)}", IDS, REPLACEMENTS, 0, "prompt-1")
        assert len(out) == len(IDS)
        assert sum(a != b for a, b in zip(IDS, out, strict=True)) == round(rate * len(IDS))


def test_deletion_removes_the_planted_share_and_keeps_order() -> None:
    out = perturb.perturb_tokens("delete_30", IDS, REPLACEMENTS, 0, "prompt-1")
    assert len(out) == 70 and out == sorted(out) and set(out) <= set(IDS)


def test_edits_are_seeded_by_run_instance_and_perturbation() -> None:
    first = perturb.perturb_tokens("substitute_20", IDS, REPLACEMENTS, 0, "prompt-1")
    assert first == perturb.perturb_tokens("substitute_20", IDS, REPLACEMENTS, 0, "prompt-1")
    assert first != perturb.perturb_tokens("substitute_20", IDS, REPLACEMENTS, 1, "prompt-1")
    assert first != perturb.perturb_tokens("substitute_20", IDS, REPLACEMENTS, 0, "prompt-2")


def test_perturbation_names_include_paraphrase_only_with_a_model() -> None:
    assert "paraphrase" not in perturb.perturbation_names(False)
    assert perturb.perturbation_names(True)[-1] == "paraphrase"
    assert {"lowercase", "uppercase", "delete_10", "substitute_30"} <= set(perturb.perturbation_names(False))
