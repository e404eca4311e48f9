"""Tampering with watermarked text: the perturbations MarkMyWords (Piet et al. 2023) applies.

Token-level edits act on the detector tokenizer's ids (random substitution by any non-special
token, random deletion, each at a rate); case changes act on the text, which is then encoded
again. Every edit is seeded by the run seed, the instance and the perturbation, so a rerun
applies the same edits. Paraphrase by a second model lives in the scenario (it needs a model).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

import numpy as np

RATES = (0.1, 0.2, 0.3)
CASE_CHANGES: dict[str, Callable[[str], str]] = {"lowercase": str.lower, "uppercase": str.upper}


def token_perturbations() -> list[str]:
    """The names of the token-level perturbations, in report order."""
    return [f"{kind}_{int(rate * 100)}" for kind in ("substitute", "delete") for rate in RATES]


def perturbation_names(paraphrase: bool) -> list[str]:
    """Every perturbation the scenario measures (paraphrase only where a paraphrase model is given)."""
    return [*token_perturbations(), *CASE_CHANGES, *(["paraphrase"] if paraphrase else [])]


def rng_for(seed: int, instance_id: str, name: str) -> np.random.Generator:
    """A generator seeded by (run seed, instance, perturbation), stable across runs and machines."""
    digest = hashlib.sha256(f"{seed}\x00{instance_id}\x00{name}".encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "big"))


def substitute(
    ids: Sequence[int], rate: float, replacements: np.ndarray, rng: np.random.Generator
) -> list[int]:
    """``ids`` with round(rate·n) positions, drawn without replacement, replaced by random tokens."""
    out = list(ids)
    count = round(rate * len(out))
    for position in rng.choice(len(out), size=count, replace=False):
        out[int(position)] = int(rng.choice(replacements))
    return out


def delete(ids: Sequence[int], rate: float, rng: np.random.Generator) -> list[int]:
    """``ids`` without round(rate·n) positions drawn without replacement."""
    count = round(rate * len(ids))
    dropped = set(rng.choice(len(ids), size=count, replace=False).tolist()) if count else set()
    return [t for i, t in enumerate(ids) if i not in dropped]


def perturb_tokens(
    name: str, ids: Sequence[int], replacements: np.ndarray, seed: int, instance_id: str
) -> list[int]:
    """Apply the token-level perturbation ``name`` (``substitute_10``, ``delete_30``, ...)."""
    kind, percent = name.rsplit("_", 1)
    rng = rng_for(seed, instance_id, name)
    if kind == "substitute":
        return substitute(ids, int(percent) / 100, replacements, rng)
    return delete(ids, int(percent) / 100, rng)
