"""Identifier normalization, winnowing and the renamed-copy detector."""

from __future__ import annotations

import ast
import io
import sysconfig
import textwrap
import tokenize
from pathlib import Path

import pytest

from scenarios.regurgitation.code import (
    PYTHON_KEEP,
    compare_code,
    fingerprint_overlap,
    lex,
    normalize_code,
    winnow,
)

ORIGINAL = '''
def moving_average(values, width):
    """Average of each window of `width` values."""
    # running total of the current window
    total = sum(values[:width])
    result = [total / width]
    for index in range(width, len(values)):
        total += values[index] - values[index - width]
        result.append(total / width)
    return result
'''

RENAMED = '''
def smooth(xs, k):
    """Average of each window of `width` values."""
    acc = sum(xs[:k])   # different comment
    out = [acc / k]

    for i in range(k, len(xs)):
            acc += xs[i] - xs[i - k]
            out.append(acc / k)
    return out
'''

UNRELATED = """
def parse_header(line):
    key, _, value = line.partition(":")
    if not key:
        raise ValueError("empty header name")
    return key.strip().lower(), value.strip()
"""


def test_normalization_renames_identifiers_by_first_appearance_and_keeps_builtins() -> None:
    tokens = normalize_code("total = len(items)  # count\nprint(total, items)\n")
    assert tokens == ["v0", "=", "len", "(", "v1", ")", "print", "(", "v0", ",", "v1", ")"]


def test_renamed_copy_normalizes_identically() -> None:
    assert normalize_code(ORIGINAL) == normalize_code(RENAMED)


def test_detector_flags_renamed_copy_and_not_unrelated_code() -> None:
    copy = compare_code(RENAMED, ORIGINAL)
    assert copy.renamed_copy
    assert copy.normalized_edit_similarity == 1.0
    assert copy.winnowing_overlap == 1.0
    assert copy.raw_edit_similarity < 0.7
    assert copy.near_verbatim_gap > 0.3
    other = compare_code(UNRELATED, ORIGINAL)
    assert not other.renamed_copy
    assert other.winnowing_overlap < 0.5


def test_python_fragments_that_do_not_tokenize_fall_back_to_the_regex_lexer() -> None:
    fragment = '        return total\n    x = """unterminated doc'
    with pytest.raises((tokenize.TokenError, IndentationError)):
        list(tokenize.generate_tokens(io.StringIO(fragment).readline))
    # tokenize yields up to "=", the regex lexer takes the rest: an empty string "" and a lone quote
    assert [t.text for t in lex(fragment)] == ["return", "total", "x", "=", '""', '"', "unterminated", "doc"]
    renamed = fragment.replace("total", "acc").replace("x =", "y =")
    assert normalize_code(fragment) == normalize_code(renamed)


def test_string_spelling_is_canonical() -> None:
    assert normalize_code("s = 'a'") == normalize_code('s = "a"')


def test_regex_lexer_for_other_languages() -> None:
    c_source = "int count = 0; // counter\n/* block */ for (int i = 0; i < n; i++) { count += i; }"
    renamed = "int total = 0;\nfor (int j = 0; j < size; j++) { total += j; } // sum"
    assert normalize_code(c_source, "c") == normalize_code(renamed, "c")
    assert normalize_code(c_source, "c")[:5] == ["int", "v0", "=", "0", ";"]
    assert normalize_code("x = 1 # note\ny = x", "ruby") == ["v0", "=", "1", "v1", "=", "v0"]
    assert normalize_code("select a -- note\nfrom t", "sql") == ["select", "v0", "v1", "v2"]


def test_winnowing_guarantee_detects_long_shared_runs() -> None:
    shared = [f"t{i}" for i in range(20)]
    a = ["a"] * 5 + shared + ["b"] * 5
    b = ["c"] * 7 + shared
    k, w = 5, 4
    assert len(shared) >= w + k - 1
    assert winnow(a, k, w) & winnow(b, k, w)
    assert winnow(["x"] * 3, k, w) == set()
    assert fingerprint_overlap(shared, a, k, w) == 1.0
    with pytest.raises(ValueError, match="k >= 1"):
        winnow(a, 0, 4)


def _stdlib_functions(module: str) -> list[str]:
    source = (Path(sysconfig.get_paths()["stdlib"]) / module).read_text(encoding="utf-8")
    functions = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef):
            segment = ast.get_source_segment(source, node)
            if segment and 12 <= len(segment.splitlines()) <= 50:
                functions.append(textwrap.dedent(segment))
    return functions


def _rename_locals(source: str) -> str:
    """A planted copy: every argument and assigned name renamed, comments rewritten, re-indented."""
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.arg):
            names.add(node.arg)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
    mapping = {name: f"renamed_{i}" for i, name in enumerate(sorted(names - PYTHON_KEEP - {"self", "cls"}))}
    tokens = []
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.NAME and token.string in mapping:
            token = token._replace(string=mapping[token.string])
        elif token.type == tokenize.COMMENT:
            token = token._replace(string="# rewritten")
        tokens.append(token)
    return tokenize.untokenize(tokens).replace("    ", "  ")


def test_detector_on_planted_stdlib_copies_and_unrelated_pairs() -> None:
    left = _stdlib_functions("difflib.py")[:12] + _stdlib_functions("textwrap.py")[:4]
    right = _stdlib_functions("argparse.py")[:12] + _stdlib_functions("calendar.py")[:4]
    assert len(left) == len(right) == 16
    copies = [compare_code(_rename_locals(f), f) for f in left + right]
    assert all(c.renamed_copy for c in copies)
    assert sum(c.raw_edit_similarity < 0.9 for c in copies) >= len(copies) // 2  # the renaming really bites
    unrelated = [compare_code(a, b) for a in left for b in right]
    assert not any(c.renamed_copy for c in unrelated)
