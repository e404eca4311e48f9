"""Plain, typed data that flows between scenarios, adapters, the runner and the reports.

Everything here is a small frozen-or-plain dataclass that serialises to JSON with
:func:`to_jsonable`. The run-directory format (see README, "Run directory") is built from these
records and versioned by :data:`SCHEMA_VERSION`.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Literal

SCHEMA_VERSION = 1
"""Version of the run-directory format (run.json, samples.jsonl, metrics.json)."""

OMIT_DEFAULT = {"omit_default": True}
"""Field metadata: :func:`to_jsonable` leaves the field out while it holds its default, so a field
added later leaves the JSON form (and every hash of it: request keys, cache keys) of records that do
not use it unchanged."""


class Capability(str, enum.Enum):
    """What a model adapter can do; scenarios declare which ones they need."""

    GENERATE = "generate"
    LOGLIKELIHOOD = "loglikelihood"
    CHAT = "chat"


@dataclass(frozen=True)
class ChatMessage:
    """One chat turn (``role`` is system, user or assistant)."""

    role: str
    content: str


Prompt = str | tuple[ChatMessage, ...]


@dataclass
class Instance:
    """One evaluation item: an id, its input, optional references and free metadata.

    ``metadata`` carries the slicing keys (occupation, group, template id, ...) that metrics
    break down by and that bootstrap CIs cluster on.
    """

    id: str
    input: Prompt
    references: list[str] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class GenerationParams:
    """Decoding parameters of a generation request; ``temperature == 0`` means greedy."""

    max_new_tokens: int = 32
    temperature: float = 0.0
    top_p: float = 1.0
    n: int = 1
    stop: tuple[str, ...] = ()
    min_new_tokens: int = field(default=0, metadata=OMIT_DEFAULT)
    """Generate at least this many tokens (end-of-text is suppressed until then); 0: no minimum."""

    def __post_init__(self) -> None:
        """Keep ``stop`` a tuple (a plugin may pass a list) so decoding settings stay hashable."""
        object.__setattr__(self, "stop", tuple(self.stop))


@dataclass(frozen=True)
class WatermarkSpec:
    """A text watermark to generate with: its scheme, public parameters and key identity, never the key.

    Requests are recorded in run files and hashed into cache keys, so the secret key stays in the
    environment variable ``key_env`` (None: the project's public demonstration key) and the request
    carries only ``key_id``, a hash of it (:func:`harness.adapters.hf.watermark_key_id`). An adapter
    that generates with the watermark resolves the key and refuses one whose hash differs.
    ``scheme`` is ``kgw`` (green lists, Kirchenbauer et al. 2023) or ``synthid`` (tournament
    sampling, Dathathri et al. 2024); ``parameters`` are that scheme's settings as sorted pairs.
    """

    scheme: str
    parameters: tuple[tuple[str, Any], ...] = ()
    key_env: str | None = None
    key_id: str = ""


@dataclass(frozen=True)
class Request:
    """What a scenario asks a model for one instance.

    ``kind == "generate"`` samples ``params.n`` continuations of ``prompt``.
    ``kind == "loglikelihood"`` scores each of ``continuations`` after ``prompt``.
    Requests are hashable and have a stable :meth:`key`, so identical requests are sent once.
    """

    kind: Literal["generate", "loglikelihood"]
    prompt: Prompt
    params: GenerationParams = GenerationParams()
    continuations: tuple[str, ...] = ()
    instance_id: str | None = field(default=None, compare=False)
    watermark: WatermarkSpec | None = field(default=None, metadata=OMIT_DEFAULT)
    """Generate with this watermark (adapters that cannot, ignore it: the scenario checks the adapter)."""
    sample_seed: str | None = field(default=None, metadata=OMIT_DEFAULT)
    """Names the random stream of sampled continuations: requests that share it draw sample j from the
    same random numbers (common random numbers for counterfactual prompts); None: the request's own
    stream (:meth:`sampling_key`). Part of the request's key only when set."""

    @property
    def is_chat(self) -> bool:
        """True when the prompt is a list of chat messages rather than raw text."""
        return isinstance(self.prompt, tuple)

    def payload(self) -> dict[str, Any]:
        """The request as plain JSON values, without its instance id (a new copy on each call).

        Converted once and kept on the (frozen, hence unchanging) request, like :meth:`key`.
        """
        known: dict[str, Any] | None = self.__dict__.get("_payload")
        if known is None:
            known = to_jsonable(self)
            known.pop("instance_id")  # sample_seed and watermark are left out while unset (OMIT_DEFAULT)
            object.__setattr__(self, "_payload", known)
        prompt = known["prompt"]
        return {
            **known,
            "prompt": prompt if isinstance(prompt, str) else [dict(message) for message in prompt],
            "params": dict(known["params"]),
            "continuations": list(known["continuations"]),
        }

    def sampling_key(self) -> str:
        """What adapters seed sample j with (beside the run seed): the shared stream, else :meth:`key`."""
        return self.key() if self.sample_seed is None else f"shared-stream:{self.sample_seed}"

    def key(self) -> str:
        """A stable content hash of the request (prompt, kind, params, continuations).

        The runner asks for it several times per request (deduplication, cache, plan fingerprint,
        records), so it is computed once and kept on the request.
        """
        known: str | None = self.__dict__.get("_key")
        if known is None:
            known = json_digest(self.payload())  # already plain: stable_hash would convert it again
            object.__setattr__(self, "_key", known)
        return known


@dataclass
class Completion:
    """An adapter's answer to one request.

    For generation, ``texts`` holds the ``n`` sampled continuations. For log-likelihood,
    ``logprobs[i]`` is the summed log-probability of ``continuations[i]``, ``token_counts[i]``
    its length in tokens and ``greedy[i]`` whether greedy decoding would produce it. ``error``
    is set (and everything else left empty) when the request failed after its retries.
    """

    texts: list[str] = field(default_factory=list)
    logprobs: list[float] = field(default_factory=list)
    token_counts: list[int] = field(default_factory=list)
    greedy: list[bool] = field(default_factory=list)
    error: str | None = None

    @classmethod
    def failed(cls, message: str) -> Completion:
        """A completion that records a failure; it is never scored (fail closed)."""
        return cls(error=message)


@dataclass(frozen=True)
class ModelInfo:
    """Provenance of a model: who serves it, which weights, which numeric type."""

    adapter: str
    model_id: str
    revision: str | None = None
    weights_hash: str | None = None
    dtype: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def identity(self) -> str:
        """The part of the info that decides what the model outputs (used as the cache key)."""
        return stable_hash(
            {
                "adapter": self.adapter,
                "model_id": self.model_id,
                "revision": self.revision,
                "weights_hash": self.weights_hash,
                "dtype": self.dtype,
                "behaviour": self.extra.get("behaviour"),
            }
        )


@dataclass(frozen=True)
class ScorerIdentity:
    """Name, version and model hash of a scorer; results scored differently never compare."""

    name: str
    version: str
    model_hash: str | None = None
    label: str | None = None
    operating_point: dict[str, Any] | None = None
    """The decision threshold the scorer was validated at and how it was chosen (None: none)."""


Direction = Literal["higher_is_better", "lower_is_better", "none"]


UNIT_INTERVAL_UNITS = frozenset({"proportion", "probability", "score", "similarity"})
"""Units whose values lie in [0, 1] by definition: rates, probabilities, classifier scores, similarities."""
NONNEGATIVE_UNITS = frozenset({"tokens", "documents", "count", "characters", "words"})
"""Units whose values are counts: never negative, not bounded above."""


def unit_support(unit: str) -> str:
    """Where a unit's values lie by definition (``harness.stats.SUPPORTS``); it picks the interval.

    [0, 1] units (:data:`UNIT_INTERVAL_UNITS`) get Wilson's, counts (:data:`NONNEGATIVE_UNITS`)
    the t interval cut at 0, every other unit the t interval.
    """
    if unit in UNIT_INTERVAL_UNITS:
        return "unit_interval"
    return "nonnegative" if unit in NONNEGATIVE_UNITS else "real"


@dataclass(frozen=True)
class MetricSpec:
    """A metric a scenario declares: what it means, which way is good, and what unit its values have.

    When ``value`` names a per-instance score key, the engine computes the mean over scored
    instances with a cluster-robust interval clustered on the ``cluster`` metadata key (default:
    the instance itself; :func:`harness.stats.mean_estimate`) and, for each key in ``group_by``,
    one breakdown per group; the ``unit`` (:attr:`support`) picks the interval. When ``value`` is
    None the scenario computes the metric itself in ``Scenario.aggregate``. Every record names
    its interval method in ``MetricValue.ci_method``.
    """

    name: str
    description: str
    direction: Direction = "none"
    unit: str = "proportion"
    value: str | None = None
    cluster: str | None = None
    group_by: tuple[str, ...] = ()

    @property
    def support(self) -> str:
        """Where the values lie by definition, from the declared ``unit`` (:func:`unit_support`)."""
        return unit_support(self.unit)


@dataclass(frozen=True)
class DisparitySpec:
    """ "Metric M by group G, clustered by C": per-group estimates, the gap, pairwise differences.

    Declared by :meth:`harness.scenario.Scenario.disparities`; the engine emits ``{metric}`` per
    group, ``{metric}_gap_by_{by}`` (max − min of the group means, an interval that covers a true
    gap of zero, the tied highest / lowest / worst groups, a p-value for "no gap" and the
    bias-corrected gap in ``extra``) and ``{metric}_diff_by_{by}`` per compared pair
    (:func:`harness.stats.disparity`).
    """

    metric: str
    """Name of a MetricSpec of the same scenario that has a per-instance ``value``."""
    by: str
    """The grouping column (instance metadata key)."""
    cluster: str | None = None
    """Resampling unit; default: the metric's own ``cluster``."""
    baseline: str | None = None
    """Compare every group with this one; None: every pair of groups."""
    paired_by: str | None = None
    """Column that matches rows across groups (counterfactual tuple id): differences are paired."""


@dataclass
class MetricValue:
    """One number in metrics.json: point estimate, 95% CI, rows, resampling units and error count.

    ``n`` counts the rows behind the estimate and ``n_clusters`` the units its interval
    resamples (prompts, documents, occupations); ``ci_method`` names the interval.
    """

    name: str
    value: float | None
    ci_low: float | None
    ci_high: float | None
    n: int
    n_errors: int = 0
    ci_method: str = ""
    direction: Direction = "none"
    unit: str = ""
    group: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    n_clusters: int | None = None


_PLAIN = (str, int, float, bool, type(None))


def to_jsonable(obj: Any) -> Any:
    """Convert dataclasses, enums, tuples and numpy scalars to plain JSON-compatible values."""
    if type(obj) in _PLAIN:  # most leaves: skip the dataclass / enum / container checks below
        return obj
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {
            f.name: to_jsonable(getattr(obj, f.name))
            for f in dataclasses.fields(obj)
            if not (f.metadata.get("omit_default") and getattr(obj, f.name) == f.default)
        }
    if isinstance(obj, enum.Enum):
        return obj.value
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple | set | frozenset):
        return [to_jsonable(v) for v in obj]
    if hasattr(obj, "item") and callable(obj.item):  # numpy / torch scalars
        return obj.item()
    return obj


