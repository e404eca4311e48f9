"""The engine's per-metric mean: known answers, clusters, and a score column no row produced."""

from __future__ import annotations

import pandas as pd
import pytest

from harness import stats
from harness.errors import MetricUnitError
from harness.scenario import ScenarioContext, declared_metric_values, mean_metric
from harness.types import MetricSpec


def test_mean_over_non_errored_rows() -> None:
    frame = pd.DataFrame(
        {"id": ["a", "b", "c", "d"], "error": [None, None, "boom", None], "hit": [1.0, 0.0, 1.0, 1.0]}
    )
    value = mean_metric(MetricSpec("rate", "", value="hit"), frame, 1, None, ScenarioContext())
    assert value.value == 2 / 3 and value.n == 3 and value.n_errors == 1
    assert value.ci_low is not None and value.ci_low <= value.value <= value.ci_high


def test_score_column_absent_from_every_row_is_an_empty_estimate() -> None:
    # A small ``limit`` can leave every row without a score (regurgitation's pz when no prefix ran).
    frame = pd.DataFrame({"id": ["a", "b"], "error": [None, None], "doc": ["d1", "d2"]}, index=[7, 9])
    spec = MetricSpec("mean_pz", "", value="pz", cluster="doc")
    value = mean_metric(spec, frame, 0, None, ScenarioContext())
    assert value.n == 0 and value.value is None and value.ci_low is None


def test_grouped_values_match_the_mean_of_each_group_table() -> None:
    # Groups with integer and text keys, a missing key, failed rows, non-numeric and missing scores.
    frame = pd.DataFrame(
        {
            "id": [f"i{n}" for n in range(9)],
            "error": [None, None, "boom", None, None, None, None, "late", None],
            "hit": [1.0, 0.0, 1.0, "n/a", 1.0, None, 0.0, 1.0, 1.0],
            "size": [3, 1, 3, 1, 2, 2, 3, 1, 3],
            "lang": ["fr", "en", "en", None, "fr", "en", "de", "de", "fr"],
            "doc": ["d1", "d1", "d2", "d2", "d3", "d3", "d4", "d4", "d5"],
        },
        index=[10, 3, 5, 8, 1, 0, 2, 9, 4],
    )
    spec = MetricSpec("rate", "", value="hit", group_by=("size", "lang"), cluster="doc")
    context = ScenarioContext(bootstrap_resamples=300, seed=4)
    expected = [mean_metric(spec, frame, 2, None, context)]
    for key in spec.group_by:
        for value, part in frame.groupby(key, sort=True, dropna=True):
            errors = int(part["error"].notna().sum())
            expected.append(mean_metric(spec, part, errors, {key: value}, context))
    values = declared_metric_values([spec], frame, context)
    assert values == expected
    assert [v.group for v in values] == [
        None, {"size": 1}, {"size": 2}, {"size": 3}, {"lang": "de"}, {"lang": "en"}, {"lang": "fr"},
    ]  # fmt: skip
    assert type(values[1].group["size"]) is int, "group values are plain Python values"
    # The same estimates computed without the engine's helpers: filter rows by hand, estimate directly.
    rows = list(frame.itertuples(index=False))
    for value in values[1:]:
        ((key, group_value),) = value.group.items()
        usable = [
            r
            for r in rows
            if getattr(r, key) == group_value and not isinstance(r.error, str) and isinstance(r.hit, float)
        ]
        usable = [r for r in usable if r.hit == r.hit]  # not NaN
        estimate = stats.mean_estimate(
            [r.hit for r in usable], [r.doc for r in usable], support="unit_interval"
        )
        assert (value.value, value.ci_low, value.ci_high, value.n, value.n_clusters) == (
            estimate.value, estimate.low, estimate.high, len(usable), len({r.doc for r in usable}),
        )  # fmt: skip
    by_size = {v.group["size"]: v for v in values if v.group and "size" in v.group}
    assert (by_size[3].value, by_size[3].n, by_size[3].n_errors) == (2 / 3, 3, 1)
    assert (by_size[1].n, by_size[1].n_errors) == (1, 1)  # "n/a" is not a number; i7 failed


