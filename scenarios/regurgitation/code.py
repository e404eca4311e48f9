"""Near-verbatim code copying: identifier normalization and winnowing fingerprints.

A model that reproduces training code with its variables renamed (a Type-2 clone: identical up to
identifiers and layout) scores low on verbatim metrics. To see such copies, both sides are first
*normalized* (docs/regurgitation.md):

* comments and layout (newlines, indentation, blank lines) are dropped;
* every identifier is renamed ``v0, v1, ...`` in order of first appearance, while keywords and
  builtins keep their names; literals are kept as written;
* operators are split into single characters, so that the result does not depend on which lexer
  produced it (see below).

Python is lexed with the standard library's :mod:`tokenize`. Fragments (a continuation cut after
m tokens) are often not complete Python: an unterminated string or an unclosed bracket makes
``tokenize`` stop with :class:`tokenize.TokenError`. The tokens it produced up to that point are
kept and the rest of the text is lexed by the regex lexer. Leading indentation is removed before
lexing (layout is dropped anyway), so fragments that start inside a block never raise
``IndentationError``.

Other languages use a documented regex lexer (:data:`GENERIC_TOKEN`): line and block comments in
the language's comment family (``//`` and ``/* */`` by default; ``#`` for Python, Ruby, shell, R,
Perl, YAML; ``--`` for SQL, Lua, Haskell), single- and double-quoted and backtick strings,
numbers, identifiers and single-character operators. Identifiers in :data:`GENERIC_KEYWORDS`
(the reserved words of C, C++, Java, JavaScript/TypeScript, Go, Rust, C# and similar) keep their
names.

Winnowing (Schleimer, Wilkerson & Aiken 2003, "Winnowing: local algorithms for document
fingerprinting", the MOSS scheme) hashes every k-gram of normalized tokens and keeps, in each
window of w consecutive hashes, the minimum (the rightmost one on ties). Any shared run of at
least ``w + k - 1`` tokens is guaranteed to share a fingerprint; runs shorter than ``k`` are
ignored. Fingerprints are taken over the normalized tokens with the identifier numbers erased
(``v0``, ``v7`` -> ``v``, MOSS's practice), so that one extra or missing variable does not shift
the number of every later identifier and break every later fingerprint. :func:`fingerprint_overlap`
is the share of the candidate's fingerprints that also occur in the reference (containment), so
a copied snippet inside a longer file still scores 1.
"""

from __future__ import annotations

import ast
import builtins
import hashlib
import io
import keyword
import re
import tokenize
from dataclasses import dataclass

from scenarios.regurgitation.metrics import (
    edit_similarity,
    longest_common_prefix,
    longest_common_substring,
    word_tokens,
)

PYTHON_KEEP = frozenset(keyword.kwlist) | frozenset(keyword.softkwlist) | frozenset(dir(builtins))
"""Python names that are not renamed: keywords, soft keywords and builtins."""

_GENERIC_KEYWORD_TEXT = """
abstract and as assert async await auto bool boolean break byte case catch char class const
constexpr continue crate def default defer delete do double dyn else elif enum explicit export
extends extern false final finally float fn for foreach func function go goto if impl implements
import in inline instanceof int interface internal let long loop match mod module move mut namespace
new nil none not null or override package private protected pub public range readonly ref register
restrict return select self short signed sizeof static struct super switch synchronized template
this throw throws trait true try type typedef typeof union unsafe unsigned use using var virtual
void volatile where while yield
"""
GENERIC_KEYWORDS = frozenset(_GENERIC_KEYWORD_TEXT.split())
"""Reserved words of common C-family, JVM, JavaScript, Go and Rust languages; kept by the regex lexer."""

COMMENT_FAMILIES: dict[str, str] = {
    "slash": r"//[^\n]*|/\*[\s\S]*?(?:\*/|\Z)",
    "hash": r"\#[^\n]*",
    "dash": r"--[^\n]*|/\*[\s\S]*?(?:\*/|\Z)",
}
"""Comment syntax of each language family, as regular-expression alternatives."""

LANGUAGE_FAMILY: dict[str, str] = {
    **dict.fromkeys(["python", "ruby", "shell", "bash", "sh", "r", "perl", "yaml", "toml", "julia"], "hash"),
    **dict.fromkeys(["sql", "lua", "haskell"], "dash"),
}
"""Languages whose comments are not C-style; every other language uses the ``slash`` family."""

