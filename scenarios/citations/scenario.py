"""Scenario ``citations``: how often a model invents, misattributes or mangles scientific references.

Prompts (:mod:`~scenarios.citations.prompts`) ask for papers by an author, references on a
topic, a BibTeX list or papers with DOIs, in completion and chat form. Each of the k sampled
responses is parsed into citations (:mod:`~scenarios.citations.extract`), every citation is
verified against a frozen bibliography and optional online resolvers
(:mod:`~scenarios.citations.verify`), and the response is checked for abstentions and
disclaimers (:mod:`~scenarios.citations.abstain`). Metrics are ratios with bootstrap CIs
clustered by prompt, overall and per prompt family and form (:mod:`~scenarios.citations.metrics`).

Which bibliography: ``bibliography`` when given (JSONL/CSV/parquet/Hub through ``datasets``,
BibTeX, CSL-JSON or a DBLP XML dump); for the embedded reference model (model id
``reference``) and the simulated adapter (conformance checks) the bibliography of the reference
world, a closed world; otherwise online resolvers alone when ``online_resolvers`` is set. With
none of these the scenario is skipped (:class:`~harness.errors.ScenarioSkipped`, one line saying
what to pass).

Coverage: a citation that matches no record is called fabricated only where the sources can
speak for it (:meth:`~scenarios.citations.verify.Verifier.coverage`): ``bibliography_complete``
(or the reference world), an author in ``complete_authors`` (and ``dblp_authors`` of a DBLP
dump: DBLP person pages are complete publication lists), or an online resolver that searched.
Otherwise it is ``not_covered``; ``coverage_rate`` reports the share covered.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import pandas as pd

from harness.errors import ConfigError, ScenarioSkipped
from harness.scenario import Scenario, ScenarioContext, ScenarioParams
from harness.types import (
    Capability,
    Completion,
    GenerationParams,
    Instance,
    MetricSpec,
    MetricValue,
    Request,
    ScorerIdentity,
    stable_hash,
)
from scenarios.citations.abstain import detect_hedging
from scenarios.citations.bibliography import Bibliography, load_records, reference_bibliography
from scenarios.citations.extract import extract_citations, residual_text
from scenarios.citations.metrics import COUNT_COLUMNS, RATIO_METRICS, ratio_values
from scenarios.citations.prompts import FAMILIES, FORMS, completion_prefix, render, slug
from scenarios.citations.resolvers import PoliteClient, ResponseCache, make_resolvers
from scenarios.citations.verify import COVERED, VERIFIER_VERSION, Thresholds, Verdict, Verifier

if TYPE_CHECKING:  # httpx is imported by the resolvers only when they go online
    import httpx

REFERENCE_MODEL_ID = "reference"
SIMULATED_MODEL_ID = "simulated"
"""The simulated adapter (``harness validate`` runs scenarios on it): with no other source it is
verified against the reference world's bibliography, so the conformance check runs out of the box."""
ARTIFACT = "citations_fabricated.csv"
ARTIFACT_COLUMNS = (
    "instance", "family", "form", "subject", "response", "cited_title", "cited_authors", "cited_year",
    "cited_venue", "cited_doi", "closest_real_title", "similarity",
)  # fmt: skip


@dataclass
class CitationsParams(ScenarioParams):
    """Parameters of the citations scenario (conf/scenario/citations.yaml lists every one)."""

    name: str = "citations"
    bibliography: str | None = None
    bibliography_format: str = "auto"
    bibliography_split: str = "train"
    bibliography_complete: bool = False
    complete_authors: list[str] = field(default_factory=list)
    cutoff_year: int | None = None
    dblp_authors: list[str] = field(default_factory=list)
    dblp_min_year: int | None = None
    authors: list[str] = field(default_factory=list)
    max_authors: int = 10
    min_author_papers: int = 2
    topics: list[str] = field(default_factory=list)
    topics_file: str | None = None
    max_topics: int = 10
    families: list[str] = field(default_factory=lambda: list(FAMILIES))
    forms: list[str] = field(default_factory=lambda: list(FORMS))
    n_requested: int = 5
    samples_per_prompt: int = 3
    temperature: float = 1.0
    top_p: float = 1.0
    max_new_tokens: int = 256
    verified_threshold: float = 98.0
    mangled_threshold: float = 60.0
    word_threshold: float = 80.0
    author_precision: float = 0.5
    venue_threshold: float = 80.0
    year_tolerance: int = 0
    online_resolvers: list[str] = field(default_factory=list)
    resolver_cache: str = "results/.cache/citations_resolvers.sqlite"
    resolver_mailto: str | None = None
    resolver_min_interval_s: float = 1.0
    resolver_timeout_s: float = 20.0
    max_examples: int = 50


