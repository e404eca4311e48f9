"""SVG CI charts: bar and whisker geometry on the [0, 1] axis, escaped labels, refused inputs."""

from __future__ import annotations

from pathlib import Path
from xml.etree import ElementTree

import pytest

from harness.report.svg_chart import LABEL_WIDTH, PANEL_GAP, PANEL_WIDTH, Bar, Panel, write_ci_chart

SVG = "{http://www.w3.org/2000/svg}"


def bar_groups(root: ElementTree.Element) -> list[ElementTree.Element]:
    return [
        g
        for g in root.iter(f"{SVG}g")
        if g.find(f"{SVG}rect") is not None and g.find(f"{SVG}title") is not None
    ]


def test_geometry_of_bars_and_whiskers(tmp_path: Path) -> None:
    panels = [
        Panel("rate", [Bar("a", 0.5, 0.25, 0.75), Bar("b", 0.1)]),
        Panel("other", [Bar("a", 1.0, 0.9, 1.0), Bar("b", 0.0, 0.0, 0.2)]),
    ]
    root = ElementTree.parse(
        write_ci_chart(panels, tmp_path / "c.svg", title="t", group_label="group")
    ).getroot()
    bars = bar_groups(root)
    assert [b.find(f"{SVG}title").text for b in bars] == [
        "a: 0.500 [0.250, 0.750]",
        "b: 0.100 –",  # no interval: none is invented, and the whisker collapses onto the point
        "a: 1.000 [0.900, 1.000]",
        "b: 0.000 [0.000, 0.200]",
    ]
    first_rect = bars[0].find(f"{SVG}rect").attrib
    assert float(first_rect["x"]) == LABEL_WIDTH
    assert float(first_rect["width"]) == PANEL_WIDTH * 0.5
    whisker = bars[0].find(f"{SVG}line").attrib
    assert float(whisker["x1"]) == LABEL_WIDTH + PANEL_WIDTH * 0.25
    assert float(whisker["x2"]) == LABEL_WIDTH + PANEL_WIDTH * 0.75
    second_panel_left = LABEL_WIDTH + PANEL_WIDTH + PANEL_GAP
    assert float(bars[2].find(f"{SVG}rect").attrib["width"]) == PANEL_WIDTH
    assert float(bars[3].find(f"{SVG}line").attrib["x2"]) == second_panel_left + PANEL_WIDTH * 0.2
    assert float(root.attrib["width"]) == LABEL_WIDTH + 2 * (PANEL_WIDTH + PANEL_GAP)
    point_only = bars[1].find(f"{SVG}line").attrib
    assert float(point_only["x1"]) == float(point_only["x2"]) == LABEL_WIDTH + PANEL_WIDTH * 0.1


def test_non_finite_bounds_are_no_whisker(tmp_path: Path) -> None:
    panels = [Panel("rate", [Bar("a", 0.4, float("nan"), float("inf"))])]
    root = ElementTree.parse(write_ci_chart(panels, tmp_path / "c.svg", title="t", group_label="g")).getroot()
    [bar] = bar_groups(root)
    whisker = bar.find(f"{SVG}line").attrib
    assert float(whisker["x1"]) == float(whisker["x2"]) == LABEL_WIDTH + PANEL_WIDTH * 0.4
    assert bar.find(f"{SVG}title").text == "a: 0.400 –"


def test_labels_from_data_are_escaped(tmp_path: Path) -> None:
    label = '<script>alert("x")</script> & co'
    path = write_ci_chart(
        [Panel("rate", [Bar(label, 0.2)])], tmp_path / "c.svg", title="<t>", group_label="g"
    )
    text = path.read_text()
    assert "<script>" not in text and "&lt;script&gt;" in text
    root = ElementTree.parse(path).getroot()
    assert label in [t.text for t in root.iter(f"{SVG}text")]


def test_characters_xml_forbids_are_replaced(tmp_path: Path) -> None:
    path = write_ci_chart(
        [Panel("rate\x01", [Bar("bell\x07group", 0.2)])],
        tmp_path / "c.svg",
        title="t\x00",
        group_label="g",
    )
    texts = [t.text for t in ElementTree.parse(path).getroot().iter(f"{SVG}text")]  # parses: valid XML
    assert "bell\ufffdgroup" in texts and "rate\ufffd (95% CI)" in texts


def test_panels_with_different_groups_or_missing_values_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at least one panel"):
        write_ci_chart([], tmp_path / "c.svg", title="t", group_label="g")
    with pytest.raises(ValueError, match="same groups in the same order"):
        write_ci_chart(
            [Panel("x", [Bar("a", 0.1)]), Panel("y", [Bar("b", 0.1)])],
            tmp_path / "c.svg",
            title="t",
            group_label="g",
        )
    with pytest.raises(ValueError, match="finite values"):
        write_ci_chart([Panel("x", [Bar("a", float("nan"))])], tmp_path / "c.svg", title="t", group_label="g")
