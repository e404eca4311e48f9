"""No module loads code from data: no unpickling, no marshalled bytecode, no torch.load that may unpickle.

Caches and the home folder are untrusted (docs/security.md); a loader that can run code must never
read from them, so none may appear in the project's code at all.
"""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FORBIDDEN = {
    r"\bpickle\.loads?\(": "unpickling runs code",
    r"\bmarshal\.loads?\(": "marshalled bytecode is code",
    r"\bBytecodeCache\b": "jinja2's bytecode cache loads marshalled code from disk",
    r"allow_pickle\s*=\s*True": "numpy unpickles object arrays",
    r"\bdill\.|\bcloudpickle\.|\bjoblib\.load\(": "these unpickle",
}


def test_no_module_loads_code_from_data() -> None:
    found = []
    for path in sorted([*REPO.glob("harness/**/*.py"), *REPO.glob("scenarios/**/*.py")]):
        text = path.read_text(encoding="utf-8")
        for pattern, why in FORBIDDEN.items():
            found += [f"{path.relative_to(REPO)}: {why}" for _ in re.finditer(pattern, text)]
        for call in re.finditer(r"\btorch\.load\(([^)]*)\)", text):
            if "weights_only=True" not in call.group(1):
                found.append(f"{path.relative_to(REPO)}: torch.load without weights_only=True unpickles")
    assert found == []
