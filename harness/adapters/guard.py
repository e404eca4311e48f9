"""The ``guard`` adapter: wraps any adapter in a filter, a guarded system measured like any model.

Two kinds of filter (``filter``):

* ``ngram`` (default): redacts or blocks outputs that reproduce protected text (below);
* ``scorer``: any scorer (a toxicity classifier, a moderation endpoint, a served guard model:
  ``scorer`` and ``scorer_options``) at a ``threshold``, applied to the prompt (``apply_to:
  inputs``), to each output (``outputs``) or to both. A prompt scoring at or above the threshold
  is not sent to the inner model; an output at or above it is withheld. ``mode: block`` answers
  with ``block_message`` (default ``[blocked by the guardrail]``), ``mode: replace`` with
  ``replacement`` (a fallback answer the deployer chooses). A text the guard cannot score fails
  its request (recorded as that instance's error): an unchecked output is never let through.
  Chat prompts are judged by their last user message. ``guard_stats`` counts the prompts and
  outputs checked and blocked. Comparing runs of the bare and the guarded model shows the
  guardrail's effect and its over-blocking (``harness report`` pairs them; docs/guardrails.md).

The n-gram filter is a deployment-side mitigation for regurgitation. It indexes every word n-gram
(default n = 10) of a *protected corpus* and checks each output of the inner model against it:

* ``mode: redact`` replaces every maximal run of output tokens covered by a protected n-gram
  with ``redaction`` (default ``[REDACTED]``);
* ``mode: block`` replaces the whole output with ``block_message`` (default ``[output withheld:
  it reproduces protected text]``) when any n-gram matches.

Tokens are word tokens (``\\w+`` runs and single punctuation characters) compared case-folded,
so changing case does not evade the guard (Ippolito et al. 2023 evaded a verbatim filter with
ALL CAPS); anything that changes the words themselves still does, which is why the
regurgitation scenario also reports approximate metrics. When ``check_prompt_tail`` is on, the
last n − 1 prompt tokens are prepended before matching, so a continuation that *completes* a
protected n-gram begun in the prompt is caught too (only output tokens are ever redacted).

The index is a sorted ``numpy`` array of 64-bit n-gram hashes (FNV-1a over token ids), built
with vectorised numpy operations: a few MB of text index in about a second (see
docs/regurgitation.md for measured times). Lookups are a binary search per n-gram.

The guard offers generation and chat when its inner model does, but not log-likelihoods: the
inner model's likelihoods describe the unguarded model, not what the guarded system emits.
Its ``info().extra["guard"]`` names the redaction marker and block message, which the
regurgitation scenario uses to report ``guard_altered_rate`` (the cost: how many outputs were
changed); ``info().extra["guard_stats"]`` counts the outputs this process checked and altered
(responses served from the cache are not re-checked).

Configuration (``conf/model/guard_example.yaml``)::

    adapter: guard
    inner: reference           # a conf/model option name, or a mapping with `adapter` and its params
    corpus: reference          # protected text: reference | local file/folder | Hub name | module:function
    text_field: text
    ngram: 10
    mode: redact

``corpus: reference`` protects the reference model's memorization passages that were trained on
(repeats > 0); its held-out controls were never training data and stay unprotected.
``module:function`` names a callable that returns texts or a ``datasets.Dataset`` (for example
``scenarios.regurgitation.probes:builtin_probes``).
"""

from __future__ import annotations

import importlib
import math
import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.errors import ConfigError, DataError
from harness.model import AdapterParams, ModelAdapter, ProgressCallback
from harness.scorers.base import Scorer
from harness.types import Capability, Completion, ModelInfo, Request, prompt_text, stable_hash, to_jsonable

TOKEN = re.compile(r"\w+|[^\w\s]")
FILTERS = ("ngram", "scorer")
MODES = {"ngram": ("redact", "block"), "scorer": ("block", "replace")}
APPLY_TO = ("inputs", "outputs", "both")
BLOCK_MESSAGES = {
    "ngram": "[output withheld: it reproduces protected text]",
    "scorer": "[blocked by the guardrail]",
}
_CALLABLE_SPEC = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")
_FILE_BUILDERS = {".jsonl": "json", ".json": "json", ".csv": "csv", ".parquet": "parquet", ".txt": "text"}
_FNV_OFFSET = 0xCBF29CE484222325
_FNV_PRIME = 0x100000001B3


