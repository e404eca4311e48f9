"""CSV and parquet tables written through Arrow read back as the frame they were written from."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from harness.report.tables import escape_formula, write_csv, write_rows, write_tables


def test_csv_and_parquet_read_back_as_the_written_frame(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {
            "id": ["a", "b, with a comma", 'c "quoted"'],
            "error": [None, "timeout", None],
            "score": [0.1, float("nan"), 2.5],
            "count": [1, 2, 3],
            "flag": [True, False, True],
            "nested": [[1, 2], {"k": "v"}, None],
        }
    )
    written = write_tables({"samples": frame}, tmp_path / "out")
    assert [p.name for p in written] == ["samples.csv", "samples.parquet"]
    for back in (pd.read_csv(written[0]), pd.read_parquet(written[1])):
        assert back["id"].tolist() == frame["id"].tolist()
        assert back["error"].isna().tolist() == [True, False, True] and back["error"][1] == "timeout"
        assert back["score"].tolist()[::2] == [0.1, 2.5] and pd.isna(back["score"][1])
        assert back["count"].tolist() == [1, 2, 3] and back["flag"].tolist() == [True, False, True]
        assert back["nested"].tolist()[:2] == ["[1, 2]", '{"k": "v"}'] and pd.isna(back["nested"][2])
    assert written[0].read_text().splitlines()[0] == '"id","error","score","count","flag","nested"'


def test_an_empty_table_keeps_its_header(tmp_path: Path) -> None:
    written = write_tables({"samples": pd.DataFrame(columns=["run", "id"])}, tmp_path)
    assert written[0].read_text().strip() == '"run","id"'
    assert list(pd.read_parquet(written[1]).columns) == ["run", "id"]


FORMULAS = ['=HYPERLINK("http://evil","x")', "+1+1", "-2+3", "@SUM(A1)", "\tx", "\rx"]


def test_formula_cells_are_escaped_in_csv_and_kept_raw_in_parquet(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {"output": [*FORMULAS, "plain", None], "score": [-0.5, 1.0, -2.0, 0.0, 1.0, 2.0, 3.0, -1.0]}
    )
    written = write_tables({"samples": frame}, tmp_path)
    back = pd.read_csv(written[0], keep_default_na=False, na_values=[""])
    assert back["output"].tolist()[:6] == ["'" + f for f in FORMULAS]
    assert back["output"][6] == "plain" and pd.isna(back["output"][7])
    assert back["score"].tolist() == frame["score"].tolist()  # numbers stay numbers, minus sign and all
    assert pd.read_parquet(written[1])["output"].tolist()[:6] == FORMULAS


def test_artifact_csv_writers_escape_formulas(tmp_path: Path) -> None:
    write_csv(pd.DataFrame({"name": FORMULAS, "value": range(6)}), tmp_path / "a.csv")
    write_rows([{"name": f, "value": -1.5} for f in FORMULAS], ["name", "value"], tmp_path / "b.csv")
    for name in ("a.csv", "b.csv"):
        back = pd.read_csv(tmp_path / name, keep_default_na=False)
        assert back["name"].tolist() == ["'" + f for f in FORMULAS]
    assert pd.read_csv(tmp_path / "b.csv")["value"].tolist() == [-1.5] * 6
    assert escape_formula("a=b") == "a=b" and escape_formula(-3) == -3
