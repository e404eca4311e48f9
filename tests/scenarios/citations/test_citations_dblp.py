"""The streaming DBLP XML importer: entities, filters, gzip, errors and bounded memory."""

from __future__ import annotations

import gzip
import tracemalloc
from pathlib import Path

import pytest

from harness.errors import DataError
from scenarios.citations.bibliography import load_records
from scenarios.citations.dblp import dtd_entities, iter_dblp

HEADER = '<?xml version="1.0" encoding="ISO-8859-1"?>\n<!DOCTYPE dblp SYSTEM "dblp.dtd">\n<dblp>\n'
SAMPLE = (
    HEADER
    + """<article mdate="2020-01-01" key="journals/x/Moller19">
<author>J&uuml;rgen M&ouml;ller</author><author>Wei Wang 0001</author>
<title>On <i>Sparse</i> Graphs &amp; Their Spectra.</title><year>2019</year><journal>J. Graph Theory</journal>
<ee>https://doi.org/10.1002/jgt.22501</ee><ee>https://arxiv.org/abs/1901.00001</ee></article>
<www mdate="2020-01-01" key="homepages/1/1"><author>J&uuml;rgen M&ouml;ller</author>
<title>Home Page</title></www>
<inproceedings mdate="2020-01-01" key="conf/x/Other05"><author>Ada Lovelace</author>
<title>An Old Note.</title><year>2005</year><booktitle>Analytical Engines</booktitle></inproceedings>
<proceedings mdate="2020-01-01" key="conf/x/2005"><editor>Ada Lovelace</editor>
<title>Proceedings of X</title><year>2005</year></proceedings>
</dblp>
"""
)


def write_dump(path: Path, n_records: int, match_every: int) -> Path:
    """A synthetic dump of ``n_records`` articles; every ``match_every``-th is by Ada L&ouml;velace."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "wt", encoding="latin-1") as handle:
        handle.write(HEADER)
        for index in range(n_records):
            author = "Ada L&ouml;velace" if index % match_every == 0 else f"Author Number{index % 997}"
            handle.write(
                f'<article mdate="2021-01-01" key="journals/s/{index}"><author>{author}</author>'
                f"<author>Co Author{index % 13}</author>"
                f"<title>Synthetic Study Number {index} of Streaming &amp; Parsing.</title>"
                f"<pages>1-{index % 50 + 2}</pages><year>{1990 + index % 30}</year>"
                f"<volume>{index % 40}</volume>"
                f"<journal>Journal of Synthetic Results</journal><ee>https://doi.org/10.9999/syn.{index}</ee>"
                f"<url>db/journals/s/s{index % 40}.html#{index}</url></article>\n"
            )
        handle.write("</dblp>\n")
    return path


def test_entities_markup_disambiguation_and_record_types(tmp_path: Path) -> None:
    path = tmp_path / "dblp.xml"
    path.write_text(SAMPLE, encoding="latin-1")
    records = list(iter_dblp(path))
    assert [(r.title, r.authors, r.year, r.venue, r.doi, r.arxiv) for r in records] == [
        (
            "On Sparse Graphs & Their Spectra.",
            ("Jürgen Möller", "Wei Wang"),
            2019,
            "J. Graph Theory",
            "10.1002/jgt.22501",
            "1901.00001",
        ),
        ("An Old Note.", ("Ada Lovelace",), 2005, "Analytical Engines", None, None),
        ("Proceedings of X", (), 2005, None, None, None),
    ]
    assert load_records(str(path)) == records


def test_author_and_year_filters(tmp_path: Path) -> None:
    path = tmp_path / "dblp.xml"
    path.write_text(SAMPLE, encoding="latin-1")
    assert [r.title for r in iter_dblp(path, authors=["J. Moller"])] == ["On Sparse Graphs & Their Spectra."]
    assert [r.title for r in iter_dblp(path, authors=["Möller, Jürgen"], min_year=2020)] == []
    assert [r.year for r in iter_dblp(path, max_year=2010)] == [2005, 2005]
    assert [r.title for r in load_records(str(path), dblp_authors=["Ada Lovelace"], dblp_min_year=2000)] == [
        "An Old Note."
    ]


def test_entities_declared_in_a_dtd_next_to_the_dump_win(tmp_path: Path) -> None:
    (tmp_path / "dblp.dtd").write_text(
        '<!ENTITY uuml "&#252;">\n<!ENTITY reg "&#x00AE;">\n<!ENTITY zz "&#90;">\n'
    )
    entities = dtd_entities(tmp_path / "dblp.dtd")
    assert (entities["uuml"], entities["reg"], entities["zz"], entities["eacute"]) == ("ü", "®", "Z", "é")
    path = tmp_path / "dblp.xml"
    path.write_text(
        HEADER
        + "<article key='a'><author>A &zz;</author><title>T&zz;</title><year>2000</year></article></dblp>"
    )
    assert [(r.title, r.authors) for r in iter_dblp(path)] == [("TZ", ("A Z",))]


def test_malformed_dump_names_file_and_line(tmp_path: Path) -> None:
    broken = tmp_path / "dblp.xml"
    broken.write_text(HEADER + "<article key='a'>\n<title>Unclosed</article>\n</dblp>")
    with pytest.raises(DataError, match=r"dblp\.xml:5: malformed DBLP XML"):
        list(iter_dblp(broken))
    no_doctype = tmp_path / "nodoctype.xml"
    no_doctype.write_text("<dblp><article key='a'><title>M&ouml;</title></article></dblp>")
    with pytest.raises(DataError, match="DOCTYPE"):
        list(iter_dblp(no_doctype))


def _peak_bytes(path: Path) -> tuple[int, int]:
    tracemalloc.start()
    try:
        kept = sum(1 for _ in iter_dblp(path, authors=["Ada Lövelace"]))
        return kept, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_memory_stays_bounded_on_a_large_dump(tmp_path: Path) -> None:
    """Ten times more records must not need more memory: the tree is cleared after every record."""
    small = write_dump(tmp_path / "small.xml.gz", 2_000, match_every=5_000)
    large = write_dump(tmp_path / "large.xml.gz", 20_000, match_every=5_000)
    assert large.stat().st_size > 9 * small.stat().st_size
    kept_small, peak_small = _peak_bytes(small)
    kept_large, peak_large = _peak_bytes(large)
    assert (kept_small, kept_large) == (1, 4)
    assert peak_large < 1.5 * peak_small + 256 * 1024
    assert peak_large < 2 * 1024 * 1024  # keeping the parsed tree would need about 40 MB here