@dataclass
class GuardParams(AdapterParams):
    """Parameters of the guard adapter (see the module docstring)."""

    name: str = "guard"
    inner: Any = None
    filter: str = "ngram"
    corpus: str | None = None
    corpus_config: str | None = None
    data_files: list[str] = field(default_factory=list)
    split: str = "train"
    text_field: str = "text"
    ngram: int = 10
    mode: str = "redact"
    redaction: str = "[REDACTED]"
    block_message: str | None = None
    """None: the filter's default (see the module docstring)."""
    check_prompt_tail: bool = True
    scorer: str | None = None
    scorer_options: dict[str, Any] = field(default_factory=dict)
    threshold: float = 0.5
    apply_to: str = "outputs"
    replacement: str = "I'm sorry, but I can't help with that."


class NgramIndex:
    """Set of case-folded word n-grams of a corpus, stored as sorted 64-bit hashes."""

    def __init__(self, texts: Iterable[str], n: int) -> None:
        import numpy as np

        if n < 1:
            raise ConfigError(f"model.ngram must be >= 1, got {n}")
        self.n = n
        self.vocabulary: dict[str, int] = {}
        self.documents = 0
        self.tokens = 0
        parts = []
        for text in texts:
            ids = self._ids(TOKEN.findall(text.casefold()), grow=True)
            self.documents += 1
            self.tokens += len(ids)
            if len(ids) >= n:
                parts.append(self._hashes(ids))
        self.hashes = np.unique(np.concatenate(parts)) if parts else np.empty(0, dtype=np.uint64)

    def _ids(self, tokens: list[str], grow: bool) -> Any:
        import numpy as np

        if grow:
            return np.fromiter(
                (self.vocabulary.setdefault(t, len(self.vocabulary)) for t in tokens), np.uint64, len(tokens)
            )
        unknown = np.iinfo(np.uint64).max
        return np.fromiter((self.vocabulary.get(t, unknown) for t in tokens), np.uint64, len(tokens))

    def _hashes(self, ids: Any) -> Any:
        """FNV-1a over the token ids of every n-gram (uint64 arithmetic wraps, as FNV requires)."""
        import numpy as np

        count = len(ids) - self.n + 1
        hashes = np.full(count, _FNV_OFFSET, dtype=np.uint64)
        prime = np.uint64(_FNV_PRIME)
        for offset in range(self.n):
            hashes = (hashes ^ ids[offset : offset + count]) * prime
        return hashes

    def covered(self, tokens: list[str]) -> list[bool]:
        """For each token, whether some protected n-gram of ``tokens`` contains it."""
        import numpy as np

        size = len(tokens)
        if size < self.n or self.hashes.size == 0:
            return [False] * size
        ids = self._ids([t.casefold() for t in tokens], grow=False)
        hashes = self._hashes(ids)
        positions = np.minimum(np.searchsorted(self.hashes, hashes), self.hashes.size - 1)
        hits = self.hashes[positions] == hashes
        known = np.concatenate([[0], np.cumsum(ids == np.iinfo(np.uint64).max)])
        hits &= (known[self.n :] - known[: size - self.n + 1]) == 0
        covered = np.zeros(size + 1, dtype=np.int64)
        starts = np.flatnonzero(hits)
        np.add.at(covered, starts, 1)
        np.add.at(covered, starts + self.n, -1)
        return (np.cumsum(covered)[:size] > 0).tolist()


@dataclass(frozen=True)
class GuardDecision:
    """The filtered text, whether it changed, and how many output tokens were covered."""

    text: str
    altered: bool
    covered_tokens: int


def load_protected_texts(params: GuardParams) -> list[str]:
    """The protected corpus as a list of strings (see the module docstring for the accepted forms)."""
    spec = params.corpus
    if not spec:
        raise ConfigError(
            "model.corpus: the guard needs a protected corpus: reference, a file, a Hub name, module:function"
        )
    if spec == "reference":
        from harness.reference import world

        return [passage.text for passage in world.memorization_passages() if passage.repeats > 0]
    if _CALLABLE_SPEC.match(spec) and not Path(spec).exists():
        module_name, _, attribute = spec.partition(":")
        try:
            produced = getattr(importlib.import_module(module_name), attribute)()
        except (ImportError, AttributeError) as exc:
            raise ConfigError(f"model.corpus: cannot call {spec!r}: {exc}") from exc
        return _texts(produced, params.text_field, spec)
    return _texts(_load_dataset(params), params.text_field, spec)


