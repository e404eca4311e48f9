"""Gate verdicts and their outputs: verdict JSON, JUnit XML and a model-card Markdown section.

A verdict is a list of checks. A threshold check compares a metric's 95% CI with a threshold;
a baseline check compares the candidate with a baseline run on the same instances. Each check
is PASS, FAIL, INCONCLUSIVE or ERROR; the gate's verdict is the most severe one, in the order
FAIL > ERROR > INCONCLUSIVE > PASS (a confirmed failure outranks an unusable measurement).
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from harness.report.markdown import cell, table
from harness.report.render import format_ci, format_number

PASS, FAIL, INCONCLUSIVE, ERROR = "PASS", "FAIL", "INCONCLUSIVE", "ERROR"
SEVERITY = {PASS: 0, INCONCLUSIVE: 1, ERROR: 2, FAIL: 3}
EXIT_CODES = {PASS: 0, FAIL: 1, INCONCLUSIVE: 3, ERROR: 4}
"""Exit code of `harness gate` per verdict (2 is left to usage errors, as argparse does)."""
SYMBOLS = {"higher_is_better": "≥", "lower_is_better": "≤"}


@dataclass
class CheckResult:
    """The outcome of one rule, as a threshold check or as a baseline comparison."""

    rule_id: str
    kind: str
    scenario: str | None
    metric: str
    group: dict[str, Any] | None
    direction: str | None
    status: str
    reason: str
    threshold: float | None = None
    margin: float | None = None
    value: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    n: int | None = None
    n_errors: int | None = None
    run: str | None = None
    baseline_value: float | None = None
    baseline_run: str | None = None
    p_value: float | None = None
    p_adjusted: float | None = None
    description: str = ""

    @property
    def title(self) -> str:
        """'<rule id>: metric[group] ≥ threshold' or '... vs baseline (margin m)'."""
        group = "".join(f"[{k}={v}]" for k, v in (self.group or {}).items())
        subject = f"{self.metric}{group}"
        if self.kind == "baseline":
            return f"{self.rule_id}: {subject} non-inferior to baseline (margin {format_number(self.margin)})"
        symbol = SYMBOLS.get(self.direction or "", "vs")
        return f"{self.rule_id}: {subject} {symbol} {format_number(self.threshold)}"


@dataclass
class GateVerdict:
    """All checks of one gate evaluation and what they were evaluated on."""

    policy: str
    checks: list[CheckResult]
    model: dict[str, Any]
    candidate_runs: list[str]
    description: str = ""
    baseline_runs: list[str] = field(default_factory=list)
    baseline_model: dict[str, Any] | None = None
    provenance: list[dict[str, Any]] = field(default_factory=list)
    generated: str = ""
    harness_version: str = ""

    @property
    def verdict(self) -> str:
        """The most severe check status (PASS when every check passes)."""
        return max((c.status for c in self.checks), key=SEVERITY.__getitem__, default=ERROR)

    @property
    def exit_code(self) -> int:
        """The process exit code for this verdict."""
        return EXIT_CODES[self.verdict]

    def counts(self) -> dict[str, int]:
        """Number of checks per status."""
        return {status: sum(c.status == status for c in self.checks) for status in SEVERITY}


def verdict_json(verdict: GateVerdict) -> dict[str, Any]:
    """The verdict file's content."""
    return {
        "schema_version": 1,
        "policy": verdict.policy,
        "description": verdict.description,
        "verdict": verdict.verdict,
        "exit_code": verdict.exit_code,
        "counts": verdict.counts(),
        "generated": verdict.generated,
        "harness_version": verdict.harness_version,
        "model": verdict.model,
        "candidate_runs": verdict.candidate_runs,
        "baseline_model": verdict.baseline_model,
        "baseline_runs": verdict.baseline_runs,
        "checks": [{"title": c.title, **asdict(c)} for c in verdict.checks],
        "provenance": verdict.provenance,
    }


def _details(check: CheckResult) -> str:
    lines = [check.reason, *([check.description] if check.description else [])]
    if check.value is not None:
        label = "candidate − baseline" if check.kind == "baseline" else "value"
        lines.append(f"{label}: {format_number(check.value)} 95% CI {format_ci(check.ci_low, check.ci_high)}")
    if check.p_adjusted is not None:
        lines.append(f"p (one-sided) = {check.p_value:.4g}, Holm-adjusted = {check.p_adjusted:.4g}")
    if check.n is not None:
        lines.append(f"n = {check.n}, errors = {check.n_errors}")
    return "\n".join(lines)


