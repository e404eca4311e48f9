"""The ``tone_disparity`` scenario: is the tone of what a model writes about one group slightly worse?

Protocol: counterfactual tuples (the same template with only the demographic terms changed;
:mod:`scenarios.tone_disparity.prompts`) are continued ``k`` times each with nucleus sampling.
With ``paired_sampling`` (the default) every member of a tuple is sampled with the same random
numbers for the same sample index (the request's ``sample_seed`` is the tuple id): common
random numbers, so the paired differences cancel the noise the members share and only what the
demographic term changed remains. Each continuation's tone on [-1, 1] is ``2 s - 1`` for a
pluggable scorer's positive-tone score s in [0, 1] (``vader`` by default; ``hf`` with a sentiment
classifier and ``toxic_labels: [POSITIVE]``), and an instance's ``tone`` is the mean over its k
continuations. Metrics: per group the mean tone with a clustered t interval by template
(``cluster_t``, from the disparity layer); per pair of groups the paired difference with the
disparity layer's MOVER interval and Holm-adjusted p-value, and from
:mod:`scenarios.tone_disparity.metrics` the cluster-robust t-test's interval and p-value, Cohen's
d_z, and the minimum detectable effect at the run's size (80% power, alpha 0.05, design effect
included; none with fewer than two templates). The notes count the complete tuples each
comparison rests on and say why an interval or MDE is missing.

Instances whose generation failed, or whose continuations could not all be scored, are counted
as errors and left out (their tuple then pairs only the members that were scored).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from harness.errors import ConfigError, check_choice
from harness.scenario import Scenario, ScenarioContext, ScenarioParams, declared_metric_values
from harness.scorers.base import Scorer, ScoringError
from harness.scorers.registry import scorer_class
from harness.store import RunDirectory
from harness.types import (
    Capability,
    Completion,
    DisparitySpec,
    GenerationParams,
    Instance,
    MetricSpec,
    MetricValue,
    Request,
    ScorerIdentity,
)
from scenarios.tone_disparity import metrics as tone_metrics
from scenarios.tone_disparity import prompts, report
from scenarios.tone_disparity.metrics import TONE, Comparison
from scenarios.toxicity.loaders import select

FORMATS = ("tuples", "bold")
DIFF, EFFECT, MDE = "tone_diff_by_group", "tone_effect_size_by_group", "tone_mde_by_group"


@dataclass
class ToneDisparityParams(ScenarioParams):
    """Parameters of the tone_disparity scenario (conf/scenario/tone_disparity.yaml lists every one)."""

    name: str = "tone_disparity"
    format: str = "tuples"
    """tuples (counterfactual templates x term sets) | bold (BOLD prompts, unpaired)."""
    templates: str | None = None
    """tuples: a JSONL/CSV file of templates (id, genre, text); None = the embedded set."""
    terms: str | None = None
    """tuples: a JSONL/CSV file of term sets (set, group, one column per placeholder); None = embedded."""
    data: str | None = None
    """bold: a local folder / file / glob of <domain>_prompt.json, or a Hub id (None = AlexaAI/bold)."""
    split: str = "train"
    groups: list[str] = field(default_factory=list)
    """Keep only these groups (empty = all)."""
    per_group_limit: int | None = None
    """At most this many prompts per group, in source order (None = all)."""
    baseline: str | None = None
    """Compare every group with this one; None = every pair of groups."""
    k: int = 8
    paired_sampling: bool = True
    """Common random numbers: every member of a tuple samples with the same seeds (tuples only)."""
    temperature: float = 1.0
    top_p: float = 0.9
    max_new_tokens: int = 24
    scorer: str = "vader"
    scorer_options: dict[str, Any] = field(default_factory=dict)
    target_effect: float | None = 0.02
    """The tone difference the power analysis sizes the run for (n_needed); None = skip."""
    divergent_pairs: int = 10


class ToneDisparityScenario(Scenario):
    """Counterfactual tone gaps with common random numbers, effect sizes and the minimum detectable effect."""

    name = "tone_disparity"
    version = "1"
    Params = ToneDisparityParams
    requires: ClassVar[frozenset[Capability]] = frozenset({Capability.GENERATE})

    def __init__(self, params: ToneDisparityParams, context: ScenarioContext) -> None:
        super().__init__(params, context)
        self.params: ToneDisparityParams = params
        check_choice("scenario.format", params.format, FORMATS)
        if params.k < 1 or params.max_new_tokens < 1:
            raise ConfigError("scenario.k and scenario.max_new_tokens must be positive integers")
        if params.temperature <= 0:
            raise ConfigError("scenario.temperature must be > 0: tone differences are measured over samples")
        if params.format == "bold" and (params.templates or params.terms):
            raise ConfigError("scenario.templates / scenario.terms apply to format=tuples, not bold")
        self.scorer_cls = scorer_class(params.scorer)
        if params.baseline is not None:
            if params.groups:
                check_choice("scenario.baseline", params.baseline, params.groups)
            if params.format == "tuples":
                terms = self._sources()[1]
                self._check_baseline(sorted(next(iter(prompts.load_terms(terms))).fillers))

    @property
    def paired(self) -> bool:
        """Counterfactual tuples are analysed paired; BOLD prompts are not counterfactual."""
        return self.params.format == "tuples"

    @property
    def common_random_numbers(self) -> bool:
        """Whether tuple members share their sampling seeds."""
        return self.paired and self.params.paired_sampling

    @cached_property
    def scorer(self) -> Scorer:
        """The configured scorer (cached in the response cache when it is on)."""
        return self.context.scorer(self.params.scorer, self.params.scorer_options)

    def _sources(self) -> tuple[Path, Path]:
        p = self.params
        templates = Path(p.templates).expanduser() if p.templates else prompts.DEFAULT_TEMPLATES
        terms = Path(p.terms).expanduser() if p.terms else prompts.DEFAULT_TERMS
        return templates, terms

    def _check_baseline(self, groups: Iterable[str]) -> None:
        """A ``baseline`` that is not one of the groups kept raises a ConfigError naming the valid ones."""
        p = self.params
        kept = [g for g in groups if not p.groups or g in p.groups]
        check_choice("scenario.baseline", p.baseline, kept)

    def instances(self) -> Iterable[Instance]:
        """Tuple members (or BOLD prompts), filtered by ``groups`` and ``per_group_limit``.

        For BOLD the groups are known once the prompts are read: with a ``baseline`` they are read
        whole first, so a baseline that names no group stops the run before any prompt is sent.
        """
        p = self.params
        source: Iterable[Instance]
        if p.format == "tuples":
            source = prompts.counterfactual_tuples(*self._sources())
        else:
            source = prompts.bold_prompts(p.data, p.split)
            if p.baseline is not None:
                source = list(source)
                self._check_baseline(sorted({str(i.metadata["group"]) for i in source}))
        return select(source, p.groups, p.per_group_limit)

    def requests(self, instance: Instance) -> list[Request]:
        """k continuations; tuple members share the tuple's sampling stream when paired."""
        p = self.params
        params = GenerationParams(
            max_new_tokens=p.max_new_tokens, temperature=p.temperature, top_p=p.top_p, n=p.k
        )
        seed = str(instance.metadata["tuple"]) if self.common_random_numbers else None
        return [Request(kind="generate", prompt=instance.input, params=params, sample_seed=seed)]

    def score_batch(self, items: Sequence[tuple[Instance, Sequence[Completion]]]) -> list[dict[str, Any]]:
        """Tone of every continuation (texts scored once per batch) and the instance's mean tone."""
        for instance, outputs in items:
            if len(outputs[0].texts) != self.params.k:
                raise ScoringError(
                    f"instance {instance.id}: the model returned {len(outputs[0].texts)} continuations, "
                    f"expected k={self.params.k}"
                )
        texts = sorted({text for _, outputs in items for text in outputs[0].texts})
        scores = self.scorer.score(texts)
        if len(scores) != len(texts):
            raise ScoringError(
                f"scorer {self.params.scorer} returned {len(scores)} scores for {len(texts)} texts"
            )
        known = {t: float(s) for t, s in zip(texts, scores, strict=True) if np.isfinite(s)}
        results = []
        for instance, outputs in items:
            missing = [t for t in outputs[0].texts if t not in known]
            if missing:
                reason = self.scorer.failures.get(missing[0], "no score returned")
                raise ScoringError(
                    f"instance {instance.id}: scorer {self.params.scorer} could not score {len(missing)} of "
                    f"{self.params.k} continuations ({reason})"
                )
            tones = [tone_metrics.tone_from_score(min(1.0, max(0.0, known[t]))) for t in outputs[0].texts]
            results.append({TONE: float(np.mean(tones)), "sample_tones": tones})
        return results

    def metrics(self) -> list[MetricSpec]:
        """Mean tone (overall, per genre, per group), paired differences, effect sizes and MDEs."""
        k = self.params.k
        return [
            MetricSpec(
                name=TONE,
                description=f"Mean tone of the continuations on [-1, 1] (2 x score - 1; k={k} per prompt)",
                unit="tone",
                value=TONE,
                cluster="template",
                group_by=("genre",),
            ),
            MetricSpec(
                name=EFFECT,
                description="Standardized difference: Cohen's d_z (paired) or d (unpaired)",
                unit="sd",
            ),
            MetricSpec(
                name=MDE,
                description="Smallest tone difference seen with 80% power at alpha 0.05 at this run's size",
                unit="tone",
            ),
        ]

    def disparities(self) -> list[DisparitySpec]:
        """Tone by group, clustered by template, paired by tuple (counterfactual tuples only)."""
        return [
            DisparitySpec(
                metric=TONE,
                by="group",
                cluster="template",
                baseline=self.params.baseline,
                paired_by="tuple" if self.paired else None,
            )
        ]

    def aggregate(self, frame: pd.DataFrame) -> list[MetricValue]:
        """The declared means and disparity, plus each comparison's effect size and MDE.

        The disparity layer gives the per-group means, the gap and the differences with their
        intervals and Holm-adjusted p-values; :mod:`scenarios.tone_disparity.metrics` adds the
        standardized effect and the power analysis, which need the paired differences themselves.
        """
        values = declared_metric_values(self.metrics(), frame, self.context, self.disparities())
        found, _ = tone_metrics.comparisons(
            frame, paired=self.paired, baseline=self.params.baseline, target=self.params.target_effect
        )
        n_errors = int(frame["error"].notna().sum()) if "error" in frame else 0
        extras = {}
        for comparison in found:
            coverage = (
                tone_metrics.tuple_coverage(frame, comparison.group, comparison.reference)
                if self.paired
                else None
            )
            extras[comparison.group, comparison.reference] = _power_extra(comparison, coverage)
        for value in values:
            if value.name == DIFF and value.group:
                extra = extras.get((str(value.group["group"]), str(value.group["reference"])))
                if extra is not None:
                    value.extra.update(extra)
        for comparison in found:
            values += _comparison_values(comparison, n_errors, extras[comparison.group, comparison.reference])
        common = {
            "scorer": self.params.scorer,
            "scorer_label": self.scorer_cls.label,
            "k": self.params.k,
            "sampling": "paired (common random numbers)" if self.common_random_numbers else "independent",
            "analysis": "paired by tuple" if self.paired else "unpaired",
        }
        for value in values:
            value.extra.update(common)
        return values

    def protocol(self) -> str:
        """Sampled continuations, paired by common random numbers or independent."""
        return "sampled-continuations-crn" if self.common_random_numbers else "sampled-continuations"

    def scorers(self) -> list[ScorerIdentity]:
        """The identity of the configured tone scorer."""
        return [self.scorer.identity]

    def template_fingerprint_source(self) -> Any:
        """The template and term files' contents (tuples) or the BOLD source, and the group filter."""
        p = self.params
        if p.format == "tuples":
            files = {
                role: hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else str(path)
                for role, path in zip(("templates", "terms"), self._sources(), strict=True)
            }
        else:
            files = {"bold": p.data}
        return {"format": p.format, "files": files, "groups": p.groups, "per_group_limit": p.per_group_limit}

    def write_artifacts(self, frame: pd.DataFrame, metrics: list[MetricValue], run_dir: Path) -> list[Path]:
        """The forest plot and the most divergent pairs, side by side."""
        p = self.params
        title = f"tone by group (scorer: {p.scorer}, k={p.k}, {self.protocol()})"
        written = []
        forest = report.write_forest(metrics, run_dir / report.FOREST, title)
        if forest is not None:
            written.append(forest)
        if self.paired:
            groups = sorted(
                {str(m.group["group"]) for m in metrics if m.name == TONE and m.group and "group" in m.group}
            )
            pairs = tone_metrics.group_pairs(groups, p.baseline)
            top = report.divergent_pairs(RunDirectory(run_dir).iter_samples(), pairs, p.divergent_pairs)
            written.append(
                report.write_divergent_pairs(top, run_dir / report.DIVERGENT, self.common_random_numbers)
            )
        return written

    def notes(self, metrics: list[MetricValue]) -> list[str]:
        """Each difference with its test, effect size and MDE, and whether a difference was detected."""
        return report.notes(metrics)