def _load_dataset(params: GuardParams) -> Any:
    from datasets import load_dataset

    spec = str(params.corpus)
    local = Path(spec).expanduser()
    try:
        if params.data_files:
            return load_dataset(
                spec, params.corpus_config, data_files=list(params.data_files), split=params.split
            )
        if local.is_file():
            builder = _FILE_BUILDERS.get(local.suffix.lower(), "text")
            extra = {"sample_by": "document"} if builder == "text" else {}
            return load_dataset(builder, data_files=str(local), split="train", **extra)
        if local.is_dir():
            return load_dataset(str(local), params.corpus_config, split=params.split)
        return load_dataset(spec, params.corpus_config, split=params.split)
    except Exception as exc:  # datasets raises many unrelated types; report one clear message
        raise DataError(
            f"cannot load the guard's protected corpus ({type(exc).__name__}: {exc}). Set model.corpus to "
            "'reference', a local .txt/.jsonl/.json/.csv/.parquet file or folder, a Hub dataset name, "
            "or module:function returning texts",
            path=spec,
        ) from exc


def _texts(produced: Any, text_field: str, where: str) -> list[str]:
    column_names = getattr(produced, "column_names", None)
    if column_names is not None:
        if text_field not in column_names:
            raise DataError(
                f"model.text_field: no field {text_field!r}; the fields are {column_names}", path=where
            )
        produced = produced[text_field]
    texts = []
    for number, item in enumerate(produced, start=1):
        text = item.get(text_field) if isinstance(item, dict) else item
        if not isinstance(text, str):
            raise DataError(
                f"protected text must be a string, got {type(text).__name__}", path=where, line=number
            )
        texts.append(text)
    return texts


def build_inner_adapter(spec: Any) -> ModelAdapter:
    """Construct the wrapped adapter from a conf/model option name or a mapping with ``adapter``."""
    from omegaconf import DictConfig, OmegaConf

    from harness import registry
    from harness.config import config_dir, group_options, validate_section

    if isinstance(spec, str):
        path = config_dir() / "model" / f"{spec}.yaml"
        if not path.exists():
            raise ConfigError(
                f"model.inner: unknown model {spec!r}; valid options: {', '.join(group_options('model'))}"
            )
        spec = OmegaConf.to_container(OmegaConf.load(path), resolve=True)
    elif isinstance(spec, DictConfig):
        spec = OmegaConf.to_container(spec, resolve=True)
    if not isinstance(spec, dict) or "adapter" not in spec:
        raise ConfigError("model.inner must name a conf/model option or be a mapping with an 'adapter' key")
    settings = dict(spec)
    adapter_cls = registry.load_adapter(str(settings.pop("adapter")))
    return adapter_cls(validate_section(settings, adapter_cls.Params, "model.inner"))


