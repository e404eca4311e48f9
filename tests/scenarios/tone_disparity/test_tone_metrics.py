"""Hand-checked values of the comparison statistics, and the unpaired (BOLD) path end to end."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy import stats as sps
from tone_testlib import metric, run

from harness.adapters.simulated import SimulatedAdapter, SimulatedParams
from scenarios.tone_disparity.metrics import compare_paired, compare_unpaired


def test_paired_comparison_matches_hand_computed_values() -> None:
    rng = np.random.default_rng(0)
    d = rng.normal(-0.05, 0.2, size=60)
    singletons = np.arange(60)  # every tuple its own cluster: CR1 is the HC1 sandwich
    found = compare_paired(d, singletons, "a", "b", target=0.02)
    sd = d.std(ddof=1)
    assert found.difference.value == pytest.approx(d.mean())
    assert found.effect_size == pytest.approx(d.mean() / sd)
    # one regressor, singleton clusters: the CR1 variance of the mean is s^2 / n, the t-test's own
    assert found.design_effect == pytest.approx(1.0)
    half = sps.t.ppf(0.975, 59) * sd / np.sqrt(60)
    assert (found.difference.low, found.difference.high) == pytest.approx((d.mean() - half, d.mean() + half))
    assert found.p_value == pytest.approx(sps.ttest_1samp(d, 0.0).pvalue)
    # 80% power at alpha 0.05: d_mde ~ (z_0.975 + z_0.8) / sqrt(n), a little more for the t-test
    assert found.mde_standardized == pytest.approx((1.959964 + 0.841621) / np.sqrt(60), rel=0.03)
    assert found.mde == pytest.approx(found.mde_standardized * sd)
    assert found.n_needed == pytest.approx(((1.959964 + 0.841621) * sd / 0.02) ** 2, rel=0.03)


def test_clustered_differences_inflate_the_design_effect_and_the_mde() -> None:
    rng = np.random.default_rng(1)
    clusters = np.repeat(np.arange(20), 10)
    d = rng.normal(0.0, 0.1, size=200) + np.repeat(rng.normal(0.0, 0.1, size=20), 10)
    clustered = compare_paired(d, clusters, "a", "b")
    iid = compare_paired(d, np.arange(200), "a", "b")
    assert clustered.design_effect > 3
    assert clustered.mde > 1.8 * iid.mde
    assert clustered.difference.high - clustered.difference.low > 1.8 * (
        iid.difference.high - iid.difference.low
    )


def test_one_template_gives_no_interval_and_no_mde() -> None:
    d = np.random.default_rng(4).normal(0.05, 0.1, size=8)
    one = compare_paired(d, np.zeros(8), "a", "b", target=0.02)
    assert one.n_clusters == 1 and one.difference.value == pytest.approx(d.mean())
    assert (one.difference.low, one.difference.high, one.design_effect) == (None, None, None)
    assert (one.mde, one.mde_standardized, one.n_needed) == (None, None, None)
    two = compare_paired(d, np.arange(8) % 2, "a", "b", target=0.02)
    assert two.n_clusters == 2 and two.mde is not None and two.n_needed is not None
    assert two.difference.low < two.difference.value < two.difference.high


def test_identical_members_give_a_zero_width_interval_and_no_test() -> None:
    found = compare_paired(np.zeros(12), np.arange(12) % 3, "a", "b")
    assert (found.difference.value, found.difference.low, found.difference.high) == (0.0, 0.0, 0.0)
    assert found.p_value is None and found.effect_size is None


def test_unpaired_comparison_matches_the_two_sample_values() -> None:
    rng = np.random.default_rng(2)
    a, b = rng.normal(0.1, 0.3, 50), rng.normal(0.0, 0.3, 70)
    values = np.concatenate([a, b])
    found = compare_unpaired(values, np.arange(120) < 50, np.arange(120), "a", "b")
    assert found.difference.value == pytest.approx(a.mean() - b.mean())
    pooled = np.sqrt(((49 * a.var(ddof=1)) + 69 * b.var(ddof=1)) / 118)
    assert found.sd == pytest.approx(pooled)
    assert found.effect_size == pytest.approx((a.mean() - b.mean()) / pooled)
    assert found.difference.low < found.difference.value < found.difference.high


def test_bold_prompts_run_unpaired_with_independent_sampling(shared_datasets: Path, tmp_path: Path) -> None:
    rules = [{"match": ".", "outputs": {" a wonderful actor.": 0.5, " a dull actor.": 0.5}}]
    adapter = SimulatedAdapter(SimulatedParams(rules=rules))
    scenario, metrics, n, n_errors = run(
        adapter,
        tmp_path,
        format="bold",
        data=str(shared_datasets / "bold" / "gender_prompt.json"),
        per_group_limit=40,
        k=4,
    )
    assert (n, n_errors) == (80, 0) and scenario.protocol() == "sampled-continuations"
    diff = metric(
        metrics, "tone_diff_by_group", {"group": "American_actors", "reference": "American_actresses"}
    )
    assert diff.ci_low <= 0.0 <= diff.ci_high and diff.extra["paired_by"] is None
    assert diff.extra["effect_size_name"] == "d" and diff.extra["analysis"] == "unpaired"
