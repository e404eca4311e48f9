"""The ``decisions`` scenario: does a model's yes/no decision about a person depend on who they are?

The model answers yes/no questions about a described person (a loan, a job offer, a lease, an
insurance policy, an urgent assessment): the same question filled with every combination of age,
gender and race, stated outright (explicit) or implied by a name (implicit). A "yes" is always
the favourable decision. The scores are the decision logit log p(yes) − log p(no) and the
approval probability; the discrimination score of a group is its mean logit minus the baseline
group's (Tamkin et al. 2023), paired within counterfactual tuples and clustered by template.

Sources (``source``): ``embedded`` (templates.jsonl, written for this project), ``file`` (the
user's CSV/JSONL templates, ``data_path``) or ``discrim_eval`` (Anthropic/discrim-eval from the
Hub or a local copy). ``families`` adds the focus-group templates (a persona picks one of two
products; correlations with demographics may be intended there). ``system_prompt`` adds a paired
mitigated condition. Protocol (``protocol``): ``loglikelihood`` where the model has
log-probabilities (``auto``), else ``generative`` with ``samples`` answers parsed as yes/no. See
``docs/decisions.md``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import pandas as pd

from harness.errors import ConfigError, check_choice
from harness.scenario import Scenario, ScenarioContext, ScenarioParams, resolve_protocol
from harness.types import (
    Capability,
    Completion,
    DisparitySpec,
    GenerationParams,
    Instance,
    MetricSpec,
    MetricValue,
    Request,
)
from scenarios.decisions import discrim_eval, report, scoring, templates
from scenarios.decisions.metrics import (
    APPROVAL_CHANGE,
    CONDITION_COLUMNS,
    Settings,
    disparity_specs,
    impact_ratios,
    metric_specs,
    mitigation_changes,
    pair_column,
    regression_effects,
    template_effects,
)

SOURCES = ("embedded", "file", "discrim_eval")
PROTOCOLS = ("auto", scoring.LOGLIKELIHOOD, scoring.GENERATIVE)
PROMPT_FORMATS = ("auto", "chat", "text")
PLAIN, MITIGATED = "plain", "mitigated"


@dataclass
class DecisionsParams(ScenarioParams):
    """Parameters of the decisions scenario (conf/scenario/decisions.yaml)."""

    name: str = "decisions"
    source: str = "embedded"
    """embedded | file | discrim_eval."""
    data_path: str | None = None
    """file: the templates (CSV/JSONL); discrim_eval: a local file in its schema, or a Hub id (default)."""
    names_path: str | None = None
    """A CSV of names (name, gender, race) for {name}; null = the embedded names."""
    discrim_eval_configs: list[str] = field(default_factory=lambda: ["explicit", "implicit"])
    """discrim_eval from the Hub: which configurations."""
    families: list[str] = field(default_factory=lambda: ["decision"])
    """Template families: decision, focus_group."""
    attributes: dict[str, list[str]] = field(
        default_factory=lambda: {
            "age": ["20", "40", "60", "80"],
            "gender": ["female", "male", "non-binary"],
            "race": ["white", "Black", "Asian", "Hispanic", "Native American"],
        }
    )
    """Each attribute's values; every template is filled with every combination it uses."""
    baselines: dict[str, str] = field(
        default_factory=lambda: {"age": "60", "gender": "male", "race": "white"}
    )
    """The group every other value of an attribute is compared with."""
    names_per_group: int = 2
    """Implicit templates: names per (gender, race)."""
    system_prompt: str | None = None
    """A mitigation system prompt: the decisions are asked again with it, as a paired condition."""
    protocol: str = "auto"
    """auto | loglikelihood | generative."""
    prompt_format: str = "auto"
    """auto (chat messages for models with chat) | chat | text."""
    samples: int = 10
    """Generative: answers (k) per question."""
    temperature: float = 1.0
    """Generative: sampling temperature."""
    top_p: float = 1.0
    """Generative: nucleus threshold."""
    max_new_tokens: int = 8
    """Generative: tokens per answer."""
    worst_templates: int = 10
    """Templates listed in the worst-templates table."""


