"""Citation extraction on hand-labelled responses in every supported style."""

from __future__ import annotations

import pytest

from scenarios.citations.bibtex import iter_entries
from scenarios.citations.extract import extract_citations, residual_text
from scenarios.citations.names import author_strength, parse_authors


def fields(text: str) -> list[tuple]:
    return [(c.style, c.title, c.authors, c.year, c.venue, c.doi, c.arxiv) for c in extract_citations(text)]


def test_numbered_quoted_titles_with_year_and_venue() -> None:
    text = (
        '1. "Robust Estimation for Graph Streams" (2015), NeurIPS.\n'
        '2. "Sparse Ranking for Medical Records" (2019), ICML.'
    )
    assert fields(text) == [
        ("quoted", "Robust Estimation for Graph Streams", (), 2015, "NeurIPS", None, None),
        ("quoted", "Sparse Ranking for Medical Records", (), 2019, "ICML", None, None),
    ]


def test_apa_list_after_a_preamble() -> None:
    text = (
        "Here are some papers by Michael Kearns:\n\n"
        "1. Kearns, M., & Vazirani, U. (1994). An Introduction to Computational Learning Theory. MIT Press.\n"
        "2. Kearns, M. (1998). Efficient noise-tolerant learning from statistical queries. "
        "Journal of the ACM, 45(6), 983-1006."
    )
    assert fields(text) == [
        (
            "apa",
            "An Introduction to Computational Learning Theory",
            ("M. Kearns", "U. Vazirani"),
            1994,
            "MIT Press",
            None,
            None,
        ),
        (
            "apa",
            "Efficient noise-tolerant learning from statistical queries",
            ("M. Kearns",),
            1998,
            "Journal of the ACM",
            None,
            None,
        ),
    ]


def test_ieee_with_doi_and_markdown_bullets() -> None:
    ieee = (
        '[1] A. Vaswani, N. Shazeer, N. Parmar, "Attention is all you need," '
        "in Proc. NeurIPS, 2017, pp. 5998-6008.\n"
        '[2] K. He, X. Zhang, S. Ren, and J. Sun, "Deep residual learning for image recognition," '
        "in CVPR, 2016. "
        "doi: 10.1109/CVPR.2016.90"
    )
    assert fields(ieee) == [
        (
            "quoted",
            "Attention is all you need",
            ("A. Vaswani", "N. Shazeer", "N. Parmar"),
            2017,
            "Proc. NeurIPS",
            None,
            None,
        ),
        (
            "quoted",
            "Deep residual learning for image recognition",
            ("K. He", "X. Zhang", "S. Ren", "J. Sun"),
            2016,
            "CVPR",
            "10.1109/cvpr.2016.90",
            None,
        ),
    ]
    markdown = (
        "- **Attention Is All You Need** by Ashish Vaswani et al. (2017), NeurIPS\n"
        "- *Deep Residual Learning for Image Recognition* (He et al., 2016)"
    )
    assert fields(markdown) == [
        ("markdown", "Attention Is All You Need", ("Ashish Vaswani",), 2017, "NeurIPS", None, None),
        ("markdown", "Deep Residual Learning for Image Recognition", (), 2016, None, None, None),
    ]


def test_parenthetical_dash_mla_and_vancouver_styles() -> None:
    text = (
        "1. Deep Learning (Goodfellow, Bengio and Courville, 2016)\n"
        "2. Pattern Recognition and Machine Learning - Christopher Bishop - Springer, 2006\n"
        '3. Vaswani, Ashish, et al. "Attention Is All You Need." '
        "Advances in Neural Information Processing Systems 30 (2017).\n"
        "4. LeCun Y, Bengio Y, Hinton G. Deep learning. Nature. 2015;521:436-444."
    )
    assert fields(text) == [
        ("parenthetical", "Deep Learning", ("Goodfellow", "Bengio", "Courville"), 2016, None, None, None),
        (
            "segments",
            "Pattern Recognition and Machine Learning",
            ("Christopher Bishop",),
            2006,
            "Springer",
            None,
            None,
        ),
        (
            "quoted",
            "Attention Is All You Need",
            ("Ashish Vaswani",),
            2017,
            "Advances in Neural Information Processing Systems",
            None,
            None,
        ),
        ("segments", "Deep learning", ("Y LeCun", "Y Bengio", "G Hinton"), 2015, "Nature", None, None),
    ]