class GuardAdapter(ModelAdapter):
    """A filter around another adapter (see the module docstring)."""

    Params = GuardParams

    def __init__(self, params: GuardParams, inner: ModelAdapter | None = None) -> None:
        super().__init__(params)
        self.params: GuardParams = params
        if params.filter not in FILTERS:
            raise ConfigError(f"model.filter must be one of {list(FILTERS)}, got {params.filter!r}")
        modes = MODES[params.filter]
        if params.mode not in modes:
            raise ConfigError(
                f"model.mode must be one of {list(modes)} for the {params.filter} filter, got {params.mode!r}"
            )
        self.block_message = params.block_message or BLOCK_MESSAGES[params.filter]
        self.guard_scorer: Scorer | None = None
        self.index: NgramIndex | None = None
        if params.filter == "scorer":
            self.guard_scorer = _build_guard_scorer(params)
        self.inner = inner if inner is not None else build_inner_adapter(params.inner)
        self.deduplicate = self.inner.deduplicate
        self.cacheable = self.inner.cacheable
        self.pipelined = self.inner.pipelined
        self.build_seconds = 0.0
        self.corpus_hash: str | None = None
        if params.filter == "ngram":
            started = time.perf_counter()
            texts = load_protected_texts(params)
            self.index = NgramIndex(texts, params.ngram)
            self.build_seconds = time.perf_counter() - started
            self.corpus_hash = stable_hash(texts)
        self.outputs_checked = 0
        self.outputs_altered = 0
        self.tokens_covered = 0
        self.inputs_checked = 0
        self.inputs_blocked = 0

    def capabilities(self) -> frozenset[Capability]:
        """The inner model's capabilities without log-likelihoods (see the module docstring)."""
        return self.inner.capabilities() - {Capability.LOGLIKELIHOOD}

    def info(self) -> ModelInfo:
        """The inner model's provenance, marked as guarded; the filter and its settings enter the identity."""
        inner = self.inner.info()
        p = self.params
        guard: dict[str, Any] = {"filter": p.filter, "mode": p.mode, "block_message": self.block_message}
        if self.index is not None:
            guard.update(
                {
                    "ngram": p.ngram,
                    "redaction": p.redaction,
                    "corpus_hash": self.corpus_hash,
                    "corpus_documents": self.index.documents,
                    "corpus_tokens": self.index.tokens,
                    "index_ngrams": int(self.index.hashes.size),
                    "index_build_seconds": round(self.build_seconds, 3),
                }
            )
            settings: list[Any] = [
                inner.identity(),
                self.corpus_hash,
                p.ngram,
                p.mode,
                p.redaction,
                self.block_message,
                p.check_prompt_tail,
            ]
        else:
            assert self.guard_scorer is not None
            guard.update(
                {
                    "scorer": to_jsonable(self.guard_scorer.identity),
                    "threshold": p.threshold,
                    "apply_to": p.apply_to,
                    "replacement": p.replacement,
                }
            )
            settings = [inner.identity(), "scorer", to_jsonable(self.guard_scorer.identity), guard]
        stats: dict[str, int] = {
            "outputs_checked": self.outputs_checked,
            "outputs_altered": self.outputs_altered,
        }
        if self.index is not None:
            stats["tokens_covered"] = self.tokens_covered
        else:
            stats.update({"inputs_checked": self.inputs_checked, "inputs_blocked": self.inputs_blocked})
        return ModelInfo(
            adapter="guard",
            model_id=f"guard[{inner.model_id}]",
            revision=inner.revision,
            weights_hash=inner.weights_hash,
            dtype=inner.dtype,
            extra={
                "behaviour": stable_hash(settings),
                "inner": {
                    "adapter": inner.adapter,
                    "model_id": inner.model_id,
                    "identity": inner.identity(),
                    "extra": inner.extra,
                },
                "guard": guard,
                "guard_stats": stats,
            },
        )

    def check(self, prompt: str, output: str) -> GuardDecision:
        """Filter one output of ``prompt`` with the n-gram filter (redact covered spans or block it)."""
        p = self.params
        assert self.index is not None, "check() is the n-gram filter's"
        spans = [(m.start(), m.end()) for m in TOKEN.finditer(output)]
        context = TOKEN.findall(prompt)[-(p.ngram - 1) :] if p.check_prompt_tail and p.ngram > 1 else []
        flags = self.index.covered(context + [output[s:e] for s, e in spans])[len(context) :]
        covered = sum(flags)
        if covered == 0:
            return GuardDecision(output, False, 0)
        if p.mode == "block":
            return GuardDecision(self.block_message, True, covered)
        pieces, cursor, index = [], 0, 0
        while index < len(spans):
            if not flags[index]:
                index += 1
                continue
            end = index
            while end + 1 < len(spans) and flags[end + 1]:
                end += 1
            pieces += [output[cursor : spans[index][0]], p.redaction]
            cursor, index = spans[end][1], end + 1
        pieces.append(output[cursor:])
        return GuardDecision("".join(pieces), True, covered)

    def generate(
        self, requests: Sequence[Request], seed: int, progress: ProgressCallback | None = None
    ) -> list[Completion]:
        """Generate with the inner model, then filter every sample; failures pass through unchanged."""
        if self.guard_scorer is not None:
            return self._generate_scored(requests, seed, progress)
        completions = self.inner.generate(requests, seed, progress)
        filtered = []
        for request, completion in zip(requests, completions, strict=True):
            if completion.error is not None:
                filtered.append(completion)
                continue
            prompt = prompt_text(request.prompt)
            texts = []
            for text in completion.texts:
                decision = self.check(prompt, text)
                self.outputs_checked += 1
                self.outputs_altered += int(decision.altered)
                self.tokens_covered += decision.covered_tokens
                texts.append(decision.text)
            filtered.append(Completion(texts=texts))
        return filtered

    def _generate_scored(
        self, requests: Sequence[Request], seed: int, progress: ProgressCallback | None
    ) -> list[Completion]:
        """The scorer filter: judge the prompts, generate for those let through, judge the outputs."""
        p = self.params
        answers: dict[int, Completion] = {}
        passed = list(range(len(requests)))
        if p.apply_to in ("inputs", "both"):
            judged = self._judge([_judged_prompt(r) for r in requests])
            self.inputs_checked += len(requests)
            passed = []
            for index, (request, verdict) in enumerate(zip(requests, judged, strict=True)):
                if isinstance(verdict, str):
                    answers[index] = Completion.failed(f"the guardrail could not judge the prompt: {verdict}")
                elif verdict:
                    self.inputs_blocked += 1
                    answers[index] = Completion(texts=[self._substitute()] * request.params.n)
                else:
                    passed.append(index)
            if progress is not None and len(passed) < len(requests):
                progress(len(requests) - len(passed))
        generated = self.inner.generate([requests[i] for i in passed], seed, progress) if passed else []
        for index, completion in zip(passed, generated, strict=True):
            answers[index] = completion
        if p.apply_to in ("outputs", "both"):
            for index in passed:
                answers[index] = self._filter_outputs(answers[index])
        return [answers[index] for index in range(len(requests))]

    def _filter_outputs(self, completion: Completion) -> Completion:
        if completion.error is not None:
            return completion
        judged = self._judge(completion.texts)
        failed = [verdict for verdict in judged if isinstance(verdict, str)]
        if failed:
            return Completion.failed(f"the guardrail could not judge an output: {failed[0]}")
        self.outputs_checked += len(judged)
        self.outputs_altered += sum(bool(verdict) for verdict in judged)
        texts = [
            self._substitute() if verdict else text
            for text, verdict in zip(completion.texts, judged, strict=True)
        ]
        return Completion(texts=texts)

    def _judge(self, texts: Sequence[str]) -> list[bool | str]:
        """Per text: True (at or above the threshold), False, or why it could not be scored."""
        assert self.guard_scorer is not None
        unique = sorted({text for text in texts if text.strip()})
        scores = dict(zip(unique, self.guard_scorer.score(unique), strict=True)) if unique else {}
        verdicts: list[bool | str] = []
        for text in texts:
            if not text.strip():
                verdicts.append(False)  # nothing was said
                continue
            score = scores[text]
            if math.isnan(score):
                verdicts.append(self.guard_scorer.failures.get(text, "no score returned"))
            else:
                verdicts.append(score >= self.params.threshold)
        return verdicts

    def _substitute(self) -> str:
        return self.block_message if self.params.mode == "block" else self.params.replacement

    def close(self) -> None:
        """Close the inner adapter."""
        self.inner.close()


def _build_guard_scorer(params: GuardParams) -> Scorer:
    """The scorer filter's scorer, with its settings checked."""
    from harness.scorers.registry import build_scorer

    if not params.scorer:
        raise ConfigError(
            "model.scorer: the scorer filter needs a scorer (e.g. embedding, moderation, guard_model)"
        )
    if params.apply_to not in APPLY_TO:
        raise ConfigError(f"model.apply_to must be one of {list(APPLY_TO)}, got {params.apply_to!r}")
    if not 0.0 < params.threshold <= 1.0:
        raise ConfigError(f"model.threshold must be in (0, 1], got {params.threshold}")
    return build_scorer(params.scorer, params.scorer_options, where="model.scorer_options")


def _judged_prompt(request: Request) -> str:
    """The text the guardrail judges for a prompt: the text, or a chat's last user message."""
    if isinstance(request.prompt, str):
        return request.prompt
    users = [message.content for message in request.prompt if message.role == "user"]
    return users[-1] if users else prompt_text(request.prompt)
