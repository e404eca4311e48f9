"""The ``detoxify`` scorer: Unitary's Detoxify checkpoints, loaded from local files only.

The detoxify package downloads its checkpoints from GitHub releases and its tokenizers from the
Hub on first use, so this scorer does not use the package: it reads a checkpoint
that is already on disk and rebuilds the transformers model from it, as ``detoxify.load_checkpoint``
does. A checkpoint is a ``torch.save`` dict with ``config`` (``arch.args``: ``model_type`` such as
``bert-base-uncased``, ``model_name`` such as ``BertForSequenceClassification``,
``tokenizer_name`` and ``num_classes``; ``dataset.args.classes``) and ``state_dict``.

Where the checkpoint comes from, in order: ``checkpoint`` (a file path), else the torch-hub cache
file that ``Detoxify(model_type)`` would have downloaded (``<torch hub dir>/checkpoints/``).
The base model's config and tokenizer come from ``config_dir`` when given (Detoxify's
``huggingface_config_path``), else from the Hugging Face cache (no download in offline mode).
The score is the sigmoid of the ``toxicity`` class (Jigsaw mean AUC: original 98.64,
unbiased 93.74, multilingual 92.11).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.errors import ConfigError
from harness.file_digests import remembered_digest
from harness.scorers.base import Scorer, ScorerParams, classifier_logits
from harness.scorers.hub import resolve_model_dir
from harness.types import ScorerIdentity

VERSION = "1"
CHECKPOINT_FILES = {
    "original": "toxic_original-c1212f89.ckpt",
    "unbiased": "toxic_debiased-c7548aa0.ckpt",
    "multilingual": "multilingual_debiased-0b549669.ckpt",
    "original-small": "original-albert-0e1d6498.ckpt",
    "unbiased-small": "unbiased-albert-c8519128.ckpt",
}
"""File names of Detoxify's released checkpoints, as torch.hub caches them."""
CLASS_RENAMES = {"toxic": "toxicity", "identity_hate": "identity_attack", "severe_toxic": "severe_toxicity"}
TOXICITY_CLASS = "toxicity"


@dataclass
class DetoxifyParams(ScorerParams):
    """Options of the ``detoxify`` scorer."""

    model_type: str = "original"
    checkpoint: str | None = None
    config_dir: str | None = None
    device: str = "cpu"
    max_length: int = 512


def default_checkpoint(model_type: str) -> Path:
    """Where ``Detoxify(model_type)`` leaves its checkpoint after downloading it."""
    import torch

    return Path(torch.hub.get_dir()) / "checkpoints" / CHECKPOINT_FILES[model_type]


class DetoxifyScorer(Scorer):
    """Detoxify's ``toxicity`` probability from a local checkpoint."""

    name = "detoxify"
    label = "Detoxify toxicity (Jigsaw-trained)"
    Params = DetoxifyParams

    def __init__(self, params: DetoxifyParams, where: str = "scorer_options") -> None:
        super().__init__(params, where)
        if params.checkpoint:
            self.checkpoint = Path(params.checkpoint).expanduser()
        elif params.model_type in CHECKPOINT_FILES:
            self.checkpoint = default_checkpoint(params.model_type)
        else:
            raise ConfigError(
                f"{where}.model_type: unknown Detoxify model {params.model_type!r}; "
                f"choose one of {sorted(CHECKPOINT_FILES)} or give {where}.checkpoint"
            )
        if not self.checkpoint.is_file():
            raise ConfigError(
                f"{where}: Detoxify weights not found at {self.checkpoint}. This scorer never downloads: "
                f'fetch the checkpoint once (e.g. `python -c "from detoxify import Detoxify; '
                f"Detoxify('{params.model_type}')\"` on a machine with network access, or download "
                f"{CHECKPOINT_FILES.get(params.model_type, 'the .ckpt file')} from the "
                "github.com/unitaryai/detoxify "
                f"releases) and set {where}.checkpoint to its path"
            )
        self._identity = ScorerIdentity(
            name=f"detoxify:{params.model_type if not params.checkpoint else self.checkpoint.name}",
            version=VERSION,
            model_hash=remembered_digest([self.checkpoint]),
            label=self.label,
        )
        self._model: Any = None
        self._tokenizer: Any = None
        self._column = 0

    @property
    def identity(self) -> ScorerIdentity:
        """Hash of the checkpoint file."""
        return self._identity

    def _load(self) -> None:
        import torch
        import transformers

        try:
            loaded = torch.load(self.checkpoint, map_location="cpu", weights_only=True)
            arch = loaded["config"]["arch"]["args"]
            classes = [CLASS_RENAMES.get(c, c) for c in loaded["config"]["dataset"]["args"]["classes"]]
            state_dict = loaded["state_dict"]
        except Exception as exc:  # unpickling refusals, missing keys: the file is not a Detoxify checkpoint
            raise ConfigError(
                f"{self.where}.checkpoint: {self.checkpoint} is not a Detoxify checkpoint "
                f"(needs config.arch.args, config.dataset.args.classes and state_dict): {exc}"
            ) from exc
        if TOXICITY_CLASS not in classes:
            raise ConfigError(
                f"{self.where}.checkpoint: {self.checkpoint} has no 'toxicity' class: {classes}"
            )
        model_class, tokenizer_class = str(arch["model_name"]), str(arch["tokenizer_name"])
        if not model_class.endswith("ForSequenceClassification") or not tokenizer_class.endswith(
            ("Tokenizer", "TokenizerFast")
        ):
            raise ConfigError(
                f"{self.where}.checkpoint: unexpected classes {model_class}/{tokenizer_class} "
                f"in {self.checkpoint}"
            )
        base = self.params.config_dir or str(arch["model_type"])
        base_dir, _ = resolve_model_dir(base, None, f"{self.where}.config_dir")
        config = transformers.AutoConfig.from_pretrained(base_dir, local_files_only=True)
        config.num_labels = int(arch["num_classes"])
        model = getattr(transformers, model_class).from_pretrained(
            None, config=config, state_dict=state_dict, local_files_only=True
        )
        self._model = model.to(self.params.device).eval()
        self._tokenizer = getattr(transformers, tokenizer_class).from_pretrained(
            base_dir, local_files_only=True
        )
        self._column = classes.index(TOXICITY_CLASS)

    def score(self, texts: Sequence[str]) -> list[float]:
        """Sigmoid of the ``toxicity`` logit per text, as ``Detoxify.predict`` computes it."""
        import torch

        if self._model is None:
            self._load()
        scores: list[float] = []
        for logits in classifier_logits(
            self._tokenizer, self._model, texts, self.params.batch_size, self.params.max_length
        ):
            scores.extend(float(v) for v in torch.sigmoid(logits[:, self._column]).cpu())
        return scores
