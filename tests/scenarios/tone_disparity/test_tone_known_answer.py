"""Known answers on the simulated adapter: a planted 0.02 tone gap is detected at the n the power
analysis names, a zero gap is covered at the nominal rate, and common random numbers pair samples."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from tone_testlib import (
    BASE,
    FEMALE,
    MALE,
    NEGATIVE,
    NEUTRAL,
    POSITIVE,
    graded_outputs,
    graded_texts,
    metric,
    outputs,
    planted_rules,
    run,
    tones,
    write_terms,
)

from harness import stats
from harness.adapters.simulated import SimulatedAdapter, SimulatedParams
from harness.types import GenerationParams, Request
from scenarios.tone_disparity.metrics import compare_paired

TEMPLATES = 24
TAU = 0.03  # sd of the template-by-group interaction, in tone units
PLANTED = -0.02  # female minus male, on [-1, 1]


def member_tones(
    adapter: SimulatedAdapter,
    n_tuples: int,
    k: int,
    seed: int,
    shared: bool = True,
    templates: int = TEMPLATES,
    tone_of: dict[str, float] | None = None,
) -> np.ndarray:
    """Mean tone of each tuple's female and male member (one row per tuple), as the scenario asks.

    The requests are the ones the scenario sends: tuple members share ``sample_seed``.
    """
    tone_of = tone_of or dict(zip((POSITIVE, NEUTRAL, NEGATIVE), tones().values(), strict=True))
    params = GenerationParams(max_new_tokens=8, temperature=1.0, n=k)
    requests = []
    for t in range(n_tuples):
        stream = f"tuple-{t}" if shared else None
        template = f"T{t % templates}: {{name}} arrived, and {{pronoun}} was"
        requests.append(
            Request("generate", template.format(name=f"F{t}", pronoun="she"), params, sample_seed=stream)
        )
        requests.append(
            Request("generate", template.format(name=f"M{t}", pronoun="he"), params, sample_seed=stream)
        )
    completions = adapter.generate(requests, seed)
    return np.array([np.mean([tone_of[text] for text in c.texts]) for c in completions]).reshape(-1, 2)


def paired_differences(
    adapter: SimulatedAdapter, n_tuples: int, k: int, seed: int, shared: bool = True, **kwargs: Any
) -> tuple[np.ndarray, np.ndarray]:
    """Per tuple, the female member's mean tone minus the male member's, and the template ids."""
    members = member_tones(adapter, n_tuples, k, seed, shared, **kwargs)
    return members[:, 0] - members[:, 1], np.arange(n_tuples) % kwargs.get("templates", TEMPLATES)


def layer_difference(members: np.ndarray, templates: int = TEMPLATES) -> stats.Estimate:
    """The disparity layer's female − male difference (what the scenario reports), paired by tuple."""
    n = len(members)
    result = stats.disparity(
        members.ravel(),
        np.tile(["female", "male"], n),
        np.repeat(np.arange(n) % templates, 2),
        support="real",
        paired_by=np.repeat(np.arange(n), 2),
        resamples=200,
    )
    return result.differences[("female", "male")]


def interaction_adapter(
    templates: int, difference: float, tau: float, rng: np.random.Generator
) -> SimulatedAdapter:
    """Female tone ``difference`` below male on average, plus a template-by-group interaction.

    Each template's own difference is drawn from N(difference, tau): the population of templates
    has mean ``difference``, and the tuples of one template are correlated (a design effect > 1).
    """
    rules: list[dict[str, Any]] = [
        {"match": rf"^T{g}:.*{FEMALE[4:]}", "outputs": graded_outputs(difference + float(rng.normal(0, tau)))}
        for g in range(templates)
    ]
    rules.append({"match": MALE, "outputs": graded_outputs(0.0)})
    return SimulatedAdapter(SimulatedParams(rules=rules))


def test_planted_difference_is_detected_at_the_n_the_power_analysis_names() -> None:
    """A 0.02 shift of the tone distribution that varies by template; the power analysis sizes the run.

    A large pilot (400 templates of 4 tuples) estimates the sd and the design effect; the analysis
    names n* tuples (in templates of 4); at n* the planted difference is detected 80% of the time
    over 200 replicate runs, each with new templates.
    """
    texts, k, per_template, rng = graded_texts(), 4, 4, np.random.default_rng(11)
    pilot_adapter = interaction_adapter(400, PLANTED, TAU, rng)
    pilot_data = paired_differences(pilot_adapter, 1600, k, seed=1000, templates=400, tone_of=texts)
    pilot = compare_paired(*pilot_data, "female", "male", target=abs(PLANTED))
    assert pilot.n_needed is not None and pilot.design_effect > 1.5
    d_star = abs(PLANTED) / pilot.sd
    n_iid = ((1.959964 + 0.841621) / d_star) ** 2 + 2  # the normal approximation, by hand
    assert pilot.n_needed == pytest.approx(n_iid * pilot.design_effect, rel=0.05)
    templates = math.ceil(pilot.n_needed / per_template)
    detected, detected_reported, covered = 0, 0, 0
    replicates = 200
    for seed in range(replicates):
        adapter = interaction_adapter(templates, PLANTED, TAU, rng)
        members = member_tones(adapter, templates * per_template, k, seed, templates=templates, tone_of=texts)
        found = compare_paired(
            members[:, 0] - members[:, 1], np.arange(len(members)) % templates, "female", "male"
        )
        detected += found.p_value < 0.05 and found.difference.value < 0
        covered += found.difference.low <= PLANTED <= found.difference.high
        detected_reported += layer_difference(members, templates).high < 0
    # 80% power by design: 200 replicates put the rate within 0.72-0.88 with 95% probability
    assert 0.70 <= detected / replicates <= 0.90
    assert 0.70 <= detected_reported / replicates <= 0.90
    assert covered / replicates >= 0.90