_STRING = (
    r"(?:[rRbBuUfF]{0,2})"
    r"(?:\"\"\"[\s\S]*?\"\"\"|'''[\s\S]*?'''|\"(?:\\.|[^\"\\\n])*\"|'(?:\\.|[^'\\\n])*'|`[^`]*`)"
)
_NUMBER = (
    r"0[xXoObB][0-9a-fA-F_]+[lLuU]*"
    r"|(?:\d[\d_]*(?:\.[\d_]*)?|\.\d[\d_]*)(?:[eE][+-]?\d+)?[jJlLuUfF]*"
)


def _generic_pattern(family: str) -> re.Pattern[str]:
    return re.compile(
        rf"(?P<comment>{COMMENT_FAMILIES[family]})|(?P<string>{_STRING})|(?P<number>{_NUMBER})"
        r"|(?P<name>[^\W\d]\w*)|(?P<op>[^\w\s])"
    )


GENERIC_TOKEN: dict[str, re.Pattern[str]] = {family: _generic_pattern(family) for family in COMMENT_FAMILIES}
"""The regex lexer of each comment family (comments, strings, numbers, names, operators)."""


@dataclass(frozen=True)
class LexToken:
    """One lexical token: its class (name, string, number, op) and its text."""

    kind: str
    text: str


def _regex_lex(text: str, family: str) -> list[LexToken]:
    tokens = []
    for match in GENERIC_TOKEN[family].finditer(text):
        kind = match.lastgroup or "op"
        if kind != "comment":
            tokens.append(LexToken(kind, match.group()))
    return tokens


_PY_KINDS = {tokenize.NAME: "name", tokenize.STRING: "string", tokenize.NUMBER: "number", tokenize.OP: "op"}
_PY_LAYOUT = {
    tokenize.COMMENT,
    tokenize.NL,
    tokenize.NEWLINE,
    tokenize.INDENT,
    tokenize.DEDENT,
    tokenize.ENCODING,
    tokenize.ENDMARKER,
}


def _canonical_string(literal: str) -> str:
    """One spelling per string value ('a', "a" and \"\"\"a\"\"\" all become 'a'); f-strings stay as is."""
    try:
        value = ast.literal_eval(literal)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return literal
    return repr(value)


def _python_lex(text: str) -> list[LexToken]:
    """Lex Python with ``tokenize``; after a TokenError the rest is regex-lexed (module docstring)."""
    source = "\n".join(line.lstrip() for line in text.splitlines())
    lines = source.splitlines(keepends=True)
    tokens: list[LexToken] = []
    consumed = (1, 0)
    try:
        for token in tokenize.generate_tokens(io.StringIO(source).readline):
            if token.type in _PY_LAYOUT:
                consumed = token.end
                continue
            if token.type == tokenize.ERRORTOKEN and not token.string.strip():
                continue
            kind = _PY_KINDS.get(token.type, "op")  # FSTRING_* and ERRORTOKEN characters: treat as text
            text = _canonical_string(token.string) if kind == "string" else token.string
            tokens.append(LexToken(kind, text))
            consumed = token.end
    except (tokenize.TokenError, SyntaxError):
        row, col = consumed
        rest = "".join(lines[row - 1 :])[col:] if row - 1 < len(lines) else ""
        tokens.extend(_regex_lex(rest, "hash"))
    return tokens


def lex(text: str, language: str = "python") -> list[LexToken]:
    """Tokens of ``text`` without comments or layout (Python via tokenize, others via regex)."""
    if language.lower() == "python":
        tokens = _python_lex(text)
    else:
        tokens = _regex_lex(text, LANGUAGE_FAMILY.get(language.lower(), "slash"))
    split: list[LexToken] = []
    for token in tokens:
        if token.kind == "op" and len(token.text) > 1:
            split.extend(LexToken("op", char) for char in token.text if not char.isspace())
        else:
            split.append(token)
    return split


def normalize_code(text: str, language: str = "python") -> list[str]:
    """Normalized token sequence: layout and comments dropped, identifiers renamed v0, v1, ...

    Keywords and builtins (Python) or :data:`GENERIC_KEYWORDS` (other languages) keep their
    names, so ``for i in range(n): total += i`` and ``for k in range(m): acc += k`` normalize
    to the same sequence.
    """
    keep = PYTHON_KEEP if language.lower() == "python" else GENERIC_KEYWORDS
    names: dict[str, str] = {}
    normalized = []
    for token in lex(text, language):
        if token.kind == "name" and token.text not in keep:
            normalized.append(names.setdefault(token.text, f"v{len(names)}"))
        else:
            normalized.append(token.text)
    return normalized


_RENAMED = re.compile(r"v\d+")


def fingerprint_tokens(normalized: list[str]) -> list[str]:
    """Normalized tokens with identifier numbers erased (every ``v<i>`` becomes ``v``), for winnowing."""
    return ["v" if _RENAMED.fullmatch(token) else token for token in normalized]