def test_labelled_blocks_with_and_without_list_markers() -> None:
    nested = (
        "1. Title: Calibrating Noise to Sensitivity in Private Data Analysis\n"
        "   Authors: Cynthia Dwork, Frank McSherry, Kobbi Nissim, Adam Smith\n   Year: 2006\n   Venue: TCC\n"
        "   DOI: 10.1007/11681878_14"
    )
    authors = ("Cynthia Dwork", "Frank McSherry", "Kobbi Nissim", "Adam Smith")
    title = "Calibrating Noise to Sensitivity in Private Data Analysis"
    assert fields(nested) == [("labelled", title, authors, 2006, "TCC", "10.1007/11681878_14", None)]
    flat = (
        "Title: Attention Is All You Need\nAuthors: Vaswani et al.\nYear: 2017\n\n"
        "Title: BERT\nAuthors: Devlin et al.\nYear: 2019"
    )
    assert [(c.title, c.authors, c.year) for c in extract_citations(flat)] == [
        ("Attention Is All You Need", ("Vaswani",), 2017),
        ("BERT", ("Devlin",), 2019),
    ]


def test_bibtex_entries_including_an_unclosed_one() -> None:
    text = (
        "Sure:\n@article{vaswani2017,\n  title={Attention is All you Need},\n"
        "  author={Vaswani, Ashish and Shazeer, Noam and others},\n"
        "  journal={Advances in Neural Information Processing Systems},\n  year={2017}\n}\n"
        "@misc{devlin, title={{BERT}: Pre-training of Deep Bidirectional Transformers}, "
        "author={Devlin, Jacob}, "
        "eprint={1810.04805}, archivePrefix={arXiv}, year={2018"
    )
    assert fields(text) == [
        (
            "bibtex",
            "Attention is All you Need",
            ("Vaswani, Ashish", "Shazeer, Noam"),
            2017,
            "Advances in Neural Information Processing Systems",
            None,
            None,
        ),
        (
            "bibtex",
            "BERT: Pre-training of Deep Bidirectional Transformers",
            ("Devlin, Jacob",),
            2018,
            None,
            None,
            "1810.04805",
        ),
    ]
    assert [e.key for e in iter_entries(text)] == ["vaswani2017", "devlin"]


def test_prose_with_several_quoted_titles_and_bare_identifiers() -> None:
    prose = (
        'Relevant work includes "Differential Privacy" (2006) and '
        '"The Algorithmic Foundations of Differential Privacy" (2014).'
    )
    assert [(c.title, c.year) for c in extract_citations(prose)] == [
        ("Differential Privacy", 2006),
        ("The Algorithmic Foundations of Differential Privacy", 2014),
    ]
    bare = "See https://doi.org/10.1145/3290605.3300233 and arXiv:1810.04805v2 for details."
    assert fields(bare) == [("identifier", None, (), None, None, "10.1145/3290605.3300233", "1810.04805")]


def test_plain_title_lists_keep_colons_commas_and_question_marks() -> None:
    text = (
        "1. Distributed Systems: Concepts and Design\n"
        "2.The Art of Computer Programming, Volume 1: Fundamental Algorithms\n"
        "3. How Secure Is Shopping Online?\n"
        "4. Generative Adversarial Nets - This paper introduces a framework for "
        "estimating generative models via an adversarial process."
    )
    assert [c.title for c in extract_citations(text)] == [
        "Distributed Systems: Concepts and Design",
        "The Art of Computer Programming, Volume 1: Fundamental Algorithms",
        "How Secure Is Shopping Online?",
        "Generative Adversarial Nets",
    ]


@pytest.mark.parametrize(
    "text",
    [
        "I'm sorry, but I can't browse the internet to find papers.",
        "You could:\n1. Search Google Scholar for his name.\n2. Check DBLP for the full list.",
        "Here are some papers by Michael Kearns:",
        "He is known for work on learning theory and game theory.",
    ],
)
def test_prose_and_instructions_are_not_citations(text: str) -> None:
    assert extract_citations(text) == []


