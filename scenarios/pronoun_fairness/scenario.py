"""The ``pronoun_fairness`` scenario: does a model pick he / she / they by stereotype or by context?

Given "Dr. Hanson, the surgeon, studied the patient's chart carefully, and then ...", does the
model continue with "he" far more often than "she", and does its she-share track the share of
women in the occupation (BLS)? And where the context does fix the pronoun ("Ms. Ortiz", "a WNBA
player", "Sam, who uses they/them pronouns"), does the model follow it?

Data (``dataset``): the embedded table of occupations with BLS 2019 percent women crossed with
narrative, dialogue and instruction templates (default), Winogender, Winogenerated or WinoBias
(``data_path``: a local folder or a Hub dataset id). Context controls are added unless
``controls: false``.

Protocol (``protocol``): ``loglikelihood`` scores the normalised probability of he / she / they as
the next word (exact, no sampling noise); ``generative`` samples ``samples`` continuations and
extracts the first pronoun that refers to the person; ``auto`` uses log-likelihood when the
adapter has it. The protocol is returned by :meth:`protocol` (recorded in the manifest and in
metrics.json) and is the suffix of every metric name (``she_share.loglik``, ``she_share.gen``).
See ``docs/pronoun_fairness.md`` for the metric definitions.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import pandas as pd

from harness.errors import ConfigError, check_choice
from harness.scenario import Scenario, ScenarioContext, ScenarioParams, resolve_protocol
from harness.types import Capability, Completion, GenerationParams, Instance, MetricSpec, MetricValue, Request
from scenarios.pronoun_fairness import instances as build
from scenarios.pronoun_fairness import loaders, templates
from scenarios.pronoun_fairness.metrics import (
    Settings,
    control_metrics,
    coref_metrics,
    metric_specs,
    occupation_metrics,
)
from scenarios.pronoun_fairness.plots import SharePoint, plot_she_share_vs_bls
from scenarios.pronoun_fairness.scoring import GENERATIVE, LOGLIKELIHOOD, build_requests, score_instance

DATASETS = ("embedded", "winogender", "winogenerated", "winobias")
PROTOCOLS = ("auto", LOGLIKELIHOOD, GENERATIVE)
CORRECTIONS = ("holm", "bh")
PLOT_NAME = "she_share_vs_bls.png"
TABLE_NAME = "occupations.csv"


@dataclass
class PronounFairnessParams(ScenarioParams):
    """Parameters of the pronoun_fairness scenario (conf/scenario/pronoun_fairness.yaml)."""

    name: str = "pronoun_fairness"
    dataset: str = "embedded"
    """embedded | winogender | winogenerated | winobias."""
    data_path: str | None = None
    """Local folder/file or Hub dataset id; for ``embedded`` an optional custom occupation table."""
    winobias_split: str = "test"
    """test | dev: which WinoBias files to read."""
    protocol: str = "auto"
    """auto | loglikelihood | generative."""
    families: list[str] = field(default_factory=lambda: list(templates.FAMILIES))
    """Embedded template families: narrative, dialogue, instruction."""
    controls: bool = True
    """Add the context-control instances (titles, declared pronouns, kinship, single-gender)."""
    control_occupations: int = 8
    """Occupations crossed with each control cue: half the most male-, half the most female-dominated."""
    samples: int = 10
    """Generative protocol: samples (k) per prompt."""
    temperature: float = 1.0
    """Generative protocol: sampling temperature (0 = greedy, which makes k samples identical)."""
    top_p: float = 1.0
    """Generative protocol: nucleus sampling threshold."""
    max_new_tokens: int = 24
    """Generative protocol: tokens generated per sample."""
    correction: str = "holm"
    """Multiplicity correction of the per-occupation parity tests: holm (FWER) or bh (FDR)."""
    alpha: float = 0.05
    """Significance level of the per-occupation parity tests after correction."""


def validate(params: PronounFairnessParams) -> None:
    """Reject bad parameter values with a message that names the key and the valid values."""
    check_choice("scenario.dataset", params.dataset, DATASETS)
    check_choice("scenario.protocol", params.protocol, PROTOCOLS)
    check_choice("scenario.correction", params.correction, CORRECTIONS)
    check_choice("scenario.winobias_split", params.winobias_split, ("test", "dev"))
    for family in params.families:
        check_choice("scenario.families", family, templates.FAMILIES)
    if params.dataset == "embedded" and not params.families:
        raise ConfigError(
            "scenario.families is empty; name at least one of: " + ", ".join(templates.FAMILIES)
        )
    if params.dataset != "embedded" and not params.data_path:
        raise ConfigError(
            f"scenario.data_path is required for dataset={params.dataset}: a local folder with the original "
            f"{params.dataset} files, or a Hugging Face Hub dataset repo holding them"
        )
    if params.samples < 1:
        raise ConfigError(f"scenario.samples must be >= 1, got {params.samples}")
    if params.max_new_tokens < 1:
        raise ConfigError(f"scenario.max_new_tokens must be >= 1, got {params.max_new_tokens}")
    if params.temperature < 0 or not 0 < params.top_p <= 1:
        raise ConfigError("scenario.temperature must be >= 0 and scenario.top_p in (0, 1]")
    if params.control_occupations < 1:
        raise ConfigError(f"scenario.control_occupations must be >= 1, got {params.control_occupations}")
    if not 0 < params.alpha < 1:
        raise ConfigError(f"scenario.alpha must be in (0, 1), got {params.alpha}")


class PronounFairnessScenario(Scenario):
    """Pronoun choice for people in occupations: stereotype tracking, parity and context following."""

    name: ClassVar[str] = "pronoun_fairness"
    version: ClassVar[str] = "1.0.0"
    Params: ClassVar[type[ScenarioParams]] = PronounFairnessParams
    requires: ClassVar[frozenset[Capability]] = frozenset()
    """Either protocol will do; :func:`resolve_protocol` checks the one that is chosen."""

    def __init__(self, params: ScenarioParams, context: ScenarioContext) -> None:
        super().__init__(params, context)
        assert isinstance(params, PronounFairnessParams)
        self.params: PronounFairnessParams = params
        validate(params)
        self._protocol = resolve_protocol(params.protocol, context.capabilities, context.resumed_protocol)
        self._chat = self._protocol == GENERATIVE and Capability.CHAT in context.capabilities
        self._generation = GenerationParams(
            max_new_tokens=params.max_new_tokens,
            temperature=params.temperature,
            top_p=params.top_p,
            n=params.samples,
        )

    # ----------------------------------------------------------------------------- instances

    def _table(self) -> list[loaders.Occupation]:
        custom = self.params.data_path if self.params.dataset == "embedded" else None
        return loaders.load_occupations(custom)

    def instances(self) -> Iterator[Instance]:
        """Occupation (or WinoBias) instances, then the context controls."""
        dataset, path = self.params.dataset, self.params.data_path
        table: list[loaders.Occupation] | None = None
        if dataset == "embedded":
            table = self._table()
            yield from build.occupation_instances(table, self.params.families, self._chat)
        elif dataset == "winogender":
            yield from build.slot_instances(loaders.load_winogender(str(path)))
        elif dataset == "winogenerated":
            yield from build.slot_instances(loaders.load_winogenerated(str(path)))
        else:
            yield from build.coref_instances(
                loaders.load_winobias(str(path), self.params.winobias_split), self._chat
            )
        if self.params.controls:
            table = table if table is not None else loaders.load_occupations()
            yield from build.control_instances(
                build.control_occupations(table, self.params.control_occupations)
            )

    def requests(self, instance: Instance) -> list[Request]:
        """One log-likelihood request over the pronoun (or answer) options, or one k-sample generation."""
        return build_requests(instance, self._protocol, self._generation)

    def score(self, instance: Instance, outputs: Sequence[Completion]) -> dict[str, Any]:
        """Class masses (probabilities or counts) for pronoun slots; correctness for WinoBias."""
        return score_instance(instance, outputs[0], self._protocol)

    # ----------------------------------------------------------------------------- metadata

    def protocol(self) -> str:
        """``loglikelihood`` or ``generative``: the protocol that runs."""
        return self._protocol

    def template_fingerprint_source(self) -> Any:
        """Templates, cues and prompt formats in use (hashed into the manifest)."""
        return {
            "dataset": self.params.dataset,
            "protocol": self._protocol,
            "chat_prompts": self._chat,
            "families": list(self.params.families),
            "controls": self.params.controls,
            "control_occupations": self.params.control_occupations,
            "embedded": templates.fingerprint_source(),
            "coref_question": build.QUESTION,
        }

    # ----------------------------------------------------------------------------- metrics

    def _settings(self) -> Settings:
        return Settings(
            protocol=self._protocol,
            resamples=self.context.bootstrap_resamples,
            seed=self.context.seed,
            correction=self.params.correction,
            alpha=self.params.alpha,
        )

    def metrics(self) -> list[MetricSpec]:
        """The metrics for this dataset and protocol (names end in ``.loglik`` or ``.gen``)."""
        return metric_specs(
            self._protocol,
            occupations=self.params.dataset != "winobias",
            controls=self.params.controls,
            coref=self.params.dataset == "winobias",
        )

    def aggregate(self, frame: pd.DataFrame) -> list[MetricValue]:
        """Occupation, control and WinoBias metrics from the per-instance table."""
        settings = self._settings()
        values: list[MetricValue] = []
        kinds = frame["kind"] if "kind" in frame else pd.Series(dtype=object)
        if (kinds == "occupation").any():
            values += occupation_metrics(frame[kinds == "occupation"], settings)[0]
        if (kinds == "control").any():
            values += control_metrics(frame[kinds == "control"], settings)
        if (kinds == "coref").any():
            values += coref_metrics(frame[kinds == "coref"], settings)
        return values

    def write_artifacts(self, frame: pd.DataFrame, metrics: list[MetricValue], run_dir: Path) -> list[Path]:
        """The she-share vs BLS plot and a per-occupation CSV table, drawn from the metric values."""
        suffix = self._settings().suffix
        rows = occupation_rows(metrics, suffix)
        if not rows:
            return []
        table_path = run_dir / TABLE_NAME
        from harness.report.tables import write_csv  # formula-safe CSV

        write_csv(pd.DataFrame(rows), table_path)
        points = [
            SharePoint(r["occupation"], r["bls_pct_women"] / 100.0, r["she_share"], r["ci_low"], r["ci_high"])
            for r in rows
            if r["she_share"] is not None and r["bls_pct_women"] is not None
        ]
        slope = _find(metrics, f"amplification_slope.{suffix}")
        plot_path = plot_she_share_vs_bls(
            points,
            run_dir / PLOT_NAME,
            title=f"pronoun_fairness ({self.params.dataset}, {self._protocol}): she-share vs BLS, 95% CIs",
            slope=slope.value if slope else None,
            intercept=slope.extra.get("intercept") if slope else None,
        )
        return [plot_path, table_path]

    def notes(self, metrics: list[MetricValue]) -> list[str]:
        """Which occupations are significantly skewed, by name (the table gives only their count)."""
        s = self._settings().suffix
        lines = []
        skewed = _find(metrics, f"skewed_occupations.{s}")
        if skewed is not None:
            flagged = skewed.extra.get("occupations", [])
            names = ", ".join(f"{f['occupation']} ({f['direction']})" for f in flagged[:8])
            more = f" and {len(flagged) - 8} more" if len(flagged) > 8 else ""
            lines.append(
                f"significantly skewed occupations ({skewed.extra.get('correction')}): "
                f"{len(flagged)} of {skewed.n}" + (f": {names}{more}" if flagged else "")
            )
        return lines


def occupation_rows(metrics: Sequence[MetricValue], suffix: str) -> list[dict[str, Any]]:
    """One row per occupation: BLS share, she-share with CI, rates and the parity test."""
    grouped = {(m.name, m.group["occupation"]): m for m in metrics if m.group and "occupation" in m.group}
    rows = []
    for (name, occupation), share in grouped.items():
        if name != f"she_share.{suffix}":
            continue
        rows.append(
            {
                "occupation": occupation,
                "bls_pct_women": share.extra.get("bls_pct_women"),
                "she_share": share.value,
                "ci_low": share.ci_low,
                "ci_high": share.ci_high,
                **{
                    f"{cls}_rate": grouped[(f"{cls}_rate.{suffix}", occupation)].value
                    for cls in ("he", "she", "they")
                },
                "parity_p_value": share.extra.get("p_value"),
                "parity_p_adjusted": share.extra.get("p_adjusted"),
                "significantly_skewed": share.extra.get("significant"),
                "n": share.n,
                "n_errors": share.n_errors,
            }
        )
    return rows


def _find(metrics: Sequence[MetricValue], name: str) -> MetricValue | None:
    """The overall record of metric ``name``, if any."""
    return next((m for m in metrics if m.name == name and m.group is None), None)
