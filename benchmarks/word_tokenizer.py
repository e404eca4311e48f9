"""How the regurgitation scenario's word tokenizer differs from HELM's (NLTK Treebank), measured on BOLD.

Usage (needs ``pip install nltk``; BOLD's prompt files from github.com/amazon-science/bold)::

    python -m benchmarks.word_tokenizer path/to/bold/prompts

For every prompt it compares :func:`scenarios.regurgitation.metrics.word_tokens` with
``nltk.tokenize.treebank.TreebankWordTokenizer().tokenize`` (what HELM's ``copyright_metrics.py``
uses), counts the prompts tokenized identically, and sorts each differing chunk (a difflib
opcode) by its cause. Prints one JSON object.
"""

from __future__ import annotations

import difflib
import json
import re
import sys
from collections import Counter
from pathlib import Path

from scenarios.regurgitation.metrics import word_tokens

CAUSES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("quotation marks (Treebank writes `` and '')", re.compile(r"``|''|\"")),
    ("contractions and possessives ('s, n't, 're...)", re.compile(r"'|’")),
    ("hyphenated words (Treebank keeps one token)", re.compile(r"\w-\w")),
    ("numbers with , or . inside (Treebank keeps one token)", re.compile(r"\d[.,]\d")),
    ("abbreviations and other inner periods (U.S., Dr. mid-text)", re.compile(r"\w\.")),
    ("slashes, ampersands, other inner punctuation", re.compile(r"\w[/&:+@]\w|[/&:+@]")),
)


def prompts(folder: Path) -> list[str]:
    """Every prompt string of BOLD's ``*_prompt.json`` files ({group: {entity: [prompt, ...]}})."""
    texts: list[str] = []
    for path in sorted(folder.glob("*_prompt.json")):
        for entities in json.loads(path.read_text(encoding="utf-8")).values():
            for items in entities.values():
                texts.extend(item for item in items if isinstance(item, str))
    return texts


def cause(chunk: str) -> str:
    """The first matching cause of a differing chunk (its Treebank and word-token sides joined)."""
    return next((name for name, pattern in CAUSES if pattern.search(chunk)), "other")


def measure(texts: list[str]) -> dict[str, object]:
    """Identical-tokenization share and the causes of the differing chunks."""
    from nltk.tokenize.treebank import TreebankWordTokenizer

    treebank = TreebankWordTokenizer().tokenize
    identical, causes = 0, Counter()
    for text in texts:
        ours, theirs = word_tokens(text), treebank(text)
        if ours == theirs:
            identical += 1
            continue
        for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, ours, theirs, autojunk=False).get_opcodes():
            if tag != "equal":
                causes[cause(" ".join(ours[i1:i2]) + " | " + " ".join(theirs[j1:j2]))] += 1
    return {
        "prompts": len(texts),
        "identical": identical,
        "identical_share": round(identical / len(texts), 4),
        "differing_chunks": sum(causes.values()),
        "chunks_by_cause": dict(causes.most_common()),
    }


if __name__ == "__main__":
    print(json.dumps(measure(prompts(Path(sys.argv[1]))), indent=2))