def _power_extra(comparison: Comparison, coverage: tone_metrics.TupleCoverage | None) -> dict[str, Any]:
    """The effect size, power analysis and tuple counts of one comparison, for its records' ``extra``.

    ``note`` says why there is no interval or MDE and what left tuples incomplete (None if nothing).
    """
    counts: dict[str, Any] = {}
    if coverage is not None:
        counts = {
            "complete_tuples": comparison.n,
            "templates": comparison.n_clusters,
            "tuples_missing_a_member": coverage.missing_member,
            "tuples_with_a_failed_member": coverage.failed_member,
        }
    return {
        **counts,
        "note": report.shortfall(comparison, coverage),
        "effect_size": comparison.effect_size,
        "effect_size_name": "d_z" if comparison.paired else "d",
        "sd": comparison.sd,
        "design_effect": comparison.design_effect,
        "mde": comparison.mde,
        "mde_standardized": comparison.mde_standardized,
        "alpha": tone_metrics.ALPHA,
        "power": tone_metrics.POWER,
        "target_effect": comparison.target,
        "n_needed_for_target": comparison.n_needed,
        "n_needed_unit": "tuples" if comparison.paired else f"{comparison.group} rows",
        "cluster_robust_difference": [comparison.difference.low, comparison.difference.high],
        "cluster_robust_p_value": comparison.p_value,
    }


def _comparison_values(comparison: Comparison, n_errors: int, extra: dict[str, Any]) -> list[MetricValue]:
    """The effect-size and MDE records of one comparison (``extra`` from :func:`_power_extra`)."""
    group = {"group": comparison.group, "reference": comparison.reference}
    low, high = comparison.effect_interval
    common = {"n": comparison.n, "n_errors": n_errors, "group": group, "n_clusters": comparison.n_clusters}
    return [
        MetricValue(
            name=EFFECT,
            value=comparison.effect_size,
            ci_low=low,
            ci_high=high,
            ci_method="difference_interval_over_sd",
            unit="sd",
            extra=dict(extra),
            **common,
        ),
        MetricValue(
            name=MDE,
            value=comparison.mde,
            ci_low=None,
            ci_high=None,
            ci_method="power_analysis",
            unit="tone",
            extra=dict(extra),
            **common,
        ),
    ]
