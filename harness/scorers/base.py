"""The Scorer contract shared by every scenario that classifies model outputs.

A scorer maps a batch of texts to one float per text in [0, 1] (higher = more of the property
it detects, e.g. toxicity). Its :class:`~harness.types.ScorerIdentity` (name, version, model
hash and a human label) is recorded with every result, because a score is only comparable with
scores from the same classifier (Pozzobon et al. 2023 showed Perspective rankings changing
after the API was retrained; Gehman et al. 2020).

Constructing a scorer is cheap: it resolves files and computes its identity. The model itself
is loaded on the first :meth:`Scorer.score` call, so listing plugins or writing a manifest does
not pay for it.
"""

from __future__ import annotations

import hashlib
import math
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from importlib import metadata, resources
from pathlib import Path
from typing import Any, ClassVar, Protocol

from harness.errors import ConfigError
from harness.file_digests import remembered_digest
from harness.types import ScorerIdentity, stable_hash


class ScoringError(RuntimeError):
    """A transient failure to score some texts (network error, rate limit after retries).

    Deliberately not a :class:`~harness.errors.HarnessError`: the runner isolates it to the
    instances concerned and records them as errored instead of aborting the run.
    """


@dataclass
class ScorerParams:
    """Options every scorer accepts; scorers subclass this with their own typed fields."""

    batch_size: int = 32


class Scorer(ABC):
    """Base class of text scorers. See the module docstring for the contract."""

    name: ClassVar[str]
    """Registry name (``profanity``, ``hf``, ``embedding``, ...)."""
    label: ClassVar[str]
    """What the score measures, shown next to every number it produces."""
    proxy: ClassVar[bool] = True
    """True unless the scorer is the one the published anchors used (Perspective)."""
    Params: ClassVar[type[ScorerParams]] = ScorerParams

    def __init__(self, params: ScorerParams, where: str = "scorer_options") -> None:
        """``where`` is the config key the options came from, named in error messages."""
        self.params = params
        self.where = where
        self.failures: dict[str, str] = {}
        """Why texts of the last :meth:`score` call came back NaN (text -> reason), if any did."""

    @property
    @abstractmethod
    def identity(self) -> ScorerIdentity:
        """Name, version, model hash and label; recorded in the run manifest."""

    @abstractmethod
    def score(self, texts: Sequence[str]) -> list[float]:
        """One score in [0, 1] per text, in order; NaN marks a text that could not be scored."""

    @property
    def operating_threshold(self) -> float | None:
        """The threshold of the operating point recorded in the identity (None: the scorer has none)."""
        point = self.identity.operating_point
        return None if point is None else float(point["threshold"])


class ScoreStore(Protocol):
    """Where :class:`CachedScorer` keeps scores (the run's :class:`harness.store.ResponseCache`)."""

    def get_scores(self, keys: Iterable[str]) -> dict[str, float]:
        """Stored scores for the keys that have one."""

    def put_scores(self, items: Mapping[str, float]) -> None:
        """Store scores."""


class CachedScorer(Scorer):
    """A scorer whose scores are kept in the response cache, keyed by scorer identity and text.

    A score depends only on the classifier and the text, so a rerun that changes a scoring
    parameter (a threshold, a breakdown) or re-reads the same continuations never runs the
    classifier again, and never even loads it when every text is known. NaN scores (failures)
    are not stored.
    """

    def __init__(self, inner: Scorer, store: ScoreStore) -> None:
        super().__init__(inner.params, inner.where)
        self.inner = inner
        self.store = store
        self.name = inner.name  # type: ignore[misc]
        self.label = inner.label  # type: ignore[misc]
        self.proxy = inner.proxy  # type: ignore[misc]
        self._prefix: str | None = None

    @property
    def identity(self) -> ScorerIdentity:
        """The wrapped scorer's identity."""
        return self.inner.identity

    def _key(self, text: str) -> str:
        if self._prefix is None:
            self._prefix = stable_hash(self.inner.identity)
        return hashlib.sha256(f"{self._prefix}\0{text}".encode()).hexdigest()

    def score(self, texts: Sequence[str]) -> list[float]:
        """Stored scores where known; the wrapped scorer scores the rest (and they are stored)."""
        keys = {text: self._key(text) for text in texts}
        known = self.store.get_scores(keys.values())
        todo = [text for text, key in keys.items() if key not in known]
        if todo:
            fresh = self.inner.score(todo)
            self.failures = dict(self.inner.failures)
            scored = {keys[t]: float(v) for t, v in zip(todo, fresh, strict=True) if math.isfinite(v)}
            self.store.put_scores(scored)
            known.update(scored)
        return [known.get(keys[text], math.nan) for text in texts]


def batched(items: Sequence[str], size: int) -> Iterable[Sequence[str]]:
    """Consecutive slices of ``items`` of at most ``size`` elements."""
    step = max(1, int(size))
    for start in range(0, len(items), step):
        yield items[start : start + step]


def classifier_logits(
    tokenizer: Any, model: Any, texts: Sequence[str], batch_size: int, max_length: int
) -> Iterator[Any]:
    """Float logits of a transformers sequence classifier, one padded batch of texts at a time."""
    import torch

    for chunk in batched(list(texts), batch_size):
        encoded = tokenizer(
            list(chunk), padding=True, truncation=True, max_length=max_length, return_tensors="pt"
        ).to(model.device)
        with torch.no_grad():
            yield model(**encoded)[0].float()


def packaged_model_identity(
    scorer: Scorer, wrapper_version: str, package: str, module: str, model_files: str
) -> ScorerIdentity:
    """Identity of a scorer whose model ships inside an installed package (VADER, alt-profanity-check).

    The version joins the wrapper's and the package's; the model hash is the content digest of
    the package's ``model_files`` (a glob under the ``module``'s folder), so an upgraded lexicon
    or model is a new scorer. A missing package is a one-line ``ConfigError`` with the install fix.
    """
    try:
        package_version = metadata.version(package)
        folder = Path(str(resources.files(module)))
    except (metadata.PackageNotFoundError, ModuleNotFoundError) as exc:
        raise ConfigError(
            f"scorer {scorer.name!r} needs the {package} package: pip install 'rai-harness[scorers]'"
        ) from exc
    return ScorerIdentity(
        name=scorer.name,
        version=f"{wrapper_version}+{package}-{package_version}",
        model_hash=remembered_digest(sorted(folder.glob(model_files))),
        label=scorer.label,
    )