class CitationsScenario(Scenario):
    """Fabricated, misattributed and mangled citations, and abstentions (see module docstring)."""

    name = "citations"
    version = "1.0"
    Params = CitationsParams
    requires = frozenset({Capability.GENERATE})
    http_transport: ClassVar[httpx.BaseTransport | None] = None
    """The HTTP transport of the online resolvers (None: the network); tests replay recordings."""

    def __init__(self, params: CitationsParams, context: ScenarioContext) -> None:
        super().__init__(params, context)
        self.params: CitationsParams = params
        unknown = sorted(set(params.families) - set(FAMILIES))
        if unknown:
            raise ConfigError(f"scenario.families: unknown {unknown}; choose from {list(FAMILIES)}")
        bad_forms = sorted(set(params.forms) - set(FORMS))
        if bad_forms:
            raise ConfigError(f"scenario.forms: unknown {bad_forms}; choose from {list(FORMS)}")
        if not (params.bibliography or self._is_reference_model or params.online_resolvers):
            raise ScenarioSkipped(
                "citations skipped: no ground truth to verify citations against; pass "
                "scenario.bibliography=<.jsonl/.csv/.bib/CSL-JSON/DBLP .xml file or Hub dataset> or "
                "scenario.online_resolvers=[crossref,openalex] (in a suite: suite.scenarios.citations.<key>)"
            )
        if not 0 <= params.mangled_threshold <= params.verified_threshold <= 100:
            raise ConfigError("scenario: need 0 <= mangled_threshold <= verified_threshold <= 100")

    @property
    def _is_reference_model(self) -> bool:
        """True when the reference world's bibliography is the ground truth (see the module docstring)."""
        info = self.context.model_info
        if info is None or self.params.bibliography:
            return False
        if info.model_id == REFERENCE_MODEL_ID:
            return True
        return info.model_id == SIMULATED_MODEL_ID and not self.params.online_resolvers

    @cached_property
    def bibliography(self) -> Bibliography:
        """The frozen bibliography in use (see the module docstring for the default)."""
        p = self.params
        if p.bibliography:
            records = load_records(
                p.bibliography,
                format=p.bibliography_format,
                split=p.bibliography_split,
                dblp_authors=p.dblp_authors,
                dblp_min_year=p.dblp_min_year,
                dblp_max_year=p.cutoff_year,
            )
            return Bibliography(records, name=p.bibliography, cutoff_year=p.cutoff_year)
        if self._is_reference_model:
            return Bibliography(reference_bibliography(), name="reference-world", cutoff_year=p.cutoff_year)
        return Bibliography([], name="online-only", cutoff_year=p.cutoff_year)

    @cached_property
    def thresholds(self) -> Thresholds:
        """The verifier's thresholds from the parameters."""
        p = self.params
        return Thresholds(
            verified=p.verified_threshold,
            mangled=p.mangled_threshold,
            word=p.word_threshold,
            author_precision=p.author_precision,
            venue=p.venue_threshold,
            year_tolerance=p.year_tolerance,
        )

    @cached_property
    def verifier(self) -> Verifier:
        """The verification cascade over the bibliography and the enabled resolvers."""
        p = self.params
        resolvers = []
        if p.online_resolvers:
            client = PoliteClient(
                ResponseCache(Path(p.resolver_cache)),
                mailto=p.resolver_mailto,
                min_interval_s=p.resolver_min_interval_s,
                timeout_s=p.resolver_timeout_s,
                transport=self.http_transport,
            )
            resolvers = make_resolvers(list(p.online_resolvers), client)
        return Verifier(
            self.bibliography,
            self.thresholds,
            resolvers,
            closed_world=self.closed_world,
            complete_authors=self.complete_authors,
        )

    @property
    def closed_world(self) -> bool:
        """The bibliography holds every real paper: declared, or the reference world's own."""
        p = self.params
        return p.bibliography_complete or self._is_reference_model

    @property
    def complete_authors(self) -> list[str]:
        """People whose complete works the bibliography holds (declared, or DBLP persons)."""
        p = self.params
        return [*p.complete_authors, *(p.dblp_authors if p.bibliography else [])]

    def _forms(self) -> list[str]:
        if Capability.CHAT in self.context.capabilities:
            return list(self.params.forms)
        return [f for f in self.params.forms if f != "chat"]

    def _authors(self) -> list[str]:
        if self.params.authors:
            return list(self.params.authors)
        return self.bibliography.authors_by_output(self.params.min_author_papers)[: self.params.max_authors]

    def _topics(self) -> list[str]:
        if self.params.topics:
            return list(self.params.topics)
        if self.params.topics_file:
            return load_topics(self.params.topics_file)[: self.params.max_topics]
        return self.bibliography.topics(self.params.max_topics)

    def instances(self) -> Iterable[Instance]:
        """One instance per (family, form, subject); the id is stable across runs."""
        subjects = {"author": self._authors(), "topic": self._topics()}
        produced = 0
        for family_name in self.params.families:
            family = FAMILIES[family_name]
            for form in self._forms():
                for index, subject in enumerate(subjects[family.subject]):
                    produced += 1
                    yield Instance(
                        id=f"{family_name}:{form}:{index:03d}:{slug(subject)}",
                        input=render(family, form, subject, self.params.n_requested),
                        metadata={
                            "family": family_name,
                            "form": form,
                            "subject": subject,
                            "queried_author": subject if family.subject == "author" else "",
                        },
                    )
        if produced == 0:
            raise ConfigError(
                "scenario citations has no prompts: the bibliography yields no authors with at least "
                f"{self.params.min_author_papers} papers and no topics. Set scenario.authors, "
                "scenario.topics or scenario.topics_file, or lower scenario.min_author_papers."
            )

    def requests(self, instance: Instance) -> list[Request]:
        """k sampled answers to the prompt."""
        p = self.params
        params = GenerationParams(
            max_new_tokens=p.max_new_tokens, temperature=p.temperature, top_p=p.top_p, n=p.samples_per_prompt
        )
        return [Request("generate", instance.input, params)]

    def score(self, instance: Instance, outputs: Sequence[Completion]) -> dict[str, Any]:
        """Counts of citation statuses and hedges over the k responses, plus every verdict."""
        family = FAMILIES[instance.metadata["family"]]
        prefix = completion_prefix(family, instance.metadata["form"])
        queried = instance.metadata.get("queried_author") or None
        counts = dict.fromkeys(COUNT_COLUMNS, 0)
        details: list[dict[str, Any]] = []
        hedges: list[str] = []
        for response_index, text in enumerate(outputs[0].texts):
            full = prefix + text
            citations = extract_citations(full)
            verdicts = [self.verifier.verify(c, queried) for c in citations]
            hedging = detect_hedging(residual_text(full, citations), len(citations))
            counts["n_responses"] += 1
            counts["n_citations"] += len(citations)
            counts["n_abstained"] += int(hedging.abstained)
            counts["n_disclaimed"] += int(hedging.disclaimed)
            if hedging.evidence:
                hedges.append(hedging.evidence)
            counts["n_responses_with_fabricated"] += int(any(v.status == "fabricated" for v in verdicts))
            for citation, verdict in zip(citations, verdicts, strict=True):
                _count(counts, verdict)
                details.append({"response": response_index, **citation.as_dict(), **verdict.as_dict()})
        return {**counts, "citations": details, "hedging_evidence": hedges}

    def metrics(self) -> list[MetricSpec]:
        """The ratio metrics of :mod:`scenarios.citations.metrics`."""
        return [m.spec for m in RATIO_METRICS]

    def aggregate(self, frame: pd.DataFrame) -> list[MetricValue]:
        """Ratio metrics overall and by family and form; fabricated examples ride on fabrication_rate."""
        values = ratio_values(frame)
        examples = fabricated_rows(frame)[: self.params.max_examples]
        for value in values:
            if value.name == "fabrication_rate" and value.group is None:
                value.extra["examples"] = examples
                value.extra["bibliography"] = {
                    "name": self.bibliography.name,
                    "records": len(self.bibliography),
                }
        return values

    def protocol(self) -> str:
        """Generative; which forms ran."""
        return "generative:" + "+".join(self._forms())

    def scorers(self) -> list[ScorerIdentity]:
        """The verifier, identified by its version, thresholds, bibliography and resolvers."""
        bibliography = self.bibliography
        identity = stable_hash(
            [
                asdict(self.thresholds),
                bibliography.fingerprint(),
                sorted(self.params.online_resolvers),
                self.closed_world,
                sorted(self.complete_authors),
            ]
        )
        return [
            ScorerIdentity(
                name="citations-verifier",
                version=VERIFIER_VERSION,
                model_hash=identity[:16],
                label=f"{bibliography.name} ({len(bibliography)} records"
                f"{', complete' if self.closed_world else ''}; resolvers: "
                f"{', '.join(self.params.online_resolvers) or 'none'})",
            )
        ]

    def template_fingerprint_source(self) -> Any:
        """The templates of the selected families and the number of references asked for."""
        return {
            "n_requested": self.params.n_requested,
            "templates": {name: asdict(FAMILIES[name]) for name in self.params.families},
        }

    def write_artifacts(self, frame: pd.DataFrame, metrics: list[MetricValue], run_dir: Path) -> list[Path]:
        """``citations_fabricated.csv``: each fabricated citation with the closest real title."""
        from harness.report.tables import write_rows  # formula-safe CSV

        return [write_rows(fabricated_rows(frame), list(ARTIFACT_COLUMNS), run_dir / ARTIFACT)]


