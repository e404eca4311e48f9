"""Calibration and validation on real model answers (Agrawal et al. 2024, ``hallucinated_references``).

The released CSVs hold, for GPT-4, GPT-3.5-turbo and text-davinci-003, 200 answers each to
'List 5 existing references related to "{topic}". Just output the titles.' (column
``model_answer_main_query``), the five titles the authors parsed from each answer
(``gen_title``) and whether a Bing search for the title returned anything (``bing_return``).

* **Extraction recall** – the share of ``gen_title`` values that :func:`extract_citations`
  recovers from the answer (normalized titles with rapidfuzz ratio >= 90, which absorbs the
  stray quotes that the authors' own parser left in ``gen_title``).
* **Title matching against Bing** – the titles with ``bing_return`` True form a bibliography
  declared complete (closed world); every answer is extracted and verified, and each title's
  decision (real = verified or mangled; fabricated) is compared with ``bing_return``. Every
  model's own Bing-found titles are in that bibliography, so the agreement is circular as a
  measure of fabrication: it only says how rarely a fabricated title is matched to a real one.
* **Fabrication with a partial bibliography** – the honest check
  (:func:`partial_bibliography_check`): one model's titles are verified against the Bing-found
  titles of the *other* models only, a part of the real titles that this model did not choose,
  with the coverage-aware verdict; fabrication among covered titles is compared with the Bing
  labels of the same titles, and the coverage rate says how much the sources can speak for.
* **Threshold calibration** – the mangled band needs positives too: real titles corrupted the
  way models mangle them (character typos, a dropped subtitle or word, swapped words, changed
  case and punctuation; :func:`corrupt_title`). Thresholds are chosen on one half of the topics
  to maximise balanced accuracy between "Bing-False titles are fabricated" and "corrupted real
  titles are not", and reported on the other half.

Run ``python -m scenarios.citations.calibrate path/to/hallucinated-references`` to
reproduce the numbers in docs/citations.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
from rapidfuzz import fuzz

from harness import stats
from harness.errors import DataError
from scenarios.citations.bibliography import Bibliography
from scenarios.citations.extract import extract_citations
from scenarios.citations.normalize import normalize_title
from scenarios.citations.records import BibRecord, Citation
from scenarios.citations.verify import COVERED, Thresholds, Verifier, word_support

MODELS = ("gpt-4", "gpt-3.5-turbo", "text-davinci-003")
RECALL_MATCH = 90.0
VERIFIED_GRID = (90.0, 92.0, 94.0, 95.0, 96.0, 98.0, 100.0)
MANGLED_GRID = (30.0, 40.0, 50.0, 60.0, 70.0, 80.0, 90.0)
WORD_GRID = (60.0, 70.0, 75.0, 80.0, 85.0, 90.0, 100.0)


def load_agrawal(directory: Path, models: Sequence[str] = MODELS) -> pd.DataFrame:
    """The three result CSVs as one frame (columns: model, topic, gen_title, answer, bing_return)."""
    import datasets

    frames = []
    for model in models:
        path = directory / f"{model}_results.csv"
        if not path.exists():
            raise DataError("missing Agrawal et al. results file", path=str(path))
        table = datasets.load_dataset("csv", data_files=str(path), split="train").to_pandas()
        frames.append(
            pd.DataFrame(
                {
                    "model": model,
                    "topic": table["title"].astype(str),
                    "gen_title": table["gen_title"].astype(str),
                    "answer": table["model_answer_main_query"].astype(str),
                    "bing_return": table["bing_return"].astype(str).str.lower().eq("true"),
                    "claimed_authors": table["model_ans_1"].map(claimed_authors),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def claimed_authors(value: object) -> tuple[str, ...]:
    """The author names a model gave when asked who wrote its title (``model_ans_1``): its claim."""
    if not isinstance(value, str):
        return ()
    return tuple(name.strip() for name in re.split(r",|;|\band\b", value) if name.strip())


@lru_cache(maxsize=4096)
def _extract(answer: str) -> tuple[Citation, ...]:
    """Extraction of one answer, memoised: recall, probes and agreement all parse the same 600 answers."""
    return tuple(extract_citations(answer))


def _extracted(frame: pd.DataFrame) -> dict[str, tuple[Citation, ...]]:
    return {answer: _extract(answer) for answer in frame["answer"].unique()}


def aligned_citation(gen_title: str, citations: Sequence[Citation]) -> tuple[Citation | None, float]:
    """The extracted citation whose title best matches ``gen_title``, and that similarity."""
    target = normalize_title(gen_title)
    best: tuple[Citation | None, float] = (None, 0.0)
    for citation in citations:
        score = float(fuzz.ratio(target, normalize_title(citation.title or "")))
        if score > best[1]:
            best = (citation, score)
    return best


def extraction_recall(frame: pd.DataFrame) -> dict[str, float]:
    """Share of ``gen_title`` rows recovered from their answer, per model and overall."""
    extracted = _extracted(frame)
    hits = [
        aligned_citation(g, extracted[a])[1] >= RECALL_MATCH
        for g, a in zip(frame["gen_title"], frame["answer"], strict=True)
    ]
    result = pd.Series(hits, index=frame.index).groupby(frame["model"]).mean().to_dict()
    result["all"] = float(sum(hits) / len(hits))
    return {k: float(v) for k, v in result.items()}


def bing_bibliography(frame: pd.DataFrame) -> Bibliography:
    """Every title that Bing found (``bing_return`` True), as a bibliography."""
    titles = sorted(set(frame.loc[frame["bing_return"], "gen_title"]))
    return Bibliography([BibRecord(title=t) for t in titles], name="agrawal-bing-true")


def corrupt_title(title: str, rng: random.Random, kind: str) -> str:
    """A real title mangled the way models cite them: ``typo``, ``subtitle``, ``drop``, ``swap``, ``case``."""
    words = title.split()
    if kind == "typo":
        candidates = [i for i, w in enumerate(words) if len(w) >= 5] or [0]
        for index in rng.sample(candidates, min(2, len(candidates))):
            word = list(words[index])
            position = rng.randrange(1, len(word)) if len(word) > 1 else 0
            operation = rng.choice(("delete", "substitute", "transpose"))
            if operation == "delete":
                del word[position]
            elif operation == "substitute":
                word[position] = rng.choice("aeiourstnl")
            elif position + 1 < len(word):
                word[position], word[position + 1] = word[position + 1], word[position]
            words[index] = "".join(word)
        return " ".join(words)
    if kind == "subtitle" and ":" in title and len(title.split(":", 1)[0].split()) >= 2:
        return title.split(":", 1)[0]
    if kind in {"subtitle", "drop"} and len(words) >= 4:
        del words[rng.randrange(len(words))]
        return " ".join(words)
    if kind == "swap" and len(words) >= 3:
        index = rng.randrange(len(words) - 1)
        words[index], words[index + 1] = words[index + 1], words[index]
        return " ".join(words)
    return title.upper() if rng.random() < 0.5 else title.replace(":", " -").lower()


CORRUPTIONS = ("typo", "subtitle", "drop", "swap", "case")


@dataclass(frozen=True)
class Probe:
    """A title to classify, whether it is really a real paper, and the half of topics it is in."""

    title: str
    real: bool
    half: int
    origin: str


def probes(frame: pd.DataFrame, seed: int = 0) -> list[Probe]:
    """Bing-False extracted titles (negatives) and corrupted Bing-True titles (positives)."""
    extracted = _extracted(frame)
    topics = sorted(frame["topic"].unique())
    half_of = {topic: index % 2 for index, topic in enumerate(topics)}
    rng = random.Random(seed)
    found: list[Probe] = []
    for row in frame.itertuples(index=False):
        citation, score = aligned_citation(row.gen_title, extracted[row.answer])
        title = (
            citation.title
            if citation is not None and score >= RECALL_MATCH and citation.title
            else row.gen_title
        )
        if row.bing_return:
            kind = CORRUPTIONS[len(found) % len(CORRUPTIONS)]
            found.append(
                Probe(corrupt_title(title, rng, kind), True, half_of[row.topic], f"corrupted:{kind}")
            )
        else:
            found.append(Probe(title, False, half_of[row.topic], "bing_false"))
    return found


def _scores(bibliography: Bibliography, items: Sequence[Probe], limit: int) -> tuple[np.ndarray, np.ndarray]:
    """(title similarity, word support) of each probe's candidate records as two (probes x limit)
    arrays, computed once so that every grid point is a few array comparisons."""
    similarity = np.full((len(items), limit), -1.0)
    support = np.full((len(items), limit), -1.0)
    for row, probe in enumerate(items):
        cited = normalize_title(probe.title)
        for column, (record, score) in enumerate(bibliography.candidates(cited, limit=limit)[:limit]):
            similarity[row, column] = score
            support[row, column] = word_support(cited, record.normalized_title)
    return similarity, support


def _is_real(similarity: np.ndarray, support: np.ndarray, thresholds: Thresholds) -> np.ndarray:
    """Per probe: does any candidate classify as verified or mangled (same rule as classify_title)?"""
    verified = similarity >= thresholds.verified
    mangled = (similarity >= thresholds.mangled) & (support >= thresholds.word)
    return (verified | mangled).any(axis=1)


def calibrate(frame: pd.DataFrame, seed: int = 0) -> dict[str, object]:
    """Grid-search the thresholds on topic half 0; report sensitivity and specificity on both halves.

    Ties in balanced accuracy go to the strictest point (highest verified, then mangled, then
    word threshold): the least generous matching that is as accurate.
    """
    bibliography = bing_bibliography(frame)
    items = probes(frame, seed)
    similarity, support = _scores(bibliography, items, Thresholds().candidates)
    real = np.array([p.real for p in items])
    half = np.array([p.half for p in items])
    table = []
    for verified, mangled, word in itertools.product(VERIFIED_GRID, MANGLED_GRID, WORD_GRID):
        if mangled > verified:
            continue
        decided = _is_real(similarity, support, Thresholds(verified=verified, mangled=mangled, word=word))
        row: dict[str, float] = {"verified": verified, "mangled": mangled, "word": word}
        for part in (0, 1):
            row[f"sensitivity_{part}"] = float(decided[(half == part) & real].mean())
            row[f"specificity_{part}"] = float((~decided[(half == part) & ~real]).mean())
            row[f"balanced_{part}"] = (row[f"sensitivity_{part}"] + row[f"specificity_{part}"]) / 2
        table.append(row)
    grid = pd.DataFrame(table)
    best = grid.sort_values(["balanced_0", "verified", "mangled", "word"], ascending=False).iloc[0]
    return {
        "best": best.to_dict(),
        "grid": grid,
        "n_positives": int(real.sum()),
        "n_negatives": int((~real).sum()),
    }


def bing_agreement(frame: pd.DataFrame, thresholds: Thresholds | None = None) -> dict[str, object]:
    """Verify every extracted title against the Bing-True bibliography; compare with ``bing_return``.

    Returns the overall agreement (real = verified or mangled), the agreement per model, and the
    status-by-label counts.
    """
    verifier = Verifier(bing_bibliography(frame), thresholds or Thresholds(), closed_world=True)
    extracted = _extracted(frame)
    statuses = []
    for row in frame.itertuples(index=False):
        citation, score = aligned_citation(row.gen_title, extracted[row.answer])
        if citation is None or score < RECALL_MATCH:
            citation = Citation(raw=row.gen_title, title=row.gen_title)
        statuses.append(verifier.verify(citation).status)
    result = frame.assign(status=statuses)
    result["agrees"] = result["status"].ne("fabricated").eq(result["bing_return"])
    return {
        "agreement": float(result["agrees"].mean()),
        "by_model": {k: float(v) for k, v in result.groupby("model")["agrees"].mean().items()},
        "table": pd.crosstab(result["status"], result["bing_return"]),
        "n": len(result),
    }


def partial_bibliography_check(
    frame: pd.DataFrame, model: str = "gpt-4", *, author_coverage: bool = False
) -> dict[str, object]:
    """Coverage-aware fabrication of ``model``'s titles against the other models' Bing-found titles.

    The bibliography holds titles only: the CSVs have no true author lists, only each model's
    claim (``model_ans_1``). ``author_coverage=True`` instead gives each record its model's
    claimed authors and declares every such author complete, the naive reading of "its authors
    are in the bibliography": it shows why presence of an author is not coverage. Rates have
    95% bootstrap CIs that resample answers (five titles each).
    """
    others = frame[(frame["model"] != model) & frame["bing_return"]]
    records = {}
    for title, authors in zip(others["gen_title"], others["claimed_authors"], strict=True):
        kept = authors if author_coverage else ()
        records.setdefault(normalize_title(title), BibRecord(title=title, authors=kept))
    bibliography = Bibliography(records.values(), name=f"bing-true titles of models other than {model}")
    complete = sorted({a for r in records.values() for a in r.authors}) if author_coverage else []
    verifier = Verifier(bibliography, complete_authors=complete)
    own = frame[frame["model"] == model]
    extracted = _extracted(own)
    statuses = []
    for row in own.itertuples(index=False):
        citation, score = aligned_citation(row.gen_title, extracted[row.answer])
        if citation is None or score < RECALL_MATCH:
            citation = Citation(raw=row.gen_title, title=row.gen_title)
        if author_coverage:
            citation = dataclasses.replace(citation, authors=row.claimed_authors)
        statuses.append(verifier.verify(citation).status)
    result = own.assign(status=statuses)
    covered = result["status"].isin(COVERED).to_numpy(dtype=float)
    fabricated = result["status"].eq("fabricated").to_numpy(dtype=float)
    answers = result["answer"].to_numpy()
    labels = (~result["bing_return"]).to_numpy(dtype=float)
    ones = np.ones(len(result))
    return {
        "n": len(result),
        "bibliography_records": len(bibliography),
        "coverage": stats.ratio_estimate(covered, ones, answers, support="unit_interval"),
        "fabrication_among_covered": stats.ratio_estimate(
            fabricated, covered, answers, support="unit_interval"
        ),
        "label_rate_among_covered": float(labels[covered == 1].mean()) if covered.any() else None,
        "label_rate": float(labels.mean()),
        "unmatched_share": float(result["status"].isin(("fabricated", "not_covered")).mean()),
        "table": pd.crosstab(result["status"], result["bing_return"]),
    }


def main(argv: Sequence[str] | None = None) -> None:
    """Print extraction recall, the calibration grid's best point and the Bing agreement."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directory", type=Path, help="folder with the *_results.csv files")
    args = parser.parse_args(argv)
    frame = load_agrawal(args.directory)
    print("extraction recall:", extraction_recall(frame))
    calibration = calibrate(frame)
    print("calibration (chosen on topic half 0):", calibration["best"])
    agreement = bing_agreement(frame)
    print(f"agreement with bing_return at the defaults: {agreement['agreement']:.4f} (n={agreement['n']})")
    print("by model:", agreement["by_model"])
    print(agreement["table"])
    for author_coverage in (False, True):
        check = partial_bibliography_check(frame, author_coverage=author_coverage)
        print(
            f"gpt-4 against the other models' Bing-found titles (author coverage {author_coverage}): "
            f"coverage {_estimate(check['coverage'])}, fabrication among covered "
            f"{_estimate(check['fabrication_among_covered'])}, Bing label rate among covered "
            f"{check['label_rate_among_covered']}, overall {check['label_rate']:.3f}"
        )
        print(check["table"])


def _estimate(estimate: stats.Estimate) -> str:
    if estimate.value is None:
        return "n/a"
    return f"{estimate.value:.3f} [{estimate.low:.3f}, {estimate.high:.3f}]"


if __name__ == "__main__":
    main()
