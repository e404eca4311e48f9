"""Watermark detection through transformers' own schemes, as per-token evidence and exact p-values.

A detector turns a text's token ids into a :class:`Scan`: for each scored token, how many of
its watermark bits are set (``hits``) out of how many count (``trials``), and the probability
``null_p`` that a bit is set in text that does not carry the watermark. Both schemes reduce to
the same test: under the null hypothesis (the text was written without the key) the bits are
independent Bernoulli(``null_p``) draws, so the number set among the counted bits of any prefix
is binomial and its exact upper-tail p-value is ``scipy.stats.binom.sf``.

* ``kgw`` (Kirchenbauer et al. 2023): a bit per token, "is this token in the green list drawn from
  the previous tokens". Green membership comes from :class:`transformers.WatermarkDetector`, called
  on each n-gram window of the text (one scored token per window), so the green lists are
  transformers' own. As in that detector's ``ignore_repeated_ngrams``, a repeated n-gram counts
  once: repeats are not independent draws. ``null_p`` is the green list's exact share of the
  vocabulary (``int(vocab * γ) / vocab``), not the nominal γ.
* ``synthid`` (Dathathri et al. 2024): ``depth`` g-values per token, the entries of transformers'
  sampling table that :class:`transformers.SynthIDTextWatermarkLogitsProcessor` looks up
  (``compute_ngram_keys``, as ``compute_g_values`` does), masked where the (n−1)-gram context
  repeats (``compute_context_repetition_mask``); each table entry counts once per text.
  transformers' own SynthID detector is a Bayesian model that must first be trained on
  watermarked and unwatermarked text; this is the paper's training-free *mean score* instead (the
  mean g-value), with the exact binomial null. ``null_p`` is the share of ones in the
  processor's sampling table (0.5 up to the table's draw).

The z-score of transformers' detector is the normal approximation of the same binomial test;
the exact tail keeps the false-positive rate at its nominal level for short texts, where the
approximation is anti-conservative.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.stats import binom

from harness.adapters.hf import watermarking_config
from harness.types import WatermarkSpec


@dataclass(frozen=True)
class Scan:
    """Per-scored-token watermark evidence of one text (see the module docstring)."""

    positions: np.ndarray
    """For each scored token, how many tokens of the text it takes to reach it (1-based)."""
    hits: np.ndarray
    trials: np.ndarray
    null_p: float
    length: int
    """Tokens in the text."""

    def p_value(self) -> float:
        """The exact p-value of the whole text (1.0 when nothing could be scored)."""
        return _tail(float(self.hits.sum()), float(self.trials.sum()), self.null_p)

    def prefix_p_values(self) -> np.ndarray:
        """The p-value of each prefix ending at a scored token (aligned with ``positions``)."""
        return _tail(np.cumsum(self.hits), np.cumsum(self.trials), self.null_p)

    def tokens_to_detection(self, alpha: float) -> float:
        """The fewest tokens of the text whose prefix is detected at level ``alpha`` (inf: never)."""
        if self.positions.size == 0:
            return float("inf")
        detected = np.flatnonzero(self.prefix_p_values() <= alpha)
        return float(self.positions[detected[0]]) if detected.size else float("inf")

    def scored_bits(self) -> np.ndarray:
        """The set/unset state of the counted single-bit positions (kgw: green or not), in order."""
        counted = self.trials > 0
        return (self.hits[counted] / self.trials[counted]) == 1.0


def _tail(hits: Any, trials: Any, null_p: float) -> Any:
    """P(Binomial(trials, null_p) >= hits); 1.0 where nothing was counted."""
    result = np.where(np.asarray(trials) > 0, binom.sf(np.asarray(hits) - 1, trials, null_p), 1.0)
    return float(result) if np.ndim(result) == 0 else result


class Detector(ABC):
    """Detects one watermark (scheme, parameters, key) in token ids of one tokenizer."""

    def __init__(
        self,
        spec: WatermarkSpec,
        model_config: Any,
        special_ids: Sequence[int] = (),
        secret: str | None = None,
    ) -> None:
        self.spec = spec
        self.config = watermarking_config(spec, secret)
        self.vocab_size = int(model_config.vocab_size)
        self.special_ids = frozenset(int(i) for i in special_ids)
        self.processor = self.config.construct_processor(self.vocab_size, "cpu")

    @abstractmethod
    def scan_many(self, sequences: Sequence[Sequence[int]]) -> list[Scan]:
        """One :class:`Scan` per token-id sequence (special tokens are dropped first)."""


class KGWDetector(Detector):
    """Green-list detection with :class:`transformers.WatermarkDetector` (see the module docstring)."""

    def __init__(
        self,
        spec: WatermarkSpec,
        model_config: Any,
        special_ids: Sequence[int] = (),
        secret: str | None = None,
    ) -> None:
        from transformers import PretrainedConfig, WatermarkDetector

        super().__init__(spec, model_config, special_ids, secret)
        bos = getattr(model_config, "bos_token_id", None)
        # The detector strips a leading BOS; scans drop special tokens, so any id it compares with is fine.
        config = PretrainedConfig(vocab_size=self.vocab_size, bos_token_id=-1 if bos is None else bos)
        self.detector = WatermarkDetector(config, "cpu", self.config)
        selfhash = self.config.seeding_scheme == "selfhash"
        self.window = self.config.context_width + (0 if selfhash else 1)
        self.null_p = self.processor.greenlist_size / self.vocab_size

    def scan_many(self, sequences: Sequence[Sequence[int]]) -> list[Scan]:
        """Green bits of every distinct window of every sequence, from one detector call."""
        import torch

        cleaned = [[int(t) for t in seq if int(t) not in self.special_ids] for seq in sequences]
        windows: dict[tuple[int, ...], int] = {}
        for seq in cleaned:
            for start in range(len(seq) - self.window + 1):
                windows.setdefault(tuple(seq[start : start + self.window]), len(windows))
        green = np.zeros(len(windows))
        if windows:
            output = self.detector(torch.tensor(list(windows), dtype=torch.long), return_dict=True)
            green = np.asarray(output.num_green_tokens, dtype=float)
        scans = []
        for seq in cleaned:
            seen: set[tuple[int, ...]] = set()
            hits, trials, positions = [], [], []
            for start in range(len(seq) - self.window + 1):
                window = tuple(seq[start : start + self.window])
                first = window not in seen
                seen.add(window)
                hits.append(green[windows[window]] if first else 0.0)
                trials.append(1.0 if first else 0.0)
                positions.append(start + self.window)
            scans.append(_scan(positions, hits, trials, self.null_p, len(seq)))
        return scans


class SynthIDDetector(Detector):
    """SynthID-Text mean-score detection from transformers' g-values (see the module docstring)."""

    def __init__(
        self,
        spec: WatermarkSpec,
        model_config: Any,
        special_ids: Sequence[int] = (),
        secret: str | None = None,
    ) -> None:
        super().__init__(spec, model_config, special_ids, secret)
        self.ngram_len = int(self.config.ngram_len)
        self.table_bits = self.processor.sampling_table.tolist()
        self.null_p = float(np.mean(self.table_bits))

    def scan_many(self, sequences: Sequence[Sequence[int]]) -> list[Scan]:
        """g-values of each sequence's n-grams (transformers' processor, on the CPU), each entry once.

        A g-value is an entry of the processor's random sampling table, looked up by a hash of the
        n-gram and one key per depth. Two lookups of the same entry are one draw, not two, and
        transformers' hash is linear modulo the table size, so distinct n-grams do share entries;
        counting each entry once per text (as repeated n-grams are counted once) keeps the
        binomial null exact. Entries from a repeated (n−1)-gram context are not counted at all
        (``compute_context_repetition_mask``), as in the paper.
        """
        import torch

        scans = []
        for seq in sequences:
            ids = [int(t) for t in seq if int(t) not in self.special_ids]
            if len(ids) < self.ngram_len:
                scans.append(_scan([], [], [], self.null_p, len(ids)))
                continue
            tensor = torch.tensor([ids], dtype=torch.long)
            ngrams = tensor.unfold(dimension=1, size=self.ngram_len, step=1)
            entries = (self.processor.compute_ngram_keys(ngrams)[0] % len(self.table_bits)).tolist()
            counted = self.processor.compute_context_repetition_mask(tensor)[0].tolist()
            seen: set[int] = set()
            hits, trials = [], []
            for row, keep in zip(entries, counted, strict=True):
                fresh = [e for e in dict.fromkeys(row) if e not in seen] if keep else []
                seen.update(fresh)
                hits.append(sum(self.table_bits[e] for e in fresh))
                trials.append(len(fresh))
            positions = np.arange(len(entries)) + self.ngram_len
            scans.append(_scan(positions, hits, trials, self.null_p, len(ids)))
        return scans


def _scan(positions: Any, hits: Any, trials: Any, null_p: float, length: int) -> Scan:
    return Scan(
        positions=np.asarray(positions, dtype=int),
        hits=np.asarray(hits, dtype=float),
        trials=np.asarray(trials, dtype=float),
        null_p=float(null_p),
        length=int(length),
    )


def build_detector(
    spec: WatermarkSpec, model_config: Any, special_ids: Sequence[int] = (), secret: str | None = None
) -> Detector:
    """The detector of ``spec.scheme`` (``kgw`` or ``synthid``); ``secret`` overrides the spec's key."""
    cls = KGWDetector if spec.scheme == "kgw" else SynthIDDetector
    return cls(spec, model_config, special_ids, secret)
