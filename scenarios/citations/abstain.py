"""Detects responses that decline to cite (abstention) or warn that citations may be wrong (disclaimer).

The detector reads only the part of a response that is *not* a citation
(:func:`scenarios.citations.extract.residual_text`), so titles such as "Verifying Cryptographic
Protocols" never trigger it. Two families of English patterns, matched case-insensitively:

* **Refusal** – "I'm sorry, but I can't ...", "I cannot provide/list/access ...", "I don't have
  access to ...", "as an AI language model", "I'm not aware of any papers ...", "I could not
  find any ...".
* **Disclaimer** – advice to verify ("please verify / double-check these references", "check
  Google Scholar"), doubts about existence or accuracy ("may not exist", "might be inaccurate",
  "cannot verify"), admissions that the list is illustrative ("hypothetical", "fictional",
  "made-up" references), and knowledge-cutoff caveats.

A response **abstains** when it refuses and cites nothing; a refusal followed by citations
("I can't browse the web, but here are some papers ...") counts as a **disclaimer**. The
patterns are English-only; other languages are never detected (documented limitation).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

NEGATION = r"(?:cannot|can'?t|can not|could\s*not|couldn'?t|am unable to|am not able to|won'?t|will not)"
REFUSAL_PATTERNS = [
    rf"\b(?:i'?m|i am)\s+(?:sorry|afraid)\b[^.]{{0,80}}?\b(?:{NEGATION}|unable|not able|don'?t|do not)",
    rf"\bi\s+{NEGATION}\s+"
    r"(?:provide|give|list|generate|recommend|share|access|browse|search|find|recall|produce|cite|help)\b",
    r"\bi\s+(?:don'?t|do not)\s+have\s+"
    r"(?:access|the ability|real[- ]time|browsing|information|any information|knowledge)\b",
    r"\bas an ai\b(?:\s+(?:language\s+)?model)?",
    r"\bi(?:'m| am)\s+not\s+aware\s+of\s+any\b",
    r"\bi\s+(?:don'?t|do not)\s+know\s+(?:of\s+)?any\b",
    r"\bno\s+(?:such\s+)?(?:papers|publications|references|articles)\s+(?:by|from|on|exist)\b",
]
DISCLAIMER_PATTERNS = [
    r"\b(?:verify|double[- ]check|cross[- ]check|confirm|check)\b[^.\n]{0,60}?"
    r"\b(?:sources?|references?|citations?|titles?|details|accuracy|existence|them|these|this information)\b",
    r"\b(?:may|might|could)\s+(?:not\s+(?:exist|be\s+(?:real|accurate|correct))|"
    r"be\s+(?:inaccurate|incorrect|fictional|fabricated|hallucinated|made[- ]up|outdated|imaginary))\b",
    rf"\b(?:{NEGATION}|unable to|not able to)\s+(?:verify|guarantee|confirm)\b",
    r"\b(?:hypothetical|fictional|fictitious|illustrative|made[- ]up|invented|placeholder)\s+"
    r"(?:references?|citations?|titles?|examples?|papers?|entries)\b",
    r"\b(?:google scholar|semantic scholar|dblp|pubmed|web of science|scopus|crossref|"
    r"(?:a|your)\s+library)\b",
    r"\b(?:knowledge|training)\s+(?:cut-?off|cutoff)\b|\bas of my (?:last )?(?:update|knowledge|training)\b",
    r"\bnot\s+(?:be\s+)?(?:an?\s+)?(?:exhaustive|complete|definitive)\b[^.\n]{0,40}"
    r"\b(?:list|sources?|references?)\b",
]
REFUSAL = re.compile("|".join(f"(?:{p})" for p in REFUSAL_PATTERNS), re.IGNORECASE)
DISCLAIMER = re.compile("|".join(f"(?:{p})" for p in DISCLAIMER_PATTERNS), re.IGNORECASE)
APOSTROPHES = str.maketrans({"’": "'", "‘": "'"})


@dataclass(frozen=True)
class Hedging:
    """Whether a response abstained, disclaimed, and the phrase that decided it."""

    abstained: bool
    disclaimed: bool
    evidence: str | None = None


def detect_hedging(non_citation_text: str, n_citations: int) -> Hedging:
    """Classify a response from its text outside citations and the number of citations it gave."""
    text = non_citation_text.translate(APOSTROPHES)
    refusal = REFUSAL.search(text)
    disclaimer = DISCLAIMER.search(text)
    if refusal and n_citations == 0:
        return Hedging(abstained=True, disclaimed=False, evidence=refusal.group(0))
    if refusal or disclaimer:
        evidence = (disclaimer or refusal).group(0)  # type: ignore[union-attr]
        return Hedging(abstained=False, disclaimed=True, evidence=evidence)
    return Hedging(abstained=False, disclaimed=False)