def _count(counts: dict[str, int], verdict: Verdict) -> None:
    counts[f"n_{verdict.status}"] += 1
    counts["n_covered"] += int(verdict.status in COVERED)
    counts["n_year_checked"] += int(verdict.year_checked)
    counts["n_wrong_year"] += int(verdict.wrong_year)
    counts["n_venue_checked"] += int(verdict.venue_checked)
    counts["n_wrong_venue"] += int(verdict.wrong_venue)
    counts["n_identifier_checked"] += int(verdict.identifier_checked)
    counts["n_wrong_identifier"] += int(verdict.wrong_identifier)


def fabricated_rows(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Every fabricated citation of a run, most similar to a real title first (for the report)."""
    rows: list[dict[str, Any]] = []
    if "citations" not in frame:
        return rows
    scored = frame[frame["error"].isna()] if "error" in frame else frame
    for record in scored.itertuples(index=False):
        for item in record.citations or []:
            if item.get("status") != "fabricated":
                continue
            rows.append(
                {
                    "instance": record.id,
                    "family": getattr(record, "family", ""),
                    "form": getattr(record, "form", ""),
                    "subject": getattr(record, "subject", ""),
                    "response": item.get("response"),
                    "cited_title": item.get("title"),
                    "cited_authors": "; ".join(item.get("authors") or []),
                    "cited_year": item.get("year"),
                    "cited_venue": item.get("venue"),
                    "cited_doi": item.get("doi"),
                    "closest_real_title": item.get("closest_title"),
                    "similarity": item.get("closest_similarity"),
                }
            )
    return sorted(rows, key=lambda r: -(r["similarity"] or 0.0))


def load_topics(path: str) -> list[str]:
    """Topics from a text file, one per line (blank lines and ``#`` comments skipped), via ``datasets``."""
    import datasets

    if not Path(path).expanduser().exists():
        raise ConfigError(f"scenario.topics_file: {path} does not exist")
    lines = datasets.load_dataset("text", data_files=str(Path(path).expanduser()), split="train")["text"]
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]
