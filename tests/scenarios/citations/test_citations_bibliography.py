"""Bibliography loading (datasets tables, BibTeX, CSL-JSON), indexing, subjects and errors."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest
from citations_testlib import TOPICS, synthetic_bibliography, write_jsonl

from harness.errors import ConfigError, DataError
from scenarios.citations.bibliography import Bibliography, derive_topics, detect_format, load_records
from scenarios.citations.records import BibRecord

BIBTEX = r"""
@string{neurips = "NeurIPS"}
@inproceedings{vaswani2017,
  title = {Attention is All you Need},
  author = {Vaswani, Ashish and Shazeer, Noam},
  booktitle = {Advances in Neural Information Processing Systems},
  year = {2017},
  doi = {10.5555/3295222.3295349},
}
@article{m{\"u}ller, title={{\"U}ber Lernen}, author={M{\"u}ller, J{\"o}rg}, journal={KI}, year=2001}
@misc{untitled, author={Nobody}}
"""

CSL = [
    {
        "id": "he2016",
        "type": "paper-conference",
        "title": "Deep Residual Learning for Image Recognition",
        "author": [{"family": "He", "given": "Kaiming"}, {"family": "Zhang", "given": "Xiangyu"}],
        "issued": {"date-parts": [[2016, 6]]},
        "container-title": "CVPR",
        "DOI": "10.1109/CVPR.2016.90",
    },
    {
        "id": "x",
        "title": "A Raw Date Paper",
        "author": [{"literal": "The Consortium"}],
        "issued": {"raw": "2011-03"},
    },
]


def test_jsonl_csv_and_parquet_tables_load_the_same_records(tmp_path: Path) -> None:
    rows = synthetic_bibliography()[:6]
    jsonl = write_jsonl(tmp_path / "bib.jsonl", rows)
    frame = pd.DataFrame(rows).assign(authors=lambda f: f["authors"].map("; ".join))
    csv_path = tmp_path / "bib.csv"
    frame.rename(columns={"venue": "journal"}).to_csv(csv_path, index=False)
    parquet = tmp_path / "bib.parquet"
    pd.DataFrame(rows).to_parquet(parquet)
    loaded = [load_records(str(p)) for p in (jsonl, csv_path, parquet)]
    assert loaded[0] == loaded[1] == loaded[2]
    first = loaded[0][0]
    assert (first.title, first.authors, first.year, first.venue, first.doi, first.topics) == (
        rows[0]["title"],
        tuple(rows[0]["authors"]),
        rows[0]["year"],
        rows[0]["venue"],
        rows[0]["doi"],
        (rows[0]["topic"],),
    )


def test_table_errors_name_the_file_and_the_fix(tmp_path: Path) -> None:
    no_title = write_jsonl(tmp_path / "no_title.jsonl", [{"name": "x"}])
    with pytest.raises(DataError, match=r"no_title\.jsonl.*no 'title' column \(columns: name\)"):
        load_records(str(no_title))
    empty = write_jsonl(tmp_path / "empty.jsonl", [{"title": "A Title"}, {"title": " "}])
    with pytest.raises(DataError, match=r"empty\.jsonl:2: row 2 has an empty 'title'"):
        load_records(str(empty))
    with pytest.raises(ConfigError, match="does not exist"):
        load_records(str(tmp_path / "missing.jsonl"))
    with pytest.raises(ConfigError, match=r"bibliography_format='endnote' is not valid; choose one of"):
        load_records(str(empty), format="endnote")


def test_hub_name_that_cannot_be_reached_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="cannot load 'no-such-org/no-such-bibliography'"):
        load_records("no-such-org/no-such-bibliography")


def test_bibtex_importer(tmp_path: Path) -> None:
    path = tmp_path / "refs.bib"
    path.write_text(BIBTEX, encoding="utf-8")
    assert detect_format(str(path)) == "bibtex"
    records = load_records(str(path))
    assert [(r.title, r.authors, r.year, r.venue, r.doi) for r in records] == [
        (
            "Attention is All you Need",
            ("Vaswani, Ashish", "Shazeer, Noam"),
            2017,
            "Advances in Neural Information Processing Systems",
            "10.5555/3295222.3295349",
        ),
        ("Uber Lernen", ("Muller, Jorg",), 2001, "KI", None),
    ]
    (tmp_path / "none.bib").write_text("% nothing here\n", encoding="utf-8")
    with pytest.raises(DataError, match="no BibTeX entries"):
        load_records(str(tmp_path / "none.bib"))


def test_csl_json_importer(tmp_path: Path) -> None:
    path = tmp_path / "library.json"
    path.write_text(json.dumps(CSL), encoding="utf-8")
    assert detect_format(str(path)) == "csl_json"
    records = load_records(str(path))
    assert [(r.title, r.authors, r.year, r.venue, r.doi) for r in records] == [
        (
            "Deep Residual Learning for Image Recognition",
            ("Kaiming He", "Xiangyu Zhang"),
            2016,
            "CVPR",
            "10.1109/cvpr.2016.90",
        ),
        ("A Raw Date Paper", ("The Consortium",), 2011, None, None),
    ]
    path.write_text(json.dumps([{"id": "bad", "author": []}]), encoding="utf-8")
    with pytest.raises(DataError, match=r"CSL item 0 \(bad\) has no 'title'"):
        load_records(str(path), format="csl_json")


def test_index_lookups_main_titles_and_cutoff() -> None:
    records = [
        BibRecord(
            "Clean Code: A Handbook of Agile Software Craftsmanship",
            ("Robert C. Martin",),
            2008,
            doi="https://doi.org/10.1234/CC.5",
        ),
        BibRecord("Attention Is All You Need", ("Ashish Vaswani",), 2017, arxiv="arXiv:1706.03762v5"),
        BibRecord("A Paper From The Future", ("Someone Else",), 2031),
    ]
    bibliography = Bibliography(records, cutoff_year=2030)
    assert len(bibliography) == 2
    assert bibliography.by_doi("doi:10.1234/cc.5") is records[0]
    assert bibliography.by_arxiv("1706.03762") is records[1]
    assert bibliography.candidates("clean code") == [(records[0], 100.0)]
    near = bibliography.candidates("attention is all we need", limit=1)
    assert near[0][0] is records[1] and 85 < near[0][1] < 100


def test_subjects_come_from_the_bibliography() -> None:
    bibliography = Bibliography(
        [
            BibRecord(**{k: v for k, v in r.items() if k != "topic"}, topics=(r["topic"],))
            for r in synthetic_bibliography()
        ]
    )
    authors = bibliography.authors_by_output(minimum_papers=2)
    assert len(authors) == 10 and all(bibliography.author_counts[a] == 9 for a in authors)
    counts = Counter(r["topic"] for r in synthetic_bibliography())
    assert bibliography.topics(4) == sorted(counts, key=lambda t: (-counts[t], t))
    assert set(bibliography.topics(4)) == set(TOPICS)
    titles = [
        "robust ranking for graph streams",
        "sparse ranking for graph streams",
        "private audits of medical records",
        "medical records at scale",
    ]
    assert derive_topics(titles, 5) == ["graph streams", "medical records"]
