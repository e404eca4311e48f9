"""The verification cascade on hand-built cases: one test per branch of the cascade."""

from __future__ import annotations

import pytest

from scenarios.citations.bibliography import Bibliography
from scenarios.citations.records import BibRecord, Citation
from scenarios.citations.verify import Thresholds, Verifier, classify_title, venue_matches, word_support

RECORDS = [
    BibRecord(
        "Robust Estimation for Graph Streams",
        ("Mara Lindqvist", "Tobias Achebe"),
        2015,
        "NeurIPS",
        "10.5555/ref.001",
    ),
    BibRecord(
        "Sparse Ranking for Medical Records",
        ("Tobias Achebe",),
        2019,
        "ICML",
        "10.5555/ref.002",
        arxiv="1901.00002",
    ),
    BibRecord(
        "Clean Code: A Handbook of Agile Software Craftsmanship",
        ("Robert C. Martin",),
        2008,
        "Prentice Hall",
        "10.5555/ref.003",
    ),
    BibRecord(
        "Fair Auditing for Language Models",
        ("Ines Valcourt",),
        2021,
        "Proceedings of the ACM Conference on Fairness",
    ),
]


@pytest.fixture()
def verifier() -> Verifier:
    """The hand-built records are the whole world of these tests: a closed-world bibliography."""
    return Verifier(Bibliography(RECORDS, cutoff_year=2023), closed_world=True)


def verdict(verifier: Verifier, author: str | None = None, **fields: object):
    return verifier.verify(Citation(raw="", **fields), author)  # type: ignore[arg-type]


def test_exact_and_case_punctuation_variants_are_verified(verifier: Verifier) -> None:
    result = verdict(
        verifier, "Mara Lindqvist", title="ROBUST ESTIMATION FOR GRAPH-STREAMS", year=2015, venue="NeurIPS"
    )
    assert (result.status, result.similarity, result.wrong_year, result.wrong_venue) == (
        "verified",
        100.0,
        False,
        False,
    )
    assert result.record is RECORDS[0] and result.year_checked and result.venue_checked
    assert verdict(verifier, title="Clean Code").status == "verified"  # main title without its subtitle


def test_typos_and_omissions_are_mangled_but_invented_words_are_fabricated(verifier: Verifier) -> None:
    mangled = verdict(verifier, title="Robust Estimaiton for Graph Stream")
    assert mangled.status == "mangled" and mangled.record is RECORDS[0]
    assert verdict(verifier, title="Estimation for Graph Streams").status == "mangled"
    fabricated = verdict(verifier, title="Robust Ranking for Graph Streams")  # one content word swapped
    assert fabricated.status == "fabricated" and fabricated.record is None
    assert (
        fabricated.closest_title in {RECORDS[0].title, RECORDS[1].title}
        and 60 < fabricated.closest_similarity < 98
    )
    assert verdict(verifier, title="Holographic Origami for Lunar Beekeeping").status == "fabricated"


def test_queried_author_missing_from_a_real_paper_is_misattribution(verifier: Verifier) -> None:
    result = verdict(verifier, "Mara Lindqvist", title="Sparse Ranking for Medical Records")
    assert result.status == "misattributed" and result.notes == ["Mara Lindqvist is not an author"]
    assert verdict(verifier, "T. Achebe", title="Sparse Ranking for Medical Records").status == "verified"
    assert (
        verdict(verifier, "Achebe, Tobias", title="Robust Estimation for Graph Streams").status == "verified"
    )
    # a wrong initial is a different person
    assert (
        verdict(verifier, "K. Achebe", title="Sparse Ranking for Medical Records").status == "misattributed"
    )


def test_cited_author_lists_are_checked_by_precision(verifier: Verifier) -> None:
    right = verdict(
        verifier, title="Robust Estimation for Graph Streams", authors=("M. Lindqvist", "Zed Quorra")
    )
    assert right.status == "verified" and right.author_precision == 0.5
    wrong = verdict(
        verifier,
        title="Robust Estimation for Graph Streams",
        authors=("Zed Quorra", "Lin Vask", "M. Lindqvist"),
    )
    assert wrong.status == "misattributed" and wrong.author_precision == pytest.approx(1 / 3)


