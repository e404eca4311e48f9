"""Toxicity metrics on hand-computed cases: per-prompt values, aggregation, gaps, most toxic samples."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest
from toxicity_testlib import metric

from harness.scenario import ScenarioContext
from harness.scorers.base import Scorer, ScorerParams
from harness.types import Completion, Instance, ScorerIdentity
from scenarios.toxicity.metrics import instance_scores, most_toxic
from scenarios.toxicity.scenario import ToxicityParams, ToxicityScenario


def test_instance_scores_follow_the_definitions() -> None:
    values = instance_scores([0.1, 0.7, 0.5, 0.2], ["a", "b", "c", "d"], threshold=0.5)
    assert values["max_toxicity"] == 0.7
    assert values["toxic_any"] == 1.0
    assert values["toxic_fraction"] == 0.5  # 0.7 and 0.5 reach the threshold
    assert values["most_toxic_sample"] == "b"
    assert instance_scores([0.1, 0.49], ["x", "y"], 0.5)["toxic_any"] == 0.0


def frame() -> pd.DataFrame:
    rows: list[dict[str, Any]] = [
        {"id": "p1", "group": "a", "prompt_type": "neutral", "scores": [0.9, 0.1, 0.2, 0.6]},
        {"id": "p2", "group": "a", "prompt_type": "provocative", "scores": [0.3, 0.2, 0.1, 0.0]},
        {"id": "p3", "group": "b", "prompt_type": "neutral", "scores": [0.1, 0.1, 0.1, 0.1]},
        {"id": "p4", "group": "b", "prompt_type": "provocative", "scores": [0.5, 0.8, 0.7, 0.2]},
    ]
    records = []
    for row in rows:
        values = instance_scores(row.pop("scores"), ["t1", "t2", "t3", "t4"], 0.5)
        records.append({**row, "error": None, **values})
    records.append({"id": "p5", "group": "b", "prompt_type": "neutral", "error": "request failed: timeout"})
    return pd.DataFrame.from_records(records)


def test_aggregate_gives_hand_computed_emt_tp_fraction_and_gap() -> None:
    scenario = ToxicityScenario(
        ToxicityParams(scorer="profanity", k=4), ScenarioContext(bootstrap_resamples=200)
    )
    metrics = scenario.aggregate(frame())
    emt = metric(metrics, "expected_max_toxicity")
    assert emt.value == pytest.approx((0.9 + 0.3 + 0.1 + 0.8) / 4)
    assert (emt.n, emt.n_errors) == (4, 1)
    assert emt.extra["std_across_prompts"] == pytest.approx(np.std([0.9, 0.3, 0.1, 0.8], ddof=1))
    assert metric(metrics, "toxicity_probability").value == pytest.approx(2 / 4)
    assert metric(metrics, "toxic_fraction").value == pytest.approx((2 / 4 + 0 + 0 + 3 / 4) / 4)
    group_b = metric(metrics, "toxic_fraction", {"group": "b"})
    assert group_b.value == pytest.approx(3 / 8) and group_b.n_errors == 1
    assert metric(metrics, "expected_max_toxicity", {"prompt_type": "neutral"}).value == pytest.approx(0.5)
    gap = metric(metrics, "expected_max_toxicity_gap_by_group")
    assert gap.value == pytest.approx(abs((0.9 + 0.3) / 2 - (0.1 + 0.8) / 2))
    assert gap.extra["worst_groups"] == gap.extra["highest"] == ["a"] and gap.extra["lowest"] == ["b"]
    assert gap.ci_low <= gap.value <= gap.ci_high
    difference = metric(metrics, "expected_max_toxicity_diff_by_group", {"group": "a", "reference": "b"})
    assert difference.value == pytest.approx(0.6 - 0.45)
    assert [s["id"] for s in emt.extra["most_toxic"]] == ["p1", "p4", "p2", "p3"]
    assert emt.extra["most_toxic"][0]["text"] == "t1"


def test_gap_needs_two_groups_and_is_absent_otherwise() -> None:
    scenario = ToxicityScenario(
        ToxicityParams(scorer="profanity", k=4), ScenarioContext(bootstrap_resamples=50)
    )
    gap = metric(scenario.aggregate(frame().drop(columns=["group"])), "toxic_fraction_gap_by_group")
    assert gap.value is None and "at least two groups" in gap.extra["note"]


def test_most_toxic_skips_errored_rows_and_orders_by_score() -> None:
    top = most_toxic(frame(), 2)
    assert [(s["id"], s["max_toxicity"], s["group"]) for s in top] == [("p1", 0.9, "a"), ("p4", 0.8, "b")]


class HalfBroken(Scorer):
    """Scores every text 0.8 except texts containing "broken", which come back NaN."""

    name = "half-broken"
    label = "test scorer"

    def __init__(self) -> None:
        super().__init__(ScorerParams())
        self.calls: list[list[str]] = []

    @property
    def identity(self) -> ScorerIdentity:
        return ScorerIdentity("half-broken", "1")

    def score(self, texts: list[str]) -> list[float]:
        self.calls.append(list(texts))
        self.failures = {t: "simulated outage" for t in texts if "broken" in t}
        return [math.nan if "broken" in t else 0.8 for t in texts]


def test_unscorable_continuations_fail_the_instance_not_the_batch() -> None:
    scenario = ToxicityScenario(ToxicityParams(scorer="profanity", k=2), ScenarioContext())
    scenario.__dict__["scorer"] = HalfBroken()
    good = (Instance("ok", "p"), [Completion(texts=["fine", "fine too"])])
    bad = (Instance("bad", "p"), [Completion(texts=["fine", "broken"])])
    scorer = scenario.__dict__["scorer"]
    with pytest.raises(
        RuntimeError, match=r"instance bad: .*could not score 1 of 2 continuations \(simulated outage\)"
    ):
        scenario.score_batch([good, bad])
    assert scenario.score_batch([good])[0]["toxic_fraction"] == 1.0
    assert len(scorer.calls) == 1  # scored texts are remembered, so isolating an instance re-sends nothing
    with pytest.raises(RuntimeError, match="instance bad"):
        scenario.score_batch([bad])
    assert scorer.calls[-1] == ["broken"]  # only the failed text is retried
    empty = scenario.score_batch([(Instance("e", "p"), [Completion(texts=["", "  "])])])[0]
    assert empty["max_toxicity"] == 0.0  # nothing said scores 0 without asking the scorer


def test_wrong_number_of_samples_is_an_error() -> None:
    scenario = ToxicityScenario(ToxicityParams(scorer="profanity", k=3), ScenarioContext())
    with pytest.raises(RuntimeError, match="returned 1 continuations, expected k=3"):
        scenario.score_batch([(Instance("x", "p"), [Completion(texts=["only one"])])])
