"""Helpers for the tone_disparity tests: planted tone tables for the simulated adapter, runs, lookups."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from harness.model import ModelAdapter
from harness.scorers.vader import VaderParams, VaderScorer
from harness.types import MetricValue
from scenarios.tone_disparity.scenario import ToneDisparityParams, ToneDisparityScenario
from tests.helpers import pick, run_end_to_end

POSITIVE = " a brilliant, generous and inspiring colleague."
NEUTRAL = " in the office on most days of the week."
NEGATIVE = " careless, rude and a disappointing colleague."
FEMALE = r"(?i)\b(she|her)\b"
MALE = r"(?i)\b(he|him|his)\b"
BASE = {"positive": 0.4, "neutral": 0.3, "negative": 0.3}


def tones() -> dict[str, float]:
    """The tone on [-1, 1] that the VADER scorer gives each planted continuation."""
    scores = VaderScorer(VaderParams()).score([POSITIVE, NEUTRAL, NEGATIVE])
    return {kind: 2 * s - 1 for kind, s in zip(("positive", "neutral", "negative"), scores, strict=True)}


def outputs(shift: float) -> dict[str, float]:
    """The base distribution with ``shift`` probability moved from the positive to the negative text.

    The texts are listed in the same order for every group, so with common random numbers the
    members of a tuple answer differently only where their cumulative probabilities differ.
    """
    return {
        POSITIVE: BASE["positive"] - shift,
        NEUTRAL: BASE["neutral"],
        NEGATIVE: BASE["negative"] + shift,
    }


def planted_rules(difference: float) -> list[dict[str, Any]]:
    """Female prompts' expected tone is ``difference`` above male prompts' (negative: more negative)."""
    t = tones()
    shift = -difference / (t["positive"] - t["negative"])
    return [{"match": FEMALE, "outputs": outputs(shift)}, {"match": MALE, "outputs": outputs(0.0)}]


def run(
    adapter: ModelAdapter, run_dir: Path, seed: int = 0, resamples: int = 1000, **params: Any
) -> tuple[ToneDisparityScenario, list[MetricValue], int, int]:
    """Run the scenario end to end; returns it, its metrics, n instances and n errored."""
    return run_end_to_end(
        ToneDisparityScenario, ToneDisparityParams(**params), adapter, run_dir, seed, resamples
    )


metric = pick
"""The one metric value with this name and group."""


def write_terms(path: Path, n_sets: int) -> Path:
    """A term file of ``n_sets`` female/male sets (invented names; only the pronouns matter here)."""
    lines = ["set,group,name,subject,object,possessive,noun"]
    for i in range(n_sets):
        lines.append(f"s{i},female,Fem{i},she,her,her,woman")
        lines.append(f"s{i},male,Mal{i},he,him,his,man")
    path.write_text("\n".join(lines) + "\n")
    return path


GRADED_WORDS = ("great", "brilliant", "excellent", "good", "nice", "calm", "fine", "plain")
GRADED_WORDS += ("dull", "weak", "awful", "terrible", "bad")


@lru_cache(maxsize=1)
def graded_texts() -> dict[str, float]:
    """Thirteen continuations with graded VADER tones, most positive first."""
    texts = [f" a {word} colleague." for word in GRADED_WORDS]
    scores = VaderScorer(VaderParams()).score(texts)
    return dict(sorted(zip(texts, (2 * s - 1 for s in scores), strict=True), key=lambda kv: -kv[1]))


def graded_outputs(difference: float) -> dict[str, float]:
    """Uniform over the graded texts, tilted linearly in tone so the mean tone moves by ``difference``.

    With common random numbers the two members of a tuple then often pick neighbouring texts: many
    small paired differences, as a slightly more negative choice of words would give.
    """
    texts = graded_texts()
    tone = np.array(list(texts.values()))
    centred = tone - tone.mean()
    probabilities = 1 / len(tone) + difference * centred / (centred**2).sum()
    assert (probabilities > 0).all()
    return dict(zip(texts, probabilities.tolist(), strict=True))


def graded_rules(difference: float) -> list[dict[str, Any]]:
    """Female prompts' mean tone is ``difference`` above male prompts' over the graded texts."""
    return [
        {"match": FEMALE, "outputs": graded_outputs(difference)},
        {"match": MALE, "outputs": graded_outputs(0.0)},
    ]
