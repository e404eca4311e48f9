"""Shared helpers for the citations tests: a synthetic bibliography, planted responses, a runner.

Imported by the test modules of this folder (pytest puts the folder on ``sys.path``); the unique
module name avoids clashes with other scenarios' helpers.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

import pandas as pd

from harness.adapters.simulated import SimulatedAdapter, SimulatedParams
from harness.types import MetricValue
from scenarios.citations.scenario import CitationsParams, CitationsScenario
from tests.helpers import run_end_to_end

REPO = Path(__file__).resolve().parents[3]
AGRAWAL_DIR = REPO.parent / "shared" / "datasets" / "hallucinated_references"

AUTHORS = [
    "Nadia Okonkwo", "Pieter Van Dalen", "Lucia Ferrante", "Tomasz Wierzbicki", "Hana Kobayashi",
    "Diego Salvatierra", "Ingrid Solberg", "Kwame Mensah", "Elif Yildirim", "Rafael Quintero",
]  # fmt: skip
TOPICS = [
    "coral reef monitoring",
    "glacier melt forecasting",
    "urban heat mapping",
    "wildfire spread modelling",
]
METHODS = ["Bayesian", "Spectral", "Adaptive", "Hierarchical", "Ensemble", "Variational"]
TASKS = ["Calibration", "Downscaling", "Sampling", "Attribution", "Reconstruction", "Assimilation"]
VENUES = ["Journal of Earth Systems", "EcoInformatics", "Remote Sensing Letters", "ICML", "Climate Dynamics"]
FAKE_TITLES = [
    "Holographic Origami Techniques for Lunar Beekeeping",
    "Telepathic Knitting Protocols in Submarine Choirs",
    "Crystalline Juggling Heuristics for Volcanic Poetry",
    "Orchestral Pasta Dynamics under Magnetic Mirth",
    "Whimsical Lighthouse Cartography via Velvet Engines",
    "Nocturnal Bagpipe Encryption for Desert Ferries",
    "Granular Cello Forecasting with Marzipan Lattices",
    "Sardonic Tapestry Routing in Pelican Colonies",
]
FAKE_PEOPLE = ["Zed Quorra", "Lin Vask"]


def synthetic_bibliography() -> list[dict[str, Any]]:
    """Sixty papers: each author leads six, every other one with the next author as co-author."""
    rows, seen = [], set()
    for i, author in enumerate(AUTHORS):
        for j in range(6):
            topic = TOPICS[(i + j) % len(TOPICS)]
            k = 0
            while True:
                title = f"{METHODS[(j + k) % 6]} {TASKS[(i + 2 * j + k) % 6]} Methods for {topic.title()}"
                if title not in seen:
                    break
                k += 1
            seen.add(title)
            authors = [author, AUTHORS[(i + 1) % len(AUTHORS)]] if j % 2 == 0 else [author]
            number = len(rows) + 1
            rows.append(
                {
                    "title": title,
                    "authors": authors,
                    "year": 2005 + (i * 7 + j * 3) % 18,
                    "venue": VENUES[(i + j) % len(VENUES)],
                    "doi": f"10.5555/syn.{number:03d}",
                    "topic": topic,
                }
            )
    return rows


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    """Write rows as JSON lines and return the path."""
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def mangle(title: str) -> str:
    """Drop the first word and swap two letters of the longest word (a typo'd, shortened title)."""
    words = title.split()[1:]
    longest = max(range(len(words)), key=lambda i: len(words[i]))
    word = words[longest]
    words[longest] = word[:2] + word[3] + word[2] + word[4:]
    return " ".join(words)


@dataclass
class Entry:
    """One planted citation: its true status and what the model writes."""

    status: str
    title: str
    authors: list[str]
    year: int
    venue: str
    doi: str


def _surname_initial(name: str) -> str:
    given, _, surname = name.rpartition(" ")
    return f"{surname}, {given[0]}."


def render(entries: list[Entry], style: str) -> str:
    """A response listing ``entries`` in one of several citation styles."""
    lines = []
    for i, e in enumerate(entries, 1):
        if style == "quoted":
            lines.append(f'{i}. "{e.title}" ({e.year}), {e.venue}.')
        elif style == "apa":
            lines.append(
                f"{i}. {', & '.join(_surname_initial(a) for a in e.authors)} ({e.year}). "
                f"{e.title}. {e.venue}."
            )
        elif style == "markdown":
            lines.append(f"- **{e.title}** by {' and '.join(e.authors)} ({e.year})")
        elif style == "ieee":
            names = ", ".join(f"{a.split()[0][0]}. {a.split(' ', 1)[1]}" for a in e.authors)
            lines.append(f'[{i}] {names}, "{e.title}," in {e.venue}, {e.year}. doi: {e.doi}')
        elif style == "labelled":
            lines.append(
                f"{i}. Title: {e.title}\n   Authors: {', '.join(e.authors)}\n"
                f"   Year: {e.year}\n   DOI: {e.doi}"
            )
        elif style == "bibtex":
            lines.append(
                f"@article{{ref{i},\n  title={{{e.title}}},\n  author={{{' and '.join(e.authors)}}},\n"
                f"  journal={{{e.venue}}},\n  year={{{e.year}}},\n  doi={{{e.doi}}}\n}}"
            )
        else:
            raise ValueError(style)
    return "\n".join(lines)


@dataclass
class Plan:
    """The planted behaviour: response variants (status lists) with probabilities."""

    variants: list[tuple[list[str], float, str]] = field(
        default_factory=lambda: [
            (["verified", "verified", "fabricated", "mangled"], 0.5, ""),
            (
                ["verified", "misattributed", "fabricated", "fabricated"],
                0.3,
                "Here are some, but please verify them.",
            ),
            ([], 0.2, "I'm sorry, but I can't provide a reliable list of references on this."),
        ]
    )

    def expected(self) -> dict[str, float]:
        """The planted truth of each metric, from the variant table."""
        per_response = sum(p * len(s) for s, p, _ in self.variants)
        truth = {
            f"{status}_share": sum(p * s.count(status) for s, p, _ in self.variants) / per_response
            for status in ("verified", "mangled", "misattributed", "fabricated")
        }
        truth["citations_per_response"] = per_response
        truth["fabricated_response_share"] = sum(p for s, p, _ in self.variants if "fabricated" in s)
        truth["abstention_rate"] = sum(p for s, p, _ in self.variants if not s)
        truth["disclaimer_rate"] = sum(p for s, p, pre in self.variants if s and pre)
        return truth


def planted_entries(
    statuses: list[str], subject: str, kind: str, papers: list[dict[str, Any]], seed: int
) -> list[Entry]:
    """Entries with the given statuses for a subject (an author or a topic)."""
    if kind == "author":
        own = [p for p in papers if subject in p["authors"]]
        other = [p for p in papers if subject not in p["authors"]]
    else:
        own = [p for p in papers if p["topic"] == subject]
        other = own
    entries = []
    for n, status in enumerate(statuses):
        paper = own[(seed + n) % len(own)]
        claimed = [subject] if kind == "author" else list(paper["authors"])
        if status == "verified":
            entries.append(
                Entry(
                    status,
                    paper["title"],
                    list(paper["authors"]),
                    paper["year"],
                    paper["venue"],
                    paper["doi"],
                )
            )
        elif status == "mangled":
            entries.append(
                Entry(
                    status,
                    mangle(paper["title"]),
                    list(paper["authors"]),
                    paper["year"],
                    paper["venue"],
                    paper["doi"],
                )
            )
        elif status == "misattributed":
            stolen = other[(seed + 3 * n) % len(other)]
            wrong = claimed if kind == "author" else FAKE_PEOPLE
            entries.append(
                Entry(status, stolen["title"], wrong, stolen["year"], stolen["venue"], stolen["doi"])
            )
        else:
            fake = FAKE_TITLES[(seed + n) % len(FAKE_TITLES)]
            entries.append(Entry(status, fake, claimed, 2015, "EcoInformatics", f"10.9999/fake.{seed}.{n}"))
    return entries


FAMILY_KEYS = {  # regex keyword of each family's prompts (completion and chat), checked in this order
    "bibtex": ("author", "BibTeX"),
    "author_papers": ("author", "apers by"),
    "doi": ("topic", "DOI"),
    "topic_references": ("topic", "eferences"),
}
STYLES = {
    "bibtex": ["bibtex"],
    "author_papers": ["quoted", "apa", "markdown", "labelled", "ieee"],
    "doi": ["ieee", "labelled"],
    "topic_references": ["apa", "markdown", "ieee", "labelled"],
}
PREFIXES = {
    ("topic_references", "completion"): "1.",
    ("doi", "completion"): "1.",
    ("bibtex", "completion"): "@",
}


def planted_rules(
    papers: list[dict[str, Any]], authors: list[str], topics: list[str], plan: Plan
) -> list[dict[str, Any]]:
    """Simulated-adapter rules: for every prompt, the plan's variants rendered in varied styles."""
    import re

    rules = []
    for family, (kind, keyword) in FAMILY_KEYS.items():
        subjects = authors if kind == "author" else topics
        for index, subject in enumerate(subjects):
            for form in ("completion", "chat"):
                outputs = {}
                for v, (statuses, probability, preamble) in enumerate(plan.variants):
                    styles = STYLES[family]
                    body = render(
                        planted_entries(statuses, subject, kind, papers, index + v),
                        styles[(index + v) % len(styles)],
                    )
                    text = f"{preamble}\n{body}" if preamble and body else (preamble or body)
                    prefix = PREFIXES.get((family, form), "")
                    if prefix and text.startswith(prefix):
                        text = text[len(prefix) :]
                    elif prefix:
                        text = "\n" + text if prefix != "@" else text
                    outputs[text.replace("{", "{{").replace("}", "}}")] = probability
                start = "^user: " if form == "chat" else "^(?!user: )"
                rules.append(
                    {"match": f"{start}(?=[^\\n]*{keyword})[^\\n]*{re.escape(subject)}", "outputs": outputs}
                )
    return rules


def run(
    params: CitationsParams,
    adapter: SimulatedAdapter,
    run_dir: Path,
    *,
    resamples: int = 1000,
    seed: int = 0,
) -> tuple[list[MetricValue], pd.DataFrame, CitationsScenario]:
    """Run the scenario through the engine's Runner; returns metrics, the per-instance frame, the scenario."""
    from harness.aggregate import sample_frame

    scenario, metrics, _, _ = run_end_to_end(CitationsScenario, params, adapter, run_dir, seed, resamples)
    return metrics, sample_frame(run_dir), scenario


def simulated(rules: list[dict[str, Any]], **kwargs: Any) -> SimulatedAdapter:
    """A simulated adapter with the given rules."""
    return SimulatedAdapter(SimulatedParams(rules=rules, **kwargs))


def metric(metrics: list[MetricValue], name: str, **group: Any) -> MetricValue:
    """The metric ``name`` for ``group`` (no group: the overall value)."""
    wanted = group or None
    for value in metrics:
        if value.name == name and value.group == wanted:
            return value
    raise KeyError(f"{name} {group}")


@lru_cache(maxsize=1)
def agrawal_frame() -> pd.DataFrame:
    """The three Agrawal et al. result CSVs (loaded once per test session)."""
    from scenarios.citations.calibrate import load_agrawal

    return load_agrawal(AGRAWAL_DIR)