def _stable_hash(gram: tuple[str, ...]) -> int:
    # Python's hash() is salted per process; fingerprints must be reproducible across runs.
    return int.from_bytes(hashlib.blake2b("\x1f".join(gram).encode(), digest_size=8).digest(), "big")


def winnow(tokens: list[str], k: int = 5, w: int = 4) -> set[int]:
    """Winnowing fingerprints of a token sequence (Schleimer et al. 2003).

    Hashes of all k-grams; in every window of ``w`` consecutive hashes the minimum is selected
    (rightmost on ties). A sequence shorter than ``k`` has no fingerprint; one with fewer than
    ``w`` k-grams contributes its single minimum.
    """
    if k < 1 or w < 1:
        raise ValueError(f"winnowing needs k >= 1 and w >= 1, got k={k}, w={w}")
    hashes = [_stable_hash(tuple(tokens[i : i + k])) for i in range(len(tokens) - k + 1)]
    if not hashes:
        return set()
    if len(hashes) <= w:
        return {min(hashes)}
    selected = set()
    for start in range(len(hashes) - w + 1):
        window = hashes[start : start + w]
        low = min(window)
        position = start + max(i for i, h in enumerate(window) if h == low)
        selected.add(hashes[position])
    return selected


def fingerprint_overlap(candidate: list[str], reference: list[str], k: int = 5, w: int = 4) -> float:
    """Share of the candidate's winnowing fingerprints found in the reference's (0 if it has none).

    Both arguments are normalized token sequences (:func:`normalize_code`); the fingerprints are
    taken over their :func:`fingerprint_tokens`.
    """
    mine = winnow(fingerprint_tokens(candidate), k, w)
    if not mine:
        return 0.0
    return len(mine & winnow(fingerprint_tokens(reference), k, w)) / len(mine)


@dataclass(frozen=True)
class CodeComparison:
    """Raw and normalized similarity of a candidate snippet to a reference snippet.

    ``renamed_copy`` is the detector's verdict: normalized edit similarity and winnowing
    overlap both at or above their thresholds. ``near_verbatim_gap`` is normalized minus raw
    edit similarity; a large gap with a high normalized score means the candidate is a
    near-verbatim (renamed / reformatted) copy.
    """

    raw_edit_similarity: float
    raw_longest_common_prefix: int
    normalized_edit_similarity: float
    normalized_longest_common_prefix: int
    normalized_longest_common_substring: int
    winnowing_overlap: float
    renamed_copy: bool

    @property
    def near_verbatim_gap(self) -> float:
        """Normalized minus raw edit similarity."""
        return self.normalized_edit_similarity - self.raw_edit_similarity


COPY_EDIT_SIMILARITY = 0.7
"""Normalized token edit similarity at or above which two snippets may be copies."""

COPY_FINGERPRINT_OVERLAP = 0.5
"""Share of the candidate's winnowing fingerprints that must occur in the reference."""


def compare_code(
    candidate: str,
    reference: str,
    language: str = "python",
    *,
    k: int = 5,
    w: int = 4,
    edit_threshold: float = COPY_EDIT_SIMILARITY,
    overlap_threshold: float = COPY_FINGERPRINT_OVERLAP,
) -> CodeComparison:
    """Compare two code snippets verbatim and after normalization; flag renamed copies.

    Both conditions are required: normalized edit similarity alone rises for any two pieces of
    code with the same shape, and fingerprint overlap alone fires on shared boilerplate. The
    defaults were chosen on 365 standard-library functions of 10-60 lines: renamed copies
    with changed comments are all flagged, renamed copies re-printed by ``ast.unparse`` 99.5%,
    and 1 of 6,000 pairs of different functions (two near-duplicate functions) is flagged;
    see docs/regurgitation.md.
    """
    raw_a, raw_b = word_tokens(candidate), word_tokens(reference)
    norm_a, norm_b = normalize_code(candidate, language), normalize_code(reference, language)
    normalized_similarity = edit_similarity(norm_a, norm_b)
    overlap = fingerprint_overlap(norm_a, norm_b, k, w)
    return CodeComparison(
        raw_edit_similarity=edit_similarity(raw_a, raw_b),
        raw_longest_common_prefix=longest_common_prefix(raw_a, raw_b),
        normalized_edit_similarity=normalized_similarity,
        normalized_longest_common_prefix=longest_common_prefix(norm_a, norm_b),
        normalized_longest_common_substring=longest_common_substring(norm_a, norm_b),
        winnowing_overlap=overlap,
        renamed_copy=normalized_similarity >= edit_threshold and overlap >= overlap_threshold,
    )