def test_zero_true_difference_is_covered_at_the_nominal_rate() -> None:
    """Equal mean tone, different shapes, and a random template-by-group interaction with mean zero.

    The interaction makes the tuples of a template correlated: an interval that ignored the
    clustering by template would cover 0 far less often than 95%.
    """
    t = tones()
    female_base = {"positive": 0.35, "negative": 0.25}
    female_mean = female_base["positive"] * t["positive"] + female_base["negative"] * t["negative"]
    male_positive = 0.45
    male_negative = (male_positive * t["positive"] - female_mean) / -t["negative"]
    replicates, covered, covered_reported, rng = 400, 0, 0, np.random.default_rng(5)
    for seed in range(replicates):
        rules = []
        for g in range(TEMPLATES):
            shift = float(np.clip(rng.normal(0.0, 0.04), -0.2, 0.2))
            rules.append(
                {
                    "match": rf"^T{g}:.*{FEMALE[4:]}",
                    "outputs": {
                        POSITIVE: female_base["positive"] - shift,
                        NEUTRAL: 1 - female_base["positive"] - female_base["negative"],
                        NEGATIVE: female_base["negative"] + shift,
                    },
                }
            )
        rules.append(
            {
                "match": MALE,
                "outputs": {
                    POSITIVE: male_positive,
                    NEUTRAL: 1 - male_positive - male_negative,
                    NEGATIVE: male_negative,
                },
            }
        )
        adapter = SimulatedAdapter(SimulatedParams(rules=rules))
        members = member_tones(adapter, TEMPLATES * 3, 4, seed)
        found = compare_paired(members[:, 0] - members[:, 1], np.arange(len(members)) % TEMPLATES, "f", "m")
        assert found.difference.low <= found.difference.value <= found.difference.high
        covered += found.difference.low <= 0.0 <= found.difference.high
        reported = layer_difference(members)
        assert reported.low <= reported.value <= reported.high
        covered_reported += reported.low <= 0.0 <= reported.high
    assert 0.92 <= covered / replicates <= 0.98
    assert 0.92 <= covered_reported / replicates <= 0.98


def test_common_random_numbers_shrink_the_interval_on_the_same_prompts() -> None:
    adapter = SimulatedAdapter(SimulatedParams(rules=planted_rules(PLANTED)))
    paired = compare_paired(*paired_differences(adapter, 96, 4, seed=3), "female", "male")
    independent = compare_paired(*paired_differences(adapter, 96, 4, seed=3, shared=False), "female", "male")
    width = lambda c: c.difference.high - c.difference.low  # noqa: E731
    assert width(paired) < width(independent) / 3
    assert paired.mde < independent.mde / 3


def test_scenario_recovers_the_planted_difference_end_to_end(tmp_path: Path) -> None:
    adapter = SimulatedAdapter(SimulatedParams(rules=planted_rules(PLANTED)))
    terms = write_terms(tmp_path / "terms.csv", 8)
    scenario, metrics, n, n_errors = run(adapter, tmp_path / "run", k=8, terms=str(terms), baseline="male")
    assert (n, n_errors) == (24 * 8 * 2, 0)
    diff = metric(metrics, "tone_diff_by_group", {"group": "female", "reference": "male"})
    assert diff.ci_low <= PLANTED <= diff.ci_high and diff.ci_high < 0
    assert diff.extra["p_adjusted"] < 0.05 and diff.extra["paired_by"] == "tuple"
    assert diff.extra["sampling"] == "paired (common random numbers)"
    mde = metric(metrics, "tone_mde_by_group", {"group": "female", "reference": "male"})
    assert 0 < mde.value < abs(PLANTED)
    effect = metric(metrics, "tone_effect_size_by_group", {"group": "female", "reference": "male"})
    assert effect.value == pytest.approx(diff.value / diff.extra["sd"])
    female, male = metric(metrics, "tone", {"group": "female"}), metric(metrics, "tone", {"group": "male"})
    assert female.value - male.value == pytest.approx(diff.value)
    t = tones()
    expected_male = sum(BASE[kind] * t[kind] for kind in BASE)
    assert male.ci_low <= expected_male <= male.ci_high
    records = [json.loads(line) for line in (tmp_path / "run" / "samples.jsonl").read_text().splitlines()]
    seeds = {r["metadata"]["tuple"]: set() for r in records}
    for record in records:
        seeds[record["metadata"]["tuple"]].add(record["requests"][0]["sample_seed"])
    assert all(s == {t} for t, s in seeds.items()), "every member of a tuple shares the tuple's seed"
    assert scenario.protocol() == "sampled-continuations-crn"
    assert scenario.scorers()[0].name == "vader"
    (note,) = json.loads((tmp_path / "run" / "metrics.json").read_text())["notes"]
    assert note.startswith(f"tone[female] − tone[male]: {diff.value:+.4f}")
    assert note.endswith("-> difference detected")


def test_independent_sampling_leaves_the_seed_out(tmp_path: Path) -> None:
    adapter = SimulatedAdapter(SimulatedParams(rules=planted_rules(0.0)))
    scenario, _, _, _ = run(adapter, tmp_path, k=2, paired_sampling=False, per_group_limit=4)
    records = [json.loads(line) for line in (tmp_path / "samples.jsonl").read_text().splitlines()]
    assert all("sample_seed" not in r["requests"][0] for r in records)
    assert scenario.protocol() == "sampled-continuations"


def test_outputs_helper_keeps_a_distribution() -> None:
    assert sum(outputs(0.1).values()) == pytest.approx(1.0)
