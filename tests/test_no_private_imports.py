"""No module of the engine or the scenarios uses a private symbol of a dependency.

Private names (``hydra._internal``, ``atexit._run_exitfuncs``, ``torch._C``) change without notice
between releases; the project uses only its dependencies' public API.
"""

from __future__ import annotations

import ast

import pytest

from tests.conftest import REPO

OWN_PACKAGES = ("harness", "scenarios")


def _private(dotted: str) -> bool:
    """Whether a dotted name has a part that starts with one underscore (dunders are public)."""
    return any(part.startswith("_") and not part.endswith("__") for part in dotted.split("."))


def private_uses(source: str) -> list[str]:
    """The private symbols of other packages that ``source`` imports or reads off an imported module."""
    found = []
    modules: set[str] = set()  # names bound to another package's module or object
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in OWN_PACKAGES:
                    continue
                if _private(alias.name):
                    found.append(alias.name)
                modules.add(alias.asname or alias.name.split(".")[0])
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module.split(".")[0] in OWN_PACKAGES or node.module == "__future__":
                continue
            for alias in node.names:
                if _private(f"{node.module}.{alias.name}"):
                    found.append(f"{node.module}.{alias.name}")
                modules.add(alias.asname or alias.name)
    for node in ast.walk(ast.parse(source)):
        name = node.value.id if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) else None
        if name in modules and _private(node.attr):
            found.append(f"{name}.{node.attr}")
    return found


def test_the_check_finds_private_imports_and_attributes() -> None:
    source = (
        "import atexit\nfrom hydra._internal.utils import run_and_report\nimport torch._C\n"
        "from os import _exit\natexit._run_exitfuncs()\nfrom harness import _own\nimport numpy as np\n"
        "np.__version__\n"
    )
    assert private_uses(source) == [
        "hydra._internal.utils.run_and_report",
        "torch._C",
        "os._exit",
        "atexit._run_exitfuncs",
    ]


@pytest.mark.parametrize("package", OWN_PACKAGES)
def test_no_private_symbol_of_a_dependency_is_used(package: str) -> None:
    offenders = {
        str(path.relative_to(REPO)): uses
        for path in sorted((REPO / package).rglob("*.py"))
        if (uses := private_uses(path.read_text(encoding="utf-8")))
    }
    assert offenders == {}