def validate(params: DecisionsParams) -> None:
    """Reject bad parameter values with a message that names the key and the fix."""
    check_choice("scenario.source", params.source, SOURCES)
    check_choice("scenario.protocol", params.protocol, PROTOCOLS)
    check_choice("scenario.prompt_format", params.prompt_format, PROMPT_FORMATS)
    for family in params.families:
        check_choice("scenario.families", family, templates.FAMILIES)
    if not params.families:
        raise ConfigError(
            "scenario.families is empty; name at least one of: " + ", ".join(templates.FAMILIES)
        )
    if params.source == "file" and not params.data_path:
        raise ConfigError("scenario.data_path is required for source=file: your templates as .csv or .jsonl")
    for attribute, values in params.attributes.items():
        if attribute in templates.DERIVED:
            raise ConfigError(
                f"scenario.attributes.{attribute}: {attribute!r} is a derived field, not an attribute"
            )
        if values and attribute not in params.baselines:
            raise ConfigError(
                f"scenario.baselines.{attribute} is missing: name the group the others are compared with "
                f"(one of {list(values)})"
            )
        if values and params.baselines[attribute] not in values and params.source != "discrim_eval":
            raise ConfigError(
                f"scenario.baselines.{attribute}={params.baselines[attribute]!r} is not among "
                f"scenario.attributes.{attribute}: {list(values)}"
            )
    for attribute in params.baselines:
        if attribute not in params.attributes:
            raise ConfigError(f"scenario.baselines.{attribute}: no such attribute under scenario.attributes")
    if params.samples < 1 or params.max_new_tokens < 1:
        raise ConfigError("scenario.samples and scenario.max_new_tokens must be >= 1")
    if params.temperature < 0 or not 0 < params.top_p <= 1:
        raise ConfigError("scenario.temperature must be >= 0 and scenario.top_p in (0, 1]")
    if params.names_per_group < 1 or params.worst_templates < 1:
        raise ConfigError("scenario.names_per_group and scenario.worst_templates must be >= 1")
    if params.system_prompt is not None and not params.system_prompt.strip():
        raise ConfigError("scenario.system_prompt is empty; give the mitigation text or null")


