"""The ``hf`` adapter: any transformers causal LM from a local directory or a Hub id.

* Loading: a local directory is used as is; otherwise the id goes to the Hub cache. When the
  id is not cached and the Hub is unreachable (or ``HF_HUB_OFFLINE=1``), loading fails at once
  with one message instead of a long retry hang. ``builtin:reference`` names the embedded
  reference model (built on first use). ``trust_remote_code`` is off unless enabled.
* Generation: left padding, batches sorted by prompt length, ``n`` samples per prompt.
* Determinism: greedy decoding is a pure function of the prompt (up to floating-point effects of
  padding). Sampling is seeded *per sample*: the noise for sample j of a request comes from a
  generator seeded with (run seed, request key, j) and is applied as Gumbel-max noise on the
  warped logits, so the outputs do not depend on batch composition, order or resumes. The same
  seed on the same device type, dtype and library versions gives the same samples.
* Log-likelihood: summed log-probabilities of each continuation after its context, in batches.
* Chat: chat-style requests are rendered with the tokenizer's chat template.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.errors import AdapterError
from harness.model import AdapterParams, ModelAdapter, ProgressCallback
from harness.types import Capability, Completion, ModelInfo, Request, prompt_text

BUILTIN_PREFIX = "builtin:"


@dataclass
class HFParams(AdapterParams):
    """Parameters of the hf adapter."""

    name: str = "hf"
    pretrained: str = "builtin:reference"
    revision: str | None = None
    device: str = "auto"
    dtype: str = "auto"
    trust_remote_code: bool = False
    max_length: int | None = None
    batch_size: int = 16
    loglikelihood_batch_size: int = 32


def resolve_pretrained(pretrained: str) -> str:
    """A local path for ``builtin:`` models and existing directories, else the Hub id unchanged."""
    if pretrained.startswith(BUILTIN_PREFIX):
        name = pretrained[len(BUILTIN_PREFIX) :]
        if name != "reference":
            raise AdapterError(f"model.pretrained: unknown built-in model {name!r}; the only one is 'builtin:reference'")
        from harness.reference.build import ensure_built

        return str(ensure_built())
    path = Path(pretrained).expanduser()
    if path.exists():
        if not (path / "config.json").exists():
            raise AdapterError(f"model.pretrained: {path} exists but has no config.json; is it a transformers model directory?")
        return str(path)
    return pretrained


def weights_fingerprint(directory: Path) -> str:
    """A fast fingerprint of local weights: config, file sizes and the first and last MiB of each.

    Hashing every byte of a multi-GB checkpoint would dominate start-up; size plus head and tail
    changes whenever a checkpoint is retrained or re-quantised.
    """
    digest = hashlib.sha256()
    for file in sorted(directory.iterdir()):
        if file.suffix not in {".safetensors", ".bin", ".json", ".model", ".txt"} or not file.is_file():
            continue
        size = file.stat().st_size
        digest.update(f"{file.name}:{size}".encode())
        with file.open("rb") as handle:
            digest.update(handle.read(1 << 20))
            if size > 2 << 20:
                handle.seek(-(1 << 20), os.SEEK_END)
                digest.update(handle.read())
    return digest.hexdigest()


def _hub_is_offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "0").lower() in {"1", "true", "yes"}


class HFAdapter(ModelAdapter):
    """A transformers causal language model (see the module docstring)."""

    Params = HFParams

    def __init__(self, params: HFParams) -> None:
        super().__init__(params)
        self.params: HFParams = params
        self.source = resolve_pretrained(params.pretrained)
        self._load()

    def _load(self) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        local = Path(self.source).exists()
        kwargs: dict[str, Any] = {"revision": self.params.revision, "trust_remote_code": self.params.trust_remote_code}
        if not local and _hub_is_offline():
            kwargs["local_files_only"] = True
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(self.source, **kwargs)
            self.device = self._pick_device(torch)
            dtype = self._pick_dtype(torch)
            self.model = AutoModelForCausalLM.from_pretrained(self.source, dtype=dtype, **kwargs).to(self.device)
        except OSError as exc:
            raise AdapterError(self._load_error(exc, local)) from exc
        self.model.eval()
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.max_length = self.params.max_length or int(
            getattr(self.model.config, "max_position_embeddings", None) or getattr(self.model.config, "n_positions", 2048)
        )
        self._torch = torch

    def _load_error(self, exc: OSError, local: bool) -> str:
        if local:
            return f"model.pretrained: cannot load the model in {self.source}: {exc}"
        return (
            f"model.pretrained: cannot load {self.source!r}: it is not a local directory and not in the "
            "Hugging Face cache, and the Hub is unreachable or offline (HF_HUB_OFFLINE=1). Download it on a "
            "machine with network access (`huggingface-cli download "
            f"{self.source}`), or pass a local path."
        )

    def _pick_device(self, torch: Any) -> str:
        if self.params.device != "auto":
            return self.params.device
        if torch.cuda.is_available():
            return "cuda"
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return "mps"
        return "cpu"

    def _pick_dtype(self, torch: Any) -> Any:
        if self.params.dtype != "auto":
            return getattr(torch, self.params.dtype)
        if self.device == "cuda":
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.float32

    def capabilities(self) -> frozenset[Capability]:
        """Generation and log-likelihood always; chat when the tokenizer has a chat template."""
        caps = {Capability.GENERATE, Capability.LOGLIKELIHOOD}
        if getattr(self.tokenizer, "chat_template", None):
            caps.add(Capability.CHAT)
        return frozenset(caps)

    def info(self) -> ModelInfo:
        """Model id, Hub commit (or local weights fingerprint), dtype and device."""
        local = Path(self.source)
        name = self.params.name if self.params.pretrained.startswith(BUILTIN_PREFIX) else self.params.pretrained
        return ModelInfo(
            adapter="hf",
            model_id=name,
            revision=getattr(self.model.config, "_commit_hash", None) or self.params.revision,
            weights_hash=weights_fingerprint(local) if local.exists() else None,
            dtype=str(self.model.dtype).removeprefix("torch."),
            extra={"device": self.device, "source": self.params.pretrained},
        )

    def _render(self, request: Request) -> str:
        if not request.is_chat:
            return str(request.prompt)
        if not getattr(self.tokenizer, "chat_template", None):
            raise AdapterError(f"model {self.params.pretrained} has no chat template; use a completion-style scenario")
        messages = [{"role": m.role, "content": m.content} for m in request.prompt]
        return self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)

    def generate(
        self, requests: Sequence[Request], seed: int, progress: ProgressCallback | None = None
    ) -> list[Completion]:
        """Batched, length-sorted generation; see the module docstring for seeding."""
        results: list[Completion | None] = [None] * len(requests)
        rendered = [self._render(r) for r in requests]
        lengths = [len(self.tokenizer(text).input_ids) for text in rendered]
        groups: dict[tuple[Any, ...], list[int]] = {}
        for index, request in enumerate(requests):
            p = request.params
            groups.setdefault((p.max_new_tokens, p.temperature, p.top_p, p.stop), []).append(index)
        for indices in groups.values():
            indices.sort(key=lambda i: -lengths[i])
            rows = [(i, j) for i in indices for j in range(requests[i].params.n)]
            for start in range(0, len(rows), self.params.batch_size):
                chunk = rows[start : start + self.params.batch_size]
                texts = self._generate_rows([rendered[i] for i, _ in chunk], [requests[i] for i, _ in chunk], [j for _, j in chunk], seed)
                for (i, _), text in zip(chunk, texts, strict=True):
                    if results[i] is None:
                        results[i] = Completion(texts=[])
                    results[i].texts.append(text)
                finished = {i for i, j in chunk if j == requests[i].params.n - 1}
                if progress and finished:
                    progress(len(finished))
        return [r if r is not None else Completion.failed("no output") for r in results]

    def _generate_rows(self, prompts: list[str], requests: list[Request], samples: list[int], seed: int) -> list[str]:
        torch = self._torch
        params = requests[0].params
        budget = self.max_length - params.max_new_tokens
        encoded = self.tokenizer(prompts, return_tensors="pt", padding=True, truncation=True, max_length=max(1, budget))
        encoded = {k: v.to(self.device) for k, v in encoded.items()}
        kwargs: dict[str, Any] = {
            "max_new_tokens": params.max_new_tokens,
            "do_sample": False,
            "pad_token_id": self.tokenizer.pad_token_id,
        }
        if params.temperature > 0:
            kwargs["logits_processor"] = [
                SeededGumbelSampler(
                    [_row_seed(seed, r.key(), j) for r, j in zip(requests, samples, strict=True)],
                    params.temperature,
                    params.top_p,
                )
            ]
        if params.stop:
            kwargs["stop_strings"] = list(params.stop)
            kwargs["tokenizer"] = self.tokenizer
        with torch.inference_mode():
            output = self.model.generate(**encoded, **kwargs)
        new_tokens = output[:, encoded["input_ids"].shape[1] :]
        texts = self.tokenizer.batch_decode(new_tokens, skip_special_tokens=True)
        return [_cut_at_stop(text, params.stop) for text in texts]

    def loglikelihood(
        self, requests: Sequence[Request], progress: ProgressCallback | None = None
    ) -> list[Completion]:
        """Summed log-probability and greediness of each continuation, batched and length-sorted."""
        torch = self._torch
        pairs = []
        for index, request in enumerate(requests):
            context_ids = self.tokenizer(self._render(request)).input_ids
            for c_index, continuation in enumerate(request.continuations):
                whole = self.tokenizer(self._render(request) + continuation).input_ids
                # Tokenise context+continuation jointly (BPE merges across the boundary) and take the
                # tokens after the context's common prefix as the continuation's tokens.
                split = _common_prefix(context_ids, whole)
                split = min(split, len(whole) - 1) if len(whole) > 1 else 0
                pairs.append((index, c_index, whole[-self.max_length :], max(1, len(whole) - split)))
        scores: dict[tuple[int, int], tuple[float, int, bool]] = {}
        pairs.sort(key=lambda p: -len(p[2]))
        for start in range(0, len(pairs), self.params.loglikelihood_batch_size):
            chunk = pairs[start : start + self.params.loglikelihood_batch_size]
            width = max(len(p[2]) for p in chunk)
            pad = self.tokenizer.pad_token_id
            ids = torch.full((len(chunk), width), pad, dtype=torch.long)
            mask = torch.zeros((len(chunk), width), dtype=torch.long)
            for row, (_, _, tokens, _) in enumerate(chunk):
                ids[row, width - len(tokens) :] = torch.tensor(tokens)
                mask[row, width - len(tokens) :] = 1
            positions = (mask.cumsum(dim=1) - 1).clamp(min=0)
            with torch.inference_mode():
                logits = self.model(
                    input_ids=ids.to(self.device), attention_mask=mask.to(self.device), position_ids=positions.to(self.device)
                ).logits
            logprobs = torch.log_softmax(logits.float(), dim=-1)
            for row, (index, c_index, _tokens, n_cont) in enumerate(chunk):
                targets = ids[row, width - n_cont :].to(self.device)
                predicted = logprobs[row, width - n_cont - 1 : width - 1]
                token_lp = predicted.gather(1, targets.unsqueeze(1)).squeeze(1)
                greedy = bool((predicted.argmax(dim=-1) == targets).all())
                scores[(index, c_index)] = (float(token_lp.sum()), n_cont, greedy)
        results = []
        for index, request in enumerate(requests):
            values = [scores[(index, c)] for c in range(len(request.continuations))]
            results.append(
                Completion(
                    logprobs=[v[0] for v in values], token_counts=[v[1] for v in values], greedy=[v[2] for v in values]
                )
            )
        if progress:
            progress(len(requests))
        return results


def _common_prefix(a: list[int], b: list[int]) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def _row_seed(seed: int, request_key: str, sample: int) -> int:
    return int.from_bytes(hashlib.sha256(f"{seed}:{request_key}:{sample}".encode()).digest()[:8], "big") >> 1


def _cut_at_stop(text: str, stop: Sequence[str]) -> str:
    cut = len(text)
    for marker in stop:
        position = text.find(marker)
        if position != -1:
            cut = min(cut, position)
    return text[:cut]


class SeededGumbelSampler:
    """A logits processor that turns greedy search into per-row seeded sampling.

    Adding Gumbel(0, 1) noise to temperature-scaled, top-p-filtered logits and taking the argmax
    draws exactly from the softmax distribution (the Gumbel-max trick). Each row has its own
    generator, so a row's samples do not depend on which other rows share its batch.
    """

    def __init__(self, row_seeds: list[int], temperature: float, top_p: float) -> None:
        import torch

        self.torch = torch
        self.generators = [torch.Generator().manual_seed(s) for s in row_seeds]
        self.temperature = temperature
        self.top_p = top_p

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        """Warp the scores (temperature, top-p) and add each row's Gumbel noise."""
        torch = self.torch
        scores = scores.float() / self.temperature
        if self.top_p < 1.0:
            sorted_scores, order = torch.sort(scores, descending=True, dim=-1)
            cumulative = torch.softmax(sorted_scores, dim=-1).cumsum(dim=-1)
            remove_sorted = cumulative - torch.softmax(sorted_scores, dim=-1) > self.top_p
            remove = remove_sorted.scatter(1, order, remove_sorted)
            scores = scores.masked_fill(remove, float("-inf"))
        uniform = torch.stack(
            [torch.rand(scores.shape[-1], generator=g).clamp_(1e-10, 1.0) for g in self.generators]
        ).to(scores.device)
        return scores - torch.log(-torch.log(uniform))