def junit_xml(verdict: GateVerdict) -> bytes:
    """JUnit XML: one test case per check; FAIL and INCONCLUSIVE are failures, ERROR is an error."""
    counts = verdict.counts()
    suites = ET.Element("testsuites", name="rai-harness gate")
    suite = ET.SubElement(
        suites,
        "testsuite",
        name=f"rai-harness gate: {verdict.policy}",
        tests=str(len(verdict.checks)),
        failures=str(counts[FAIL] + counts[INCONCLUSIVE]),
        errors=str(counts[ERROR]),
        skipped="0",
        time="0",
    )
    properties = ET.SubElement(suite, "properties")
    for name, value in (
        ("verdict", verdict.verdict),
        ("model", str(verdict.model.get("model_id"))),
        ("policy", verdict.policy),
    ):
        ET.SubElement(properties, "property", name=name, value=value)
    for check in verdict.checks:
        case = ET.SubElement(
            suite,
            "testcase",
            classname=f"gate.{verdict.policy}.{check.scenario or 'any'}",
            name=check.title,
            time="0",
        )
        details = _details(check)
        if check.status == PASS:
            ET.SubElement(case, "system-out").text = details
        else:
            element = "error" if check.status == ERROR else "failure"
            ET.SubElement(
                case, element, type=check.status, message=f"{check.status}: {check.reason}"
            ).text = details
    ET.indent(suites)
    return ET.tostring(suites, encoding="utf-8", xml_declaration=True)


def model_card_markdown(verdict: GateVerdict) -> str:
    """A "Responsible-AI evaluation" section ready to paste into a model card."""
    model = verdict.model
    identity = f"`{cell(model.get('model_id'))}`"
    if model.get("revision"):
        identity += f" (revision `{cell(model['revision'])}`)"
    elif model.get("weights_hash"):
        identity += f" (weights `{cell(str(model['weights_hash'])[:12])}`)"
    lines = [
        "## Responsible-AI evaluation",
        "",
        f"**Verdict: {verdict.verdict}** under the release-gate policy `{cell(verdict.policy)}` "
        f"(rai-harness {cell(verdict.harness_version)}, {cell(verdict.generated)}). Model: {identity}.",
        "",
    ]
    if verdict.description:
        lines += [f"Policy: {cell(verdict.description)}", ""]
    thresholds = [c for c in verdict.checks if c.kind == "threshold"]
    if thresholds:
        lines += table(
            ["Check", "Scenario", "Metric", "Requirement", "Result", "95% CI", "n", "Errors", "Verdict"],
            [
                [
                    c.rule_id,
                    c.scenario or "–",
                    c.metric + "".join(f" [{k}={v}]" for k, v in (c.group or {}).items()),
                    f"{SYMBOLS.get(c.direction or '', 'vs')} {format_number(c.threshold)}",
                    format_number(c.value),
                    format_ci(c.ci_low, c.ci_high),
                    c.n,
                    c.n_errors,
                    f"**{c.status}**" if c.status != PASS else c.status,
                ]
                for c in thresholds
            ],
        )
        lines.append("")
    comparisons = [c for c in verdict.checks if c.kind == "baseline"]
    if comparisons:
        baseline = (verdict.baseline_model or {}).get("model_id", "the baseline")
        lines += [
            f"Compared with the baseline `{cell(baseline)}` on the same instances (paired clustered t):",
            "",
        ]
        lines += table(
            ["Check", "Metric", "Candidate − baseline", "95% CI", "Margin", "Holm-adjusted p", "Verdict"],
            [
                [
                    c.rule_id,
                    c.metric + "".join(f" [{k}={v}]" for k, v in (c.group or {}).items()),
                    format_number(c.value),
                    format_ci(c.ci_low, c.ci_high),
                    format_number(c.margin),
                    format_number(c.p_adjusted),
                    f"**{c.status}**" if c.status != PASS else c.status,
                ]
                for c in comparisons
            ],
        )
        lines.append("")
    problems = [c for c in verdict.checks if c.status != PASS]
    if problems:
        lines += ["Findings:", ""]
        lines += [
            f"- **{c.status}** {cell(c.title)}: {cell(c.reason)}"
            + (f" ({cell(c.description)})" if c.description else "")
            for c in problems
        ]
        lines.append("")
    lines += [
        "How to read this: a check passes only when the whole 95% confidence interval lies on the "
        "acceptable side of its threshold; it fails when the whole interval lies on the other side, and "
        "is inconclusive when the interval straddles the threshold (more data would decide it). ERROR "
        "means the measurement could not be trusted (too many failed requests, or the metric was "
        "missing). Baseline checks test non-inferiority within the stated margin, Holm-corrected across "
        "checks.",
        "",
    ]
    if verdict.provenance:
        lines += ["Evaluation details:", ""]
        lines += table(
            ["Scenario", "Version", "Dataset fingerprint", "Scorers", "Seed", "Instances", "Errors"],
            [
                [
                    p["scenario"],
                    p["version"],
                    str(p["dataset_fingerprint"] or "–")[:12],
                    p["scorers"] or "–",
                    p["seed"],
                    p["n_instances"],
                    p["n_errors"],
                ]
                for p in verdict.provenance
            ],
        )
        lines.append("")
    return "\n".join(lines)


def write_verdict(verdict: GateVerdict, out_dir: Path) -> list[Path]:
    """Write verdict.json, junit.xml and model_card.md into ``out_dir``; returns their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path = out_dir / "verdict.json"
    json_path.write_text(json.dumps(verdict_json(verdict), indent=2, default=str) + "\n", encoding="utf-8")
    junit_path = out_dir / "junit.xml"
    junit_path.write_bytes(junit_xml(verdict))
    card_path = out_dir / "model_card.md"
    card_path.write_text(model_card_markdown(verdict), encoding="utf-8")
    return [json_path, junit_path, card_path]