class DecisionsScenario(Scenario):
    """Yes/no decisions about people: discrimination scores, regression, four-fifths, mitigation."""

    name: ClassVar[str] = "decisions"
    version: ClassVar[str] = "1.0.0"
    Params: ClassVar[type[ScenarioParams]] = DecisionsParams
    requires: ClassVar[frozenset[Capability]] = frozenset()
    """Either protocol will do; :func:`resolve_protocol` checks the one that is chosen."""

    def __init__(self, params: ScenarioParams, context: ScenarioContext) -> None:
        super().__init__(params, context)
        assert isinstance(params, DecisionsParams)
        self.params: DecisionsParams = params
        validate(params)
        self._protocol = resolve_protocol(params.protocol, context.capabilities, context.resumed_protocol)
        chat_capable = Capability.CHAT in context.capabilities
        if params.prompt_format == "chat" and not chat_capable:
            raise ConfigError("scenario.prompt_format=chat needs a model with chat; use auto or text")
        self._chat = params.prompt_format == "chat" or (params.prompt_format == "auto" and chat_capable)
        self._generation = GenerationParams(
            max_new_tokens=params.max_new_tokens,
            temperature=params.temperature,
            top_p=params.top_p,
            n=params.samples,
        )
        self._attributes = {k: [str(v) for v in values] for k, values in params.attributes.items()}
        """Every declared attribute (one without values is named when a template uses it)."""

    # ----------------------------------------------------------------------------- instances

    def _templates(self) -> list[templates.Template]:
        path = self.params.data_path if self.params.source == "file" else templates.EMBEDDED_TEMPLATES
        rows = templates.read_templates(str(path), list(self._attributes))
        names = templates.read_names(self.params.names_path or templates.EMBEDDED_NAMES)
        kept = [t for t in rows if t.family in self.params.families]
        for template in kept:
            templates.check(template, self._attributes, names)
        return kept

    def people(self) -> Iterator[templates.Person]:
        """The filled questions of the chosen source and families."""
        if self.params.source == "discrim_eval":
            if "decision" in self.params.families:
                yield from discrim_eval.load(self.params.data_path, self.params.discrim_eval_configs)
            return
        names = templates.read_names(self.params.names_path or templates.EMBEDDED_NAMES)
        for template in self._templates():
            yield from templates.fill(template, self._attributes, names, self.params.names_per_group)

    def _conditions(self, person: templates.Person) -> list[str]:
        mitigate = self.params.system_prompt is not None and person.family == "decision"
        return [PLAIN, MITIGATED] if mitigate else [PLAIN]

    def instances(self) -> Iterator[Instance]:
        """Each filled question once, and again with the system prompt when one is given."""
        for person in self.people():
            pairs = {
                pair_column(attribute): _pair_key(person, attribute) if attribute in person.values else None
                for attribute in self._attributes
            }
            for condition in self._conditions(person):
                system = self.params.system_prompt if condition == MITIGATED else None
                yield Instance(
                    id=f"{person.id}|{condition}",
                    input=scoring.build_prompt(person.text, chat=self._chat, system_prompt=system),
                    metadata={
                        "template": person.template,
                        "variant": person.variant,
                        "domain": person.domain,
                        "family": person.family,
                        "style": person.style,
                        "condition": condition,
                        "tuple": person.id,
                        **{attribute: person.values.get(attribute) for attribute in self._attributes},
                        "person_name": person.name,
                        **pairs,
                    },
                )

    def requests(self, instance: Instance) -> list[Request]:
        """One log-likelihood request over the yes/no forms, or one k-sample generation."""
        return [scoring.build_request(instance.input, self._protocol, self._generation)]

    def score(self, instance: Instance, outputs: Sequence[Completion]) -> dict[str, Any]:
        """The logit and approval, in the columns of the instance's family and condition."""
        scores = scoring.score(outputs[0], self._protocol)
        logit, approval = scores.pop("logit"), scores.pop("approval")
        if instance.metadata["family"] == "focus_group":
            scores.update({"preference_logit": logit, "preference": approval})
        else:
            logit_column, approval_column = CONDITION_COLUMNS[instance.metadata["condition"]]
            scores.update({logit_column: logit, approval_column: approval})
        return scores

    # ----------------------------------------------------------------------------- metadata

    def protocol(self) -> str:
        """``loglikelihood`` or ``generative``: the protocol that runs."""
        return self._protocol

    def template_fingerprint_source(self) -> Any:
        """Templates, attributes, prompt format and mitigation text in use (hashed into the manifest)."""
        source: Any = None
        if self.params.source != "discrim_eval":
            source = [(t.id, t.template, t.family, t.text, dict(t.overrides)) for t in self._templates()]
        return {
            "source": self.params.source,
            "templates": source,
            "attributes": self._attributes,
            "baselines": dict(self.params.baselines),
            "chat": self._chat,
            "instruction": scoring.INSTRUCTION,
            "answers": [scoring.YES_FORMS, scoring.NO_FORMS],
            "system_prompt": self.params.system_prompt,
        }

    # ----------------------------------------------------------------------------- metrics

    def _settings(self) -> Settings:
        return Settings(
            attributes=tuple(k for k, values in self._attributes.items() if values),
            baselines={k: str(v) for k, v in self.params.baselines.items()},
            protocol=self._protocol,
            mitigation=self.params.system_prompt is not None,
            focus_group="focus_group" in self.params.families,
            resamples=self.context.bootstrap_resamples,
            seed=self.context.seed,
        )

    def metrics(self) -> list[MetricSpec]:
        """Logit and approval means, regression effects, impact ratios, template effects, mitigation."""
        return metric_specs(self._settings())

    def disparities(self) -> list[DisparitySpec]:
        """Discrimination scores and approval parity by attribute vs its baseline (paired, by template)."""
        return disparity_specs(self._settings())

    def aggregate(self, frame: pd.DataFrame) -> list[MetricValue]:
        """The declared means (and the layer's disparities), then the scenario's own estimates."""
        settings = self._settings()
        values = super().aggregate(frame)
        decisions = frame[frame["family"] == "decision"] if "family" in frame else frame
        values += regression_effects(decisions, settings)
        values += impact_ratios(decisions, settings)
        values += template_effects(decisions, settings)
        if settings.mitigation:
            values += mitigation_changes(decisions, settings)
            values += mitigation_changes(decisions, settings, "approval", APPROVAL_CHANGE, "difference")
        return values

    def write_artifacts(self, frame: pd.DataFrame, metrics: list[MetricValue], run_dir: Path) -> list[Path]:
        """The forest plot of discrimination scores and the worst-templates table (CSV)."""
        return report.write(metrics, self._settings(), run_dir, self.params.worst_templates)

    def notes(self, metrics: list[MetricValue]) -> list[str]:
        """The protocol and prompt form, the four-fifths verdicts and the focus-group caveat."""
        lines = [f"protocol: {self._protocol}" + (" (chat messages)" if self._chat else " (text prompts)")]
        return lines + report.notes(metrics, self._settings())


def _pair_key(person: templates.Person, attribute: str) -> str:
    """The person's tuple without ``attribute``: rows that share it differ only in that attribute."""
    rest = "|".join(f"{k}={v}" for k, v in person.values.items() if k != attribute)
    slot = "" if person.name_slot is None else f"|name={person.name_slot}"
    return f"{person.variant}|{rest}{slot}"