def test_the_declared_unit_picks_the_interval_and_a_value_outside_it_names_the_metric() -> None:
    frame = pd.DataFrame({"id": ["a", "b", "c"], "error": [None] * 3, "logit": [0.0, 0.0, 0.0]})
    logit = mean_metric(
        MetricSpec("mean_logit", "", unit="logit", value="logit"), frame, 0, None, ScenarioContext()
    )
    assert (logit.ci_low, logit.ci_high, logit.ci_method) == (0.0, 0.0, "cluster_t")
    rate = mean_metric(MetricSpec("rate", "", value="logit"), frame, 0, None, ScenarioContext())
    assert rate.ci_method == "cluster_wilson" and rate.ci_high > 0.3, "three 0s of a proportion: Wilson"
    frame["logit"] = [0.0, 2.0, -1.0]
    with pytest.raises(MetricUnitError) as raised:
        mean_metric(MetricSpec("rate", "", value="logit"), frame, 0, None, ScenarioContext())
    assert str(raised.value) == (
        "metric 'rate' declares unit 'proportion', but a value (2) lies outside [0, 1]; declare the unit "
        "its values have in its MetricSpec (e.g. unit='count' for counts, 'logit' or 'difference' for "
        "signed values)"
    )
    assert MetricSpec("n", "", unit="tokens").support == "nonnegative"
    assert MetricSpec("p", "", unit="score").support == "unit_interval"
    assert MetricSpec("t", "", unit="tone").support == "real"


def test_a_disparity_on_values_outside_the_unit_names_the_metric_too() -> None:
    from harness.types import DisparitySpec

    frame = pd.DataFrame(
        {"id": list("abcd"), "error": [None] * 4, "group": list("xxyy"), "logit": [0.5, -1.5, 0.2, 0.1]}
    )
    spec = MetricSpec("rate", "", value="logit", group_by=("group",))
    with pytest.raises(
        MetricUnitError, match=r"^metric 'rate' declares unit 'proportion', but a value \(-1.5\)"
    ):
        declared_metric_values([spec], frame, ScenarioContext(), [DisparitySpec("rate", "group")])


def test_counts_by_group_are_cut_at_zero_in_the_disparity_records_too() -> None:
    from harness.types import DisparitySpec

    frame = pd.DataFrame(
        {
            "id": list("abcdefgh"),
            "error": [None] * 8,
            "group": list("xxxxyyyy"),
            "doc": list("ppqqrrss"),
            "tokens": [0.0, 0.0, 0.0, 90.0, 1.0, 2.0, 3.0, 4.0],
        }
    )
    spec = MetricSpec("prefix", "", unit="tokens", value="tokens", cluster="doc", group_by=("group",))
    values = declared_metric_values(
        [spec], frame, ScenarioContext(bootstrap_resamples=200), [DisparitySpec("prefix", "group")]
    )
    x = next(v for v in values if v.name == "prefix" and v.group == {"group": "x"})
    assert x.value == 22.5 and x.ci_low == 0.0 and x.ci_method == "cluster_t"
    gap = next(v for v in values if v.name == "prefix_gap_by_group")
    assert gap.ci_low <= gap.value <= gap.ci_high


def test_a_baseline_group_without_rows_gives_groups_and_gap_but_no_differences() -> None:
    """A limit or failures can leave the baseline without rows: a note, never a crash."""
    from harness.types import DisparitySpec

    frame = pd.DataFrame(
        {
            "id": list("abcd"),
            "error": [None, None, None, "boom"],
            "race": ["Asian", "Black", "Asian", "white"],
        }
    )
    frame["yes"] = [1.0, 0.0, 1.0, 1.0]
    spec = MetricSpec("approval", "", value="yes")
    values = declared_metric_values(
        [spec],
        frame,
        ScenarioContext(bootstrap_resamples=200),
        [DisparitySpec("approval", "race", baseline="white")],
    )
    assert sorted(v.group["race"] for v in values if v.name == "approval" and v.group) == ["Asian", "Black"]
    gap = next(v for v in values if v.name == "approval_gap_by_race")
    assert (
        gap.value == 1.0
        and gap.extra["note"] == "no scored rows of the baseline race=white: no differences from it"
    )
    assert not [v for v in values if v.name == "approval_diff_by_race"]
