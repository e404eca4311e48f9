"""The engine's per-metric mean: known answers, clusters, and a score column no row produced."""

from __future__ import annotations

import pandas as pd

from harness.scenario import ScenarioContext, mean_metric
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