def json_default(obj: Any) -> Any:
    """``default=`` for :func:`json.dumps`: what :func:`to_jsonable` converts, else ``str(obj)``.

    Serialising with this instead of ``json.dumps(to_jsonable(obj))`` lets the encoder walk plain
    dicts, lists and strings in C and call back only for the rare dataclass or numpy scalar; for
    samples.jsonl that halves the writer's cost per instance. Dict keys are JSON's to convert:
    ``True`` becomes ``"true"`` (``to_jsonable`` writes ``"True"``), and keys JSON refuses
    (tuples, numpy integers) raise ``TypeError`` for the caller to fall back on ``to_jsonable``.
    """
    converted = to_jsonable(obj)
    return str(obj) if converted is obj else converted


def stable_hash(obj: Any) -> str:
    """SHA-256 of the canonical JSON form of ``obj`` (sorted keys), as hex."""
    return json_digest(to_jsonable(obj))


def json_digest(value: Any) -> str:
    """:func:`stable_hash` of a value that is (nearly) plain JSON already, without converting it first.

    The encoder walks plain values in C and hands the odd dataclass or numpy scalar to
    :func:`json_default`; for :func:`to_jsonable`'s output the digest equals ``stable_hash``'s.
    Dict keys JSON refuses (tuples) raise ``TypeError``, and keys JSON spells differently from
    ``to_jsonable`` (booleans, None, integers sorted as numbers) give another digest: use
    :func:`stable_hash` where such keys can occur and the digest must not depend on the path.
    """
    payload = json.dumps(value, sort_keys=True, separators=(",", ":"), default=json_default)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def prompt_from_json(value: Any) -> Prompt:
    """Rebuild a prompt (text or chat messages) from its JSON form."""
    if isinstance(value, str):
        return value
    return tuple(ChatMessage(role=m["role"], content=m["content"]) for m in value)


def prompt_text(prompt: Prompt) -> str:
    """A readable one-string form of a prompt, used for keys, lengths and reports."""
    if isinstance(prompt, str):
        return prompt
    return "\n".join(f"{m.role}: {m.content}" for m in prompt)