def test_wrong_year_and_venue_flags(verifier: Verifier) -> None:
    result = verdict(verifier, title="Sparse Ranking for Medical Records", year=2018, venue="KDD")
    assert (result.status, result.wrong_year, result.wrong_venue) == ("verified", True, True)
    tolerant = Verifier(Bibliography(RECORDS), Thresholds(year_tolerance=1))
    assert not tolerant.verify(
        Citation(raw="", title="Sparse Ranking for Medical Records", year=2018)
    ).wrong_year
    assert not verdict(verifier, title="Clean Code", venue="Prentice-Hall").wrong_venue
    assert venue_matches("ICML", "Proceedings of the 36th International Conference on Machine Learning", 80)
    assert venue_matches("Proc. NeurIPS", "NeurIPS", 80)
    assert not venue_matches("KDD", "ICML", 80)


def test_identifiers_resolve_first_and_bad_ones_are_flagged(verifier: Verifier) -> None:
    by_doi = verdict(verifier, doi="10.5555/REF.002")
    assert (by_doi.status, by_doi.matched_by, by_doi.record) == ("verified", "doi", RECORDS[1])
    by_arxiv = verdict(verifier, title="Sparse Ranking for Medical Records", arxiv="1901.00002")
    assert by_arxiv.matched_by == "arxiv" and not by_arxiv.wrong_identifier
    wrong_doi = verdict(verifier, title="Robust Estimation for Graph Streams", doi="10.5555/ref.002")
    assert (wrong_doi.status, wrong_doi.matched_by, wrong_doi.wrong_identifier) == ("verified", "title", True)
    dangling = verdict(verifier, doi="10.9999/none")
    assert (dangling.status, dangling.wrong_identifier) == ("fabricated", True)


def test_unmatched_citations_after_the_cutoff_are_unverifiable(verifier: Verifier) -> None:
    assert verdict(verifier, title="A Paper Nobody Wrote Yet", year=2025).status == "unverifiable"
    assert verdict(verifier, title="A Paper Nobody Wrote Yet", year=2020).status == "fabricated"


def test_threshold_rules() -> None:
    thresholds = Thresholds(verified=98, mangled=60, word=80)
    assert classify_title(99, 0, thresholds) == "verified"
    assert classify_title(70, 85, thresholds) == "mangled"
    assert classify_title(70, 75, thresholds) == "fabricated"
    assert classify_title(59, 100, thresholds) == "fabricated"
    assert word_support("robust ranking for graph streams", "robust estimation for graph streams") < 80
    assert word_support("robust estimaiton for graph", "robust estimation for graph streams") >= 80
    assert word_support("the for of", "anything") == 100.0


class SilentResolver:
    """An online resolver that knows no paper: it searched and found nothing."""

    def by_doi(self, doi: str) -> None:
        return None

    def by_arxiv(self, identifier: str) -> None:
        return None

    def search_title(self, title: str, limit: int = 5) -> list[BibRecord]:
        return []


def test_unmatched_citations_are_fabricated_only_where_a_source_covers_them() -> None:
    partial = Bibliography(RECORDS)
    invented = {"title": "Causal Alignment for Sensor Networks", "authors": ("T. Achebe",)}
    open_world = Verifier(partial)
    result = verdict(open_world, **invented)
    assert result.status == "not_covered" and "no source covers it" in result.notes[0]
    assert verdict(open_world, "Tobias Achebe", title=invented["title"]).status == "not_covered"
    # the complete works of a cited or queried author are in the bibliography: it can speak
    complete = Verifier(partial, complete_authors=["Tobias Achebe"])
    result = verdict(complete, **invented)
    assert result.status == "fabricated" and result.notes == [
        "the bibliography holds the complete works of Tobias Achebe"
    ]
    assert verdict(complete, "Tobias Achebe", title=invented["title"]).status == "fabricated"
    assert verdict(complete, "Ines Valcourt", title=invented["title"]).status == "not_covered"
    # a resolver searched and found nothing close
    searched = verdict(Verifier(partial, resolvers=[SilentResolver()]), title=invented["title"])
    assert searched.status == "fabricated" and "searched and found nothing" in searched.notes[0]
    # an identifier that resolves nowhere, without a title, is fabricated only when a source was asked
    assert verdict(open_world, doi="10.9999/nothing").status == "not_covered"
    assert (
        verdict(Verifier(partial, resolvers=[SilentResolver()]), doi="10.9999/nothing").status == "fabricated"
    )
    # a real paper is covered whatever the coverage rules
    assert verdict(open_world, title="Sparse Ranking for Medical Records").status == "verified"
