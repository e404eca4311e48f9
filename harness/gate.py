"""Release gates: a YAML policy of rules over run metrics -> PASS / FAIL / INCONCLUSIVE / ERROR.

A policy (``conf/gate/<name>.yaml``, or any YAML file) lists rules. Each rule names a metric of
a scenario (optionally one group of a breakdown) and a threshold; the metric's direction says
which side is good. The decision uses the metric's 95% CI from metrics.json:

* PASS – the whole CI is on the good side of the threshold;
* FAIL – the whole CI is on the bad side;
* INCONCLUSIVE – the CI straddles the threshold (or there is no CI);
* ERROR – the measurement cannot be trusted: the metric is missing, or more instances errored
  than ``max_errors`` / ``max_error_rate`` allow (errored instances are never scored).

With a baseline, each rule that has a ``non_inferiority_margin`` also compares the candidate
with the baseline on the same instances: per-instance scores are paired by instance id, and
the mean difference gets the clustered t interval (:func:`harness.stats.paired_difference`).
One-sided p-values test non-inferiority (H0: worse by at least the margin) and inferiority
(H0: not worse by the margin); both are Holm-corrected across the rules
(:func:`harness.stats.holm_adjust`). PASS when non-inferiority is shown at ``alpha``, FAIL when
inferiority is, INCONCLUSIVE otherwise.

Exit codes: 0 PASS, 1 FAIL, 3 INCONCLUSIVE, 4 ERROR, 2 the gate could not run (bad arguments or
policy, no runs). The gate writes verdict.json, junit.xml and model_card.md.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field
from datetime import datetime, timezone
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

import harness
from harness.config import config_dir, group_options, validate_section
from harness.errors import ConfigError, HarnessError
from harness.report.cli import default_out_dir
from harness.report.comparability import differing_keys, mismatch_message
from harness.report.frames import (
    LoadedRun,
    cluster_labels,
    group_label,
    instance_values,
    load_runs,
    normalise_group,
    scorer_names,
)
from harness.report.leaderboard import RANKED_DIRECTIONS
from harness.report.resampling import paired_noninferiority
from harness.report.verdict import (
    ERROR,
    FAIL,
    INCONCLUSIVE,
    PASS,
    CheckResult,
    GateVerdict,
    write_verdict,
)
from harness.stats import holm_adjust
from harness.types import unit_support

EXIT_USAGE = 2


@dataclass
class BaselineSettings:
    """How baseline comparisons run: which runs and the one-sided level of each test."""

    runs: list[str] = field(default_factory=list)
    alpha: float = 0.025


@dataclass
class GateRule:
    """One rule: a metric (of a scenario, optionally a group), a threshold and/or a baseline margin."""

    metric: str = ""
    scenario: str | None = None
    group: dict[str, Any] | None = None
    threshold: float | None = None
    direction: str | None = None
    non_inferiority_margin: float | None = None
    max_errors: int | None = None
    max_error_rate: float | None = None
    id: str | None = None
    description: str = ""


@dataclass
class GatePolicy:
    """A gate policy; ``max_errors`` / ``max_error_rate`` apply to every rule unless it overrides them."""

    name: str = "gate"
    description: str = ""
    max_errors: int | None = None
    max_error_rate: float | None = 0.05
    baseline: BaselineSettings = field(default_factory=BaselineSettings)
    rules: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Policy:
    """A validated policy: its settings and its typed rules."""

    settings: GatePolicy
    rules: list[GateRule]


def parse_policy(raw: dict[str, Any]) -> Policy:
    """Validate a policy mapping; errors name the key (``gate.rules[2].threshold``) and the fix."""
    settings: GatePolicy = validate_section(raw, GatePolicy, "gate")
    if not settings.rules:
        raise ConfigError(
            "gate.rules is empty: a gate policy needs at least one rule (see conf/gate/release.yaml)"
        )
    rules = []
    seen: set[str] = set()
    for index, raw_rule in enumerate(settings.rules):
        where = f"gate.rules[{index}]"
        rule: GateRule = validate_section(raw_rule, GateRule, where)
        if not rule.metric:
            raise ConfigError(f"{where}.metric is missing: name the metric the rule checks")
        if rule.threshold is None and rule.non_inferiority_margin is None:
            raise ConfigError(f"{where}: give a threshold, a non_inferiority_margin, or both")
        if rule.direction is not None and rule.direction not in RANKED_DIRECTIONS:
            raise ConfigError(
                f"{where}.direction must be one of {', '.join(RANKED_DIRECTIONS)}, got {rule.direction!r}"
            )
        if rule.non_inferiority_margin is not None and rule.non_inferiority_margin < 0:
            raise ConfigError(f"{where}.non_inferiority_margin must be >= 0")
        group = f"[{group_label(rule.group)}]" if rule.group else ""
        rule.id = rule.id or ".".join(filter(None, [rule.scenario, rule.metric])) + group
        if rule.id in seen:
            raise ConfigError(f"{where}.id {rule.id!r} is used twice; give each rule a distinct id")
        seen.add(rule.id)
        rules.append(rule)
    baseline = settings.baseline
    if not 0.0 < baseline.alpha < 0.5:
        raise ConfigError("gate.baseline.alpha must be in (0, 0.5)")
    return Policy(settings, rules)


def load_policy_file(spec: str) -> dict[str, Any]:
    """A policy from a YAML path, or by name from conf/gate/ (``release``)."""
    path = Path(spec)
    if not path.exists():
        if spec not in group_options("gate"):
            raise ConfigError(
                f"gate policy {spec!r} is neither a file nor one of conf/gate/: "
                f"{', '.join(group_options('gate'))}"
            )
        path = config_dir() / "gate" / f"{spec}.yaml"
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark else ""
        raise ConfigError(f"{path}{line}: malformed YAML ({getattr(exc, 'problem', exc)})") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a gate policy must be a YAML mapping with a 'rules' list")
    return data


def _single_model(runs: list[LoadedRun], role: str) -> dict[str, Any]:
    identities = {run.model_identity: run for run in runs}
    if len(identities) > 1:
        models = ", ".join(sorted({run.label for run in runs}))
        raise HarnessError(
            f"the {role} runs come from {len(identities)} different models ({models}); pass one model's runs"
        )
    return dict(runs[0].model)


def _matching_records(rule: GateRule, run: LoadedRun) -> list[dict[str, Any]]:
    wanted = normalise_group(rule.group)
    return [
        record
        for record in run.metric_records
        if fnmatchcase(str(record.get("name")), rule.metric)
        and normalise_group(record.get("group")) == wanted
    ]


def locate(rule: GateRule, runs: list[LoadedRun], role: str) -> tuple[LoadedRun, dict[str, Any]] | str:
    """The one run and metric record a rule refers to, or the reason there is not exactly one.

    The rule's metric may be a shell-style pattern (``misgendering_rate.*`` matches whichever
    protocol ran); it must match exactly one metric of one run.
    """
    candidates = [r for r in runs if rule.scenario in (None, r.scenario) and r.metrics_payload is not None]
    found = [(run, record) for run in candidates for record in _matching_records(rule, run)]
    if len(found) == 1:
        return found[0]
    group = f" for group {group_label(rule.group)}" if rule.group else ""
    if len(found) > 1:
        names = ", ".join(f"{record['name']} in {run.run_id}" for run, record in found)
        return (
            f"{role} metric {rule.metric!r}{group} matches several metrics ({names}); "
            "set the rule's scenario, use an exact metric name, or pass one run per scenario"
        )
    if not candidates:
        scenarios = ", ".join(sorted({r.scenario for r in runs})) or "none"
        return f"no {role} run of scenario {rule.scenario!r} with metrics (scenarios present: {scenarios})"
    reported_for = sorted(
        {
            group_label(m.get("group")) or "overall"
            for r in candidates
            for m in r.metric_records
            if fnmatchcase(str(m.get("name")), rule.metric)
        }
    )
    if reported_for:
        return (
            f"{role} metric {rule.metric!r} has no value{group or ' overall'}; it is reported for: "
            f"{', '.join(reported_for)} (set the rule's group to one of them)"
        )
    available = sorted({str(m.get("name")) for r in candidates for m in r.metric_records})
    return (
        f"{role} metric {rule.metric!r}{group} is missing; metrics present: {', '.join(available) or 'none'}"
    )


def _error_problem(record: dict[str, Any], rule: GateRule, policy: GatePolicy, role: str) -> str | None:
    n_errors = int(record.get("n_errors") or 0)
    total = int(record.get("n") or 0) + n_errors
    max_errors = rule.max_errors if rule.max_errors is not None else policy.max_errors
    max_rate = rule.max_error_rate if rule.max_error_rate is not None else policy.max_error_rate
    if max_errors is not None and n_errors > max_errors:
        return f"{role}: {n_errors} errored instances exceed max_errors={max_errors}"
    if max_rate is not None and total and n_errors / total > max_rate:
        return (
            f"{role}: {n_errors}/{total} instances errored ({n_errors / total:.1%}), "
            f"above max_error_rate={max_rate:.1%}"
        )
    return None


def _direction_problem(direction: str, record: dict[str, Any]) -> str | None:
    if direction in RANKED_DIRECTIONS:
        return None
    return (
        f"metric {record.get('name')!r} has no direction; "
        "set the rule's direction to higher_is_better or lower_is_better"
    )


def _comparability_problem(candidate: LoadedRun, baseline: LoadedRun) -> str | None:
    if not differing_keys([candidate, baseline]):
        return None
    return mismatch_message("candidate and baseline are not comparable", [[candidate], [baseline]])


def _check(rule: GateRule, kind: str, reason: str) -> CheckResult:
    """An ERROR check of ``rule``; callers fill in what they found and the decision."""
    return CheckResult(
        rule_id=str(rule.id),
        kind=kind,
        scenario=rule.scenario,
        metric=rule.metric,
        group=rule.group,
        direction=rule.direction,
        status=ERROR,
        reason=reason,
        threshold=rule.threshold,
        margin=rule.non_inferiority_margin,
        description=rule.description,
    )


def ci_decision(low: float, high: float, threshold: float, direction: str) -> tuple[str, str]:
    """PASS / FAIL / INCONCLUSIVE from where a CI lies relative to a threshold, and why."""
    good_low, good_high = (low, high) if direction == "higher_is_better" else (-high, -low)
    bound = threshold if direction == "higher_is_better" else -threshold
    if good_low >= bound:
        return PASS, "the whole 95% CI is on the acceptable side of the threshold"
    if good_high < bound:
        return FAIL, "the whole 95% CI is on the unacceptable side of the threshold"
    return INCONCLUSIVE, "the 95% CI straddles the threshold; more instances would decide"


def threshold_check(rule: GateRule, runs: list[LoadedRun], policy: GatePolicy) -> CheckResult:
    """Decide one rule's threshold from the metric's recorded 95% CI (see the module docstring)."""
    check = _check(rule, "threshold", "")
    located = locate(rule, runs, "candidate")
    if isinstance(located, str):
        check.reason = located
        return check
    run, record = located
    check.scenario, check.metric, check.run = run.scenario, str(record["name"]), run.run_id
    check.direction = rule.direction or str(record.get("direction") or "none")
    check.value, check.ci_low, check.ci_high = (
        record.get("value"),
        record.get("ci_low"),
        record.get("ci_high"),
    )
    check.n, check.n_errors = int(record.get("n") or 0), int(record.get("n_errors") or 0)
    problem = _error_problem(record, rule, policy, "candidate") or _direction_problem(check.direction, record)
    if problem:
        check.reason = problem
    elif check.value is None:
        check.reason = "the metric has no value (no scored instances)"
    elif check.ci_low is None or check.ci_high is None:
        check.status = INCONCLUSIVE
        check.reason = "the metric has no confidence interval (too few instances or clusters)"
    else:
        assert rule.threshold is not None
        check.status, check.reason = ci_decision(check.ci_low, check.ci_high, rule.threshold, check.direction)
    return check


def paired_values(
    candidate: tuple[LoadedRun, dict[str, Any]], baseline: tuple[LoadedRun, dict[str, Any]]
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None] | str:
    """Candidate and baseline values on their shared scored instances (matched by id), or a reason."""
    values = []
    for (run, record), role in ((candidate, "candidate"), (baseline, "baseline")):
        series = instance_values(run, record)
        if series is None:
            return (
                f"{role} metric {record.get('name')!r} is not the mean of a per-instance score in "
                "samples.jsonl, so it cannot be paired by instance"
            )
        values.append(series)
    joined = pd.concat(values, axis=1, join="inner", keys=["candidate", "baseline"])
    if joined.empty:
        return "candidate and baseline share no scored instance ids"
    cluster_key = (candidate[1].get("extra") or {}).get("cluster")
    clusters = cluster_labels([candidate[0]], cluster_key, joined.index) if cluster_key else None
    return joined["candidate"].to_numpy(), joined["baseline"].to_numpy(), clusters


def baseline_checks(
    rules: list[GateRule], runs: list[LoadedRun], baseline_runs: list[LoadedRun], policy: GatePolicy
) -> list[CheckResult]:
    """Paired non-inferiority checks of every rule with a margin, Holm-corrected together."""
    settings = policy.baseline
    checks: list[CheckResult] = []
    tested: list[tuple[CheckResult, float]] = []
    for rule in (r for r in rules if r.non_inferiority_margin is not None):
        check = _check(rule, "baseline", "")
        checks.append(check)
        candidate = locate(rule, runs, "candidate")
        baseline = locate(rule, baseline_runs, "baseline")
        if isinstance(candidate, str) or isinstance(baseline, str):
            check.reason = candidate if isinstance(candidate, str) else str(baseline)
            continue
        (run, record), (base_run, base_record) = candidate, baseline
        check.scenario, check.metric, check.run, check.baseline_run = (
            run.scenario,
            str(record["name"]),
            run.run_id,
            base_run.run_id,
        )
        check.direction = rule.direction or str(record.get("direction") or "none")
        check.baseline_value, check.n_errors = base_record.get("value"), int(record.get("n_errors") or 0)
        problem = (
            _comparability_problem(run, base_run)
            or _error_problem(record, rule, policy, "candidate")
            or _error_problem(base_record, rule, policy, "baseline")
            or _direction_problem(check.direction, record)
        )
        paired = problem or paired_values(candidate, baseline)
        if isinstance(paired, str):
            check.reason = paired
            continue
        test = paired_noninferiority(
            *paired,
            margin=float(rule.non_inferiority_margin or 0.0),
            higher_is_better=check.direction == "higher_is_better",
            support=unit_support(str(record.get("unit") or "")),
        )
        check.value, check.ci_low, check.ci_high, check.n = test.difference, test.ci_low, test.ci_high, test.n
        check.p_value = test.p_noninferior
        tested.append((check, test.p_inferior))
    if tested:
        adjusted_ni = holm_adjust([check.p_value for check, _ in tested])
        adjusted_inf = holm_adjust([p_inferior for _, p_inferior in tested])
        for (check, _), p_ni, p_inf in zip(tested, adjusted_ni, adjusted_inf, strict=True):
            check.p_adjusted = float(p_ni)
            if p_ni <= settings.alpha:
                check.status = PASS
                check.reason = f"non-inferior: Holm-adjusted p = {p_ni:.4g} <= alpha = {settings.alpha}"
            elif p_inf <= settings.alpha:
                check.status = FAIL
                check.reason = (
                    f"worse than the baseline by more than the margin (Holm-adjusted p = {p_inf:.4g})"
                )
            else:
                check.status = INCONCLUSIVE
                check.reason = (
                    f"non-inferiority not shown (Holm-adjusted p = {p_ni:.4g} > alpha = {settings.alpha})"
                )
    return checks


def _provenance(runs: list[LoadedRun]) -> list[dict[str, Any]]:
    return [
        {
            "run": run.run_id,
            "scenario": run.scenario,
            "version": run.scenario_version,
            "dataset_fingerprint": run.manifest.get("dataset_fingerprint"),
            "scorers": scorer_names(run.manifest.get("scorers")),
            "seed": run.seed,
            "n_instances": run.n_instances,
            "n_errors": run.n_errors,
        }
        for run in runs
    ]


def run_gate(policy: Policy, run_dirs: list[Path], baseline_dirs: list[Path] | None) -> GateVerdict:
    """Evaluate every rule on the candidate runs (and the baseline, when given)."""
    runs = load_runs(run_dirs)
    model = _single_model(runs, "candidate")
    baseline_sources = (
        baseline_dirs if baseline_dirs is not None else [Path(p) for p in policy.settings.baseline.runs]
    )
    checks = [
        threshold_check(rule, runs, policy.settings) for rule in policy.rules if rule.threshold is not None
    ]
    baseline_runs: list[LoadedRun] = []
    baseline_model = None
    if baseline_sources:
        baseline_runs = load_runs(baseline_sources)
        baseline_model = _single_model(baseline_runs, "baseline")
        checks += baseline_checks(policy.rules, runs, baseline_runs, policy.settings)
    else:
        checks += [
            _check(
                rule,
                "baseline",
                "the rule has only a non_inferiority_margin and needs a baseline (--baseline)",
            )
            for rule in policy.rules
            if rule.threshold is None
        ]
    return GateVerdict(
        policy=policy.settings.name,
        description=policy.settings.description,
        checks=checks,
        model=model,
        candidate_runs=[str(run.path) for run in runs],
        baseline_runs=[str(run.path) for run in baseline_runs],
        baseline_model=baseline_model,
        provenance=_provenance(runs),
        generated=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        harness_version=harness.__version__,
    )


def evaluate_gate(
    policy: dict[str, Any], run_dirs: list[Path], out_dir: Path, baseline_dirs: list[Path] | None = None
) -> int:
    """Evaluate a policy on runs, write verdict.json / junit.xml / model_card.md, print a summary.

    ``policy`` is the plain mapping of a gate policy (the composed ``gate`` config group, or a
    policy YAML file). ``baseline_dirs`` defaults to the policy's ``baseline.runs``. Returns the
    exit code of the verdict (0 PASS, 1 FAIL, 3 INCONCLUSIVE, 4 ERROR), or 2 with a one-line
    message on stderr when the gate cannot run (invalid policy, unreadable or mixed-model runs).
    """
    try:
        verdict = run_gate(parse_policy(dict(policy)), run_dirs, baseline_dirs)
    except HarnessError as exc:
        print(f"error: gate: {exc}", file=sys.stderr)
        return EXIT_USAGE
    written = write_verdict(verdict, out_dir)
    print(f"gate {verdict.policy}: {verdict.verdict} (exit code {verdict.exit_code})")
    for check in verdict.checks:
        print(f"  {check.status:<12} {check.title} — {check.reason}")
    for path in written:
        print(f"  wrote {path}")
    return verdict.exit_code


def gate_main(argv: list[str]) -> int:
    """`harness gate <policy> <runs...> [--baseline <runs...>] [--out DIR]`."""
    parser = argparse.ArgumentParser(
        prog="harness gate",
        description="Evaluate a release-gate policy on finished runs. Exit codes: 0 PASS, 1 FAIL, "
        "3 INCONCLUSIVE, 4 ERROR, 2 the gate could not run.",
    )
    parser.add_argument("policy", help="a policy name from conf/gate/ (e.g. release) or a YAML file")
    parser.add_argument("runs", nargs="+", help="the candidate's run directories, sweep directories or globs")
    parser.add_argument("--baseline", nargs="+", type=Path, help="the baseline model's run directories")
    parser.add_argument("--out", type=Path, help="output folder (default: <dir>/gate or results/gate)")
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits on --help (0) and on bad arguments (2)
        return int(exc.code or 0)
    try:
        policy = load_policy_file(args.policy)
    except HarnessError as exc:
        print(f"error: gate: {exc}", file=sys.stderr)
        return EXIT_USAGE
    out = args.out or default_out_dir(args.runs, "gate")
    return evaluate_gate(policy, [Path(p) for p in args.runs], out, args.baseline)
