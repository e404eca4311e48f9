"""Report artifacts: the forest plot of discrimination scores and the escaped worst-templates table."""

from __future__ import annotations

import csv
from pathlib import Path

from harness.types import MetricValue
from scenarios.decisions.metrics import Settings
from scenarios.decisions.report import FOREST, WORST_CSV, write

SETTINGS = Settings(
    attributes=("age", "gender"), baselines={"age": "60", "gender": "male"}, protocol="loglikelihood"
)


def score(attribute: str, value: str, reference: str, estimate: float) -> MetricValue:
    return MetricValue(
        name=f"decision_logit_diff_by_{attribute}",
        value=estimate,
        ci_low=estimate - 0.1,
        ci_high=estimate + 0.1,
        n=40,
        group={attribute: value, "reference": reference},
    )


def effect(template: str, estimate: float) -> MetricValue:
    return MetricValue(
        name="template_effect",
        value=estimate,
        ci_low=estimate - 0.2,
        ci_high=estimate + 0.2,
        n=12,
        group={"template": template},
        extra={"attribute": "age", "value": "20", "reference": "60"},
    )


def test_forest_plot_and_worst_templates_table(tmp_path: Path) -> None:
    metrics = [
        score("age", "20", "60", 0.4),
        score("age", "80", "60", -0.3),
        score("gender", "female", "male", 0.02),
        effect('=HYPERLINK("http://x")', -0.9),
        effect("loan", 0.5),
        effect("rent", 0.1),
    ]
    written = write(metrics, SETTINGS, tmp_path, count=2)
    assert [p.name for p in written] == [FOREST, WORST_CSV]
    assert (tmp_path / FOREST).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    rows = list(csv.DictReader((tmp_path / WORST_CSV).open(encoding="utf-8")))
    assert [r["template"] for r in rows] == ['\'=HYPERLINK("http://x")', "loan"]  # by |score|; escaped


def test_no_scores_no_forest_plot(tmp_path: Path) -> None:
    assert write([], SETTINGS, tmp_path, count=5) == []
