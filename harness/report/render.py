"""HTML rendering: a jinja2 environment with autoescaping, number formatting and CI-bar geometry.

Every page is one self-contained file: the stylesheet and the script are inlined, images are
data URIs, and a Content-Security-Policy allows nothing else (no network, no inline event
handlers, only the page's own script by its hash). Model outputs and every other recorded string
are untrusted text: autoescaping renders them as text, and the CSP is a second wall should any
markup ever slip through.
"""

from __future__ import annotations

import base64
import hashlib
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

TEMPLATE_DIR = Path(__file__).parent


def format_number(value: Any) -> str:
    """A compact, column-friendly number: 3 decimals below 10, 1 above, '–' when missing."""
    if value is None or isinstance(value, bool):
        return "–" if value is None else str(value)
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    if math.isnan(number):
        return "–"
    if abs(number) < 1e-12:  # floating-point residue such as 6.9e-18 reads as a real value; show 0
        number = 0.0
    if number != 0 and abs(number) < 1e-3:
        return f"{number:.2e}"
    if abs(number) < 10:
        return f"{number:.3f}"
    return f"{number:,.1f}"


def format_ci(low: Any, high: Any) -> str:
    """'[low, high]' or '–' when the interval is missing."""
    if low is None or high is None:
        return "–"
    return f"[{format_number(low)}, {format_number(high)}]"


def sort_key(value: Any) -> str:
    """The data-sort attribute of a numeric cell ('' sorts missing values last)."""
    if value is None:
        return ""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    return "" if math.isnan(number) else repr(number)


@dataclass(frozen=True)
class Scale:
    """The value range of a group of CI bars, so bars of one metric are drawn on one axis."""

    low: float
    high: float

    @classmethod
    def covering(cls, numbers: list[float | None]) -> Scale:
        """A scale covering all finite numbers; exactly [0, 1] when they all lie there (rates, scores)."""
        finite = [float(x) for x in numbers if x is not None and math.isfinite(float(x))]
        if not finite:
            return cls(0.0, 1.0)
        low, high = min(finite), max(finite)
        if low >= 0.0 and high <= 1.0:
            return cls(0.0, 1.0)
        pad = (abs(high) * 0.1 or 1.0) if high == low else (high - low) * 0.05
        return cls(low - pad, high + pad)

    def position(self, value: float) -> float:
        """Percent position of ``value`` along the scale."""
        return max(0.0, min(100.0, 100.0 * (value - self.low) / (self.high - self.low)))

    def bar(self, value: float | None, low: float | None, high: float | None) -> dict[str, float] | None:
        """Left/width of the CI whisker and the point position, in percent; None when no value."""
        if value is None or not math.isfinite(value):
            return None
        lo = self.position(low if low is not None else value)
        hi = self.position(high if high is not None else value)
        return {
            "left": round(lo, 2),
            "width": round(max(hi - lo, 0.0), 2),
            "point": round(self.position(value), 2),
        }


IMAGE_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".svg": "image/svg+xml"}


def image_mime(path: Path) -> str | None:
    """The MIME type of a PNG, JPEG or SVG artifact by its suffix; None for anything else."""
    return IMAGE_TYPES.get(path.suffix.lower())


def image_data_uri(path: Path, data: bytes) -> str:
    """A data URI of an image artifact's bytes (shown through <img>, which never runs scripts)."""
    return f"data:{image_mime(path)};base64,{base64.b64encode(data).decode('ascii')}"


ENVIRONMENT_OPTIONS: dict[str, Any] = {
    "autoescape": True,
    "undefined": jinja2.StrictUndefined,
    "trim_blocks": True,
    "lstrip_blocks": True,
}
"""Options of the one jinja2 environment: autoescaping of every template, undefined names are errors."""


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    """The jinja2 environment: autoescaping on for every template, undefined names are errors.

    One per process, so a report drawing many runs compiles each template once. Compiled
    templates are never kept on disk: jinja2's bytecode cache loads them with ``marshal``, which
    runs whatever code a file in the cache folder holds, and nothing read from the home folder may
    run code (docs/security.md).
    """
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATE_DIR), **ENVIRONMENT_OPTIONS)
    env.filters["num"] = format_number
    env.filters["ci"] = format_ci
    env.filters["sortkey"] = sort_key
    return env


def render_page(template: str, **context: Any) -> str:
    """Render a full page with the inlined stylesheet and script and a matching CSP."""
    env = environment()
    script = env.get_template("script.js.j2").render()
    style = env.get_template("style.css.j2").render()
    script_hash = base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode("ascii")
    csp = (
        "default-src 'none'; img-src data:; style-src 'unsafe-inline'; "
        f"script-src 'sha256-{script_hash}'; base-uri 'none'; form-action 'none'"
    )
    return env.get_template(template).render(
        inline_script=Markup(script), inline_style=Markup(style), csp=csp, **context
    )


def render_fragment(template: str, **context: Any) -> Markup:
    """Render part of a page (already escaped HTML, inserted into a page as it is)."""
    return Markup(environment().get_template(template).render(**context))