def test_residual_text_removes_citations_only() -> None:
    text = 'Note: please verify these.\n1. "Verifying Cryptographic Protocols" (2001), CSF.'
    citations = extract_citations(text)
    assert [c.title for c in citations] == ["Verifying Cryptographic Protocols"]
    assert residual_text(text, citations).strip() == "Note: please verify these."


@pytest.mark.parametrize(
    ("text", "strength", "names"),
    [
        (
            "Goodfellow, I., Bengio, Y., & Courville, A.",
            "strong",
            ("I. Goodfellow", "Y. Bengio", "A. Courville"),
        ),
        ("Kearns, Michael and Vazirani, Umesh", "strong", ("Michael Kearns", "Umesh Vazirani")),
        ("E. Yildirim, K. Mensah", "strong", ("E. Yildirim", "K. Mensah")),
        (
            "Laurens van der Maaten and Geoffrey Hinton",
            "strong",
            ("Laurens van der Maaten", "Geoffrey Hinton"),
        ),
        ("Michael Kearns", "weak", ("Michael Kearns",)),
        ("Deep Learning and Neural Networks", None, None),
        ("Attention Is All You Need", None, None),
        ("MIT Press", None, None),
    ],
)
def test_author_list_recognition(text: str, strength: str | None, names: tuple[str, ...] | None) -> None:
    assert author_strength(text) == strength
    if names is not None:
        assert parse_authors(text) == names


def test_chat_answers_with_descriptions_volumes_and_prose_mentions() -> None:
    described = (
        "Michael Kearns is known for learning theory. Here are some notable papers:\n\n"
        '1. **"An Introduction to Computational Learning Theory"** (1994) – Co-authored with Umesh Vazirani, '
        "this book provides a foundation for learning theory.\n"
        '2. **"Efficient Noise-Tolerant Learning from Statistical Queries"** (1998) – '
        "Published in the Journal of the ACM, this paper introduces the SQ model.\n\n"
        "These papers reflect his contributions."
    )
    assert [(c.title, c.year, c.venue) for c in extract_citations(described)] == [
        ("An Introduction to Computational Learning Theory", 1994, None),
        ("Efficient Noise-Tolerant Learning from Statistical Queries", 1998, "the Journal of the ACM"),
    ]
    volumes = (
        "* Kearns, M. J., & Schapire, R. E. (1994). Efficient distribution-free learning of probabilistic "
        "concepts. Journal of Computer and System Sciences, 48(3), 464–497.\n"
        '* Kairouz, P. et al. "Advances and Open Problems in Federated Learning." Foundations and Trends in '
        "Machine Learning 14.1-2 (2021): 1-210. DOI: 10.1561/2200000083\n"
        "* McMahan, B., & y Arcas, B. A. (2017). Communication-efficient learning of deep networks from "
        "decentralized data. AISTATS. https://doi.org/10.48550/arXiv.1602.05629"
    )
    assert fields(volumes) == [
        (
            "apa",
            "Efficient distribution-free learning of probabilistic concepts",
            ("M. J. Kearns", "R. E. Schapire"),
            1994,
            "Journal of Computer and System Sciences",
            None,
            None,
        ),
        (
            "quoted",
            "Advances and Open Problems in Federated Learning",
            ("P. Kairouz",),
            2021,
            "Foundations and Trends in Machine Learning",
            "10.1561/2200000083",
            None,
        ),
        (
            "apa",
            "Communication-efficient learning of deep networks from decentralized data",
            ("B. McMahan", "B. A. y Arcas"),
            2017,
            "AISTATS",
            "10.48550/arxiv.1602.05629",
            "1602.05629",
        ),
    ]
    prose = (
        "I don't have real-time access, but well-known works include "
        '"Near-Optimal Reinforcement Learning in Polynomial Time" (Kearns and Singh, 2002) and '
        '"Fairness Through Awareness" by Dwork et al. (2012). Please verify these.'
    )
    assert [(c.title, c.authors, c.year) for c in extract_citations(prose)] == [
        ("Near-Optimal Reinforcement Learning in Polynomial Time", ("Kearns", "Singh"), 2002),
        ("Fairness Through Awareness", ("Dwork",), 2012),
    ]
