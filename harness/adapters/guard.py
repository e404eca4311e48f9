"""The ``guard`` adapter: wraps any adapter and redacts or blocks outputs that reproduce protected text.

A deployment-side mitigation for regurgitation. The guard indexes every word n-gram (default
n = 10) of a *protected corpus* and checks each output of the inner model against it:

* ``mode: redact`` replaces every maximal run of output tokens covered by a protected n-gram
  with ``redaction`` (default ``[REDACTED]``);
* ``mode: block`` replaces the whole output with ``block_message`` when any n-gram matches.

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
import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.errors import ConfigError, DataError
from harness.model import AdapterParams, ModelAdapter, ProgressCallback
from harness.types import Capability, Completion, ModelInfo, Request, prompt_text, stable_hash

TOKEN = re.compile(r"\w+|[^\w\s]")
MODES = ("redact", "block")
_CALLABLE_SPEC = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")
_FILE_BUILDERS = {".jsonl": "json", ".json": "json", ".csv": "csv", ".parquet": "parquet", ".txt": "text"}
_FNV_OFFSET = 0xCBF29CE484222325
_FNV_PRIME = 0x100000001B3


@dataclass
class GuardParams(AdapterParams):
    """Parameters of the guard adapter (see the module docstring)."""

    name: str = "guard"
    inner: Any = None
    corpus: str | None = None
    corpus_config: str | None = None
    data_files: list[str] = field(default_factory=list)
    split: str = "train"
    text_field: str = "text"
    ngram: int = 10
    mode: str = "redact"
    redaction: str = "[REDACTED]"
    block_message: str = "[output withheld: it reproduces protected text]"
    check_prompt_tail: bool = True


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
    """An output filter around another adapter (see the module docstring)."""

    Params = GuardParams

    def __init__(self, params: GuardParams, inner: ModelAdapter | None = None) -> None:
        super().__init__(params)
        self.params: GuardParams = params
        if params.mode not in MODES:
            raise ConfigError(f"model.mode must be one of {list(MODES)}, got {params.mode!r}")
        self.inner = inner if inner is not None else build_inner_adapter(params.inner)
        self.deduplicate = self.inner.deduplicate
        self.cacheable = self.inner.cacheable
        self.pipelined = self.inner.pipelined
        started = time.perf_counter()
        texts = load_protected_texts(params)
        self.index = NgramIndex(texts, params.ngram)
        self.build_seconds = time.perf_counter() - started
        self.corpus_hash = stable_hash(texts)
        self.outputs_checked = 0
        self.outputs_altered = 0
        self.tokens_covered = 0

    def capabilities(self) -> frozenset[Capability]:
        """The inner model's capabilities without log-likelihoods (see the module docstring)."""
        return self.inner.capabilities() - {Capability.LOGLIKELIHOOD}

    def info(self) -> ModelInfo:
        """The inner model's provenance, marked as guarded; the corpus and settings enter the identity."""
        inner = self.inner.info()
        p = self.params
        settings = [
            inner.identity(),
            self.corpus_hash,
            p.ngram,
            p.mode,
            p.redaction,
            p.block_message,
            p.check_prompt_tail,
        ]
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
                "guard": {
                    "mode": p.mode,
                    "ngram": p.ngram,
                    "redaction": p.redaction,
                    "block_message": p.block_message,
                    "corpus_hash": self.corpus_hash,
                    "corpus_documents": self.index.documents,
                    "corpus_tokens": self.index.tokens,
                    "index_ngrams": int(self.index.hashes.size),
                    "index_build_seconds": round(self.build_seconds, 3),
                },
                "guard_stats": {
                    "outputs_checked": self.outputs_checked,
                    "outputs_altered": self.outputs_altered,
                    "tokens_covered": self.tokens_covered,
                },
            },
        )

    def check(self, prompt: str, output: str) -> GuardDecision:
        """Filter one output of ``prompt`` (redact covered spans or block the whole output)."""
        p = self.params
        spans = [(m.start(), m.end()) for m in TOKEN.finditer(output)]
        context = TOKEN.findall(prompt)[-(p.ngram - 1) :] if p.check_prompt_tail and p.ngram > 1 else []
        flags = self.index.covered(context + [output[s:e] for s, e in spans])[len(context) :]
        covered = sum(flags)
        if covered == 0:
            return GuardDecision(output, False, 0)
        if p.mode == "block":
            return GuardDecision(p.block_message, True, covered)
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

    def close(self) -> None:
        """Close the inner adapter."""
        self.inner.close()
