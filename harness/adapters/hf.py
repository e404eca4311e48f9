"""The ``hf`` adapter: any transformers causal LM from a local directory or a Hub id.

* Loading: a local directory is used as is; otherwise the id goes to the Hub cache. When the
  id is not cached and the Hub is unreachable (or ``HF_HUB_OFFLINE=1``), loading fails at once
  with one message instead of a long retry hang. ``builtin:reference`` names the embedded
  reference model (built on first use). ``trust_remote_code`` is off unless enabled.
* Start-up: building the adapter loads the tokenizer and the config (so a missing model fails at
  once) and decides device and dtype; the weights are loaded on the first generation or
  log-likelihood request, so a run whose answers all come from the response cache never loads
  them.
* Identity: a local model is identified by the SHA-256 of the whole content of its weight,
  config, tokenizer and code files (:func:`weights_fingerprint`; each file's digest is kept by
  its size, modification time and inode, so unchanged files are not read again); a Hub model by
  its commit in the local Hugging Face cache.
* Generation: prompts are tokenised once, in one batched call; batches hold prompts sorted by
  length (the least padding), left-padded. ``n`` greedy samples are one generation copied ``n``
  times (greedy decoding is deterministic). ``n`` sampled continuations share their prompt's
  encoding: a batch's distinct prompts are encoded once (all but their last token), the key/value
  cache is copied to the batch's sample rows, and ``generate`` continues from it, so a prompt's
  prefill is computed once instead of ``n`` times (shared-prompt sampling).
* CPU streams: on a CPU, several batches (generation or log-likelihood) run at once, each on its
  share of torch's threads (``model.streams``; :mod:`harness.adapters.cpu_streams`); the plan
  used is recorded in the run's manifest (``execution``). The stream threads never touch the
  tokenizer: prompts are encoded before and outputs decoded after, in the calling thread.
* Determinism: greedy decoding is a pure function of the prompt (up to floating-point effects of
  padding). Sampling is seeded *per sample*: the noise for sample j of a request comes from a
  generator seeded with (run seed, request key, j) (the request's ``sample_seed`` instead of its key
  when set: common random numbers across prompts) and is applied as Gumbel-max noise on the
  warped logits, so the outputs do not depend on batch composition, order or resumes. The same
  seed on the same device type, dtype and library versions gives the same samples.
* Log-likelihood: summed log-probabilities of each continuation after its context, in batches
  sorted by length; logits are computed only for the positions that are scored.
* Chat: chat-style requests are rendered with the tokenizer's chat template.
"""

from __future__ import annotations

import hashlib
import inspect
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import Any

from harness.adapters.cpu_streams import (
    StreamPlan,
    parse_streams,
    per_thread_counts,
    plan_streams,
    run_in_streams,
)
from harness.errors import AdapterError
from harness.file_digests import remembered_digests
from harness.model import AdapterParams, ModelAdapter, ProgressCallback, cut_at_stop
from harness.types import Capability, Completion, GenerationParams, ModelInfo, Request, WatermarkSpec

BUILTIN_PREFIX = "builtin:"
#: Files that decide a local model's outputs: weights, configs, tokenizer files, chat templates.
FINGERPRINTED_SUFFIXES = frozenset(
    {".safetensors", ".bin", ".json", ".model", ".txt", ".jinja", ".tiktoken", ".py"}
)
#: A subfolder whose files count too: named chat templates besides the default one.
FINGERPRINTED_SUBFOLDERS = ("additional_chat_templates",)


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
    streams: str = "auto"


def _generate_cache_keyword() -> str:
    """The name of the key/value cache in the installed transformers (``generate``'s and outputs').

    Newer transformers releases call it ``cache`` and warn for the old name ``past_key_values``
    (to be removed in 6.0; 5.24 does so); older releases know only ``past_key_values``.
    """
    from transformers.generation import utils

    return "cache" if "cache" in getattr(utils, "ALL_CACHE_NAMES", ()) else "past_key_values"


def resolve_pretrained(pretrained: str) -> str:
    """A local path for ``builtin:`` models and existing directories, else the Hub id unchanged."""
    if pretrained.startswith(BUILTIN_PREFIX):
        name = pretrained[len(BUILTIN_PREFIX) :]
        if name != "reference":
            raise AdapterError(
                f"model.pretrained: unknown built-in model {name!r}; the only one is 'builtin:reference'"
            )
        from harness.reference.build import ensure_built

        return str(ensure_built())
    path = Path(pretrained).expanduser()
    if path.exists():
        if not (path / "config.json").exists():
            raise AdapterError(
                f"model.pretrained: {path} exists but has no config.json; "
                "is it a transformers model directory?"
            )
        return str(path)
    return pretrained


def weights_fingerprint(directory: Path) -> str:
    """SHA-256 over the names and whole contents of a local model's weights, configs, tokenizer
    files, chat templates and code.

    Each file's digest is remembered by its status (:func:`harness.file_digests.remembered_digests`),
    so a multi-GB checkpoint is read once, and again only after it changes.
    """
    files = [*directory.iterdir()]
    for folder in FINGERPRINTED_SUBFOLDERS:
        if (directory / folder).is_dir():
            files += (directory / folder).iterdir()
    files = sorted(f for f in files if f.suffix in FINGERPRINTED_SUFFIXES and f.is_file())
    digest = hashlib.sha256()
    for file, file_digest in zip(files, remembered_digests(files), strict=True):
        digest.update(f"{file.relative_to(directory).as_posix()}:{file_digest}\n".encode())
    return digest.hexdigest()


def hub_commit(repo_id: str, revision: str | None) -> str | None:
    """The commit of ``repo_id`` at ``revision`` in the local Hugging Face cache, or None.

    transformers 5 no longer records it on the config, so without this a Hub model's identity
    would not change when the repository is updated.
    """
    from huggingface_hub import try_to_load_from_cache

    try:
        found = try_to_load_from_cache(repo_id, "config.json", revision=revision)
    except ValueError:  # not a valid repository id (huggingface_hub's HFValidationError)
        return None
    return Path(found).parent.name if isinstance(found, str) else None


def _hub_is_offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "0").lower() in {"1", "true", "yes"}


class HFAdapter(ModelAdapter):
    """A transformers causal language model (see the module docstring)."""

    Params = HFParams

    def __init__(self, params: HFParams) -> None:
        super().__init__(params)
        self.params: HFParams = params
        self._streams = parse_streams(params.streams)
        self.source = resolve_pretrained(params.pretrained)
        self._local = Path(self.source).exists()
        # Computed once: info() is asked for by the runner, the scenario and each manifest write.
        self._weights_hash = weights_fingerprint(Path(self.source)) if self._local else None
        self._load_kwargs: dict[str, Any] = {
            "revision": params.revision,
            "trust_remote_code": params.trust_remote_code,
        }
        if not self._local and _hub_is_offline():
            self._load_kwargs["local_files_only"] = True
        self._model: Any = None
        self._stream_plans: dict[str, StreamPlan] = {}
        self._load_metadata()
        if self._local:
            self._revision = params.revision
        else:  # the cached commit, and the weights loaded later come from that same commit
            self._revision = hub_commit(self.source, params.revision) or getattr(
                self.config, "_commit_hash", None
            )
            if self._revision:
                self._load_kwargs["revision"] = self._revision

    def _load_metadata(self) -> None:
        """Tokenizer, config, device and dtype: everything but the weights (a missing model fails here)."""
        import torch
        from transformers import AutoConfig, AutoTokenizer

        try:
            tokenizer = AutoTokenizer.from_pretrained(self.source, **self._load_kwargs)
            self.config = AutoConfig.from_pretrained(self.source, **self._load_kwargs)
        except OSError as exc:
            raise AdapterError(self._load_error(exc)) from exc
        self.device = self._pick_device(torch)
        self._dtype_name = str(self._pick_dtype(torch)).removeprefix("torch.")
        tokenizer.padding_side = "left"
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        self.max_length = self.params.max_length or int(
            getattr(self.config, "max_position_embeddings", None) or getattr(self.config, "n_positions", 2048)
        )
        self._torch = torch
        self.tokenizer = tokenizer
        self._capabilities = frozenset(
            {Capability.GENERATE, Capability.LOGLIKELIHOOD}
            | ({Capability.CHAT} if getattr(tokenizer, "chat_template", None) else set())
        )

    @property
    def model(self) -> Any:
        """The model, loaded on first use: a run whose answers are all cached never loads the weights."""
        if self._model is None:
            self._model = self._load_weights()
        return self._model

    def _load_weights(self) -> Any:
        from transformers import AutoModelForCausalLM

        try:
            dtype = getattr(self._torch, self._dtype_name)
            model = AutoModelForCausalLM.from_pretrained(
                self.source, config=self.config, dtype=dtype, **self._load_kwargs
            )
        except OSError as exc:
            raise AdapterError(self._load_error(exc)) from exc
        model = model.to(self.device).eval()
        self._accepts_logits_to_keep = "logits_to_keep" in inspect.signature(model.forward).parameters
        self._cache_is_dynamic = getattr(model.generation_config, "cache_implementation", None) is None
        # Streams run forward passes at once on the shared model: only with the default dynamic
        # cache, and without rotary embeddings that rewrite their frequencies per call.
        self._stateless_forward = self._cache_is_dynamic and not _rope_updated_per_call(model)
        self._parameters = sum(parameter.numel() for parameter in model.parameters())
        self._cache_keyword = _generate_cache_keyword()
        return model

    def _load_error(self, exc: OSError) -> str:
        if self._local:
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
        return self._capabilities

    def info(self) -> ModelInfo:
        """Model id, Hub commit (or local weights fingerprint), dtype and device."""
        name = (
            self.params.name if self.params.pretrained.startswith(BUILTIN_PREFIX) else self.params.pretrained
        )
        return ModelInfo(
            adapter="hf",
            model_id=name,
            revision=self._revision or self.params.revision,
            weights_hash=self._weights_hash,
            dtype=self._dtype_name,
            extra={"device": self.device, "source": self.params.pretrained},
        )

    def _render(self, request: Request) -> str:
        if not request.is_chat:
            return str(request.prompt)
        if not getattr(self.tokenizer, "chat_template", None):
            raise AdapterError(
                f"model {self.params.pretrained} has no chat template; use a completion-style scenario"
            )
        messages = [{"role": m.role, "content": m.content} for m in request.prompt]
        return self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)

    def generate(
        self, requests: Sequence[Request], seed: int, progress: ProgressCallback | None = None
    ) -> list[Completion]:
        """Batched, length-sorted generation; see the module docstring for seeding and sharing."""
        if not requests:
            return []
        texts: list[list[str]] = [[""] * r.params.n for r in requests]
        missing = [r.params.n for r in requests]  # samples still to come, per request
        rendered = [self._render(r) for r in requests]
        token_ids = self.tokenizer(rendered).input_ids if rendered else []  # loads metadata if skipped
        groups: dict[tuple[Any, ...], list[int]] = {}
        for index, request in enumerate(requests):
            p = request.params
            key = (p.max_new_tokens, p.min_new_tokens, p.temperature, p.top_p, p.stop, request.watermark)
            groups.setdefault(key, []).append(index)
        batches: list[tuple[list[tuple[int, int]], bool, tuple[str, ...]]] = []
        tasks = []
        for indices in groups.values():
            indices.sort(key=lambda i: -len(token_ids[i]))
            params = requests[indices[0]].params
            budget = max(1, self.max_length - params.max_new_tokens)
            greedy = params.temperature == 0
            rows = [(i, j) for i in indices for j in range(1 if greedy else requests[i].params.n)]
            # the seeds of the sample rows
            keys = {} if greedy else {i: requests[i].sampling_key() for i in indices}
            stopping = self._stop_criteria(params.stop)
            for start in range(0, len(rows), self.params.batch_size):
                chunk = rows[start : start + self.params.batch_size]
                prompts = list(dict.fromkeys(i for i, _ in chunk))
                batches.append((chunk, greedy, params.stop))
                tasks.append(
                    partial(
                        self._generate_rows,
                        [self._fit(token_ids[i], rendered[i], budget) for i in prompts],
                        [prompts.index(i) for i, _ in chunk],
                        [(keys.get(i, ""), j) for i, j in chunk],
                        params,
                        seed,
                        stopping,
                        requests[indices[0]].watermark,
                    )
                )
        # Decoding steps dominate: each processes one token per row. Closed on the way out, so a
        # raising progress callback stops the streams even while its exception is kept.
        with closing(self._in_streams("generate", tasks, self.params.batch_size)) as steps:
            for number, new_tokens in steps:  # batches finish in any order
                chunk, greedy, stop = batches[number]
                decoded = self.tokenizer.batch_decode(new_tokens, skip_special_tokens=True)
                finished = 0
                for (i, j), text in zip(chunk, (cut_at_stop(t, stop) for t in decoded), strict=True):
                    if greedy:
                        texts[i], missing[i] = [text] * requests[i].params.n, 0
                    else:
                        texts[i][j], missing[i] = text, missing[i] - 1
                    finished += missing[i] == 0
                if progress:  # also with none finished: a cancelled run stops at the next batch
                    progress(finished)
        return [Completion(texts=t) if t else Completion.failed("no output") for t in texts]

    def _stop_criteria(self, stop: tuple[str, ...]) -> Any:
        """``generate``'s stopping criteria for stop strings (None without any), built here.

        transformers builds them from the tokenizer, which the stream threads must not use.
        """
        if not stop:
            return None
        from transformers import StoppingCriteriaList, StopStringCriteria

        return StoppingCriteriaList([StopStringCriteria(tokenizer=self.tokenizer, stop_strings=list(stop))])

    def _fit(self, ids: list[int], text: str, budget: int) -> list[int]:
        """The prompt's tokens, re-encoded with the tokenizer's own truncation when over ``budget``."""
        if len(ids) <= budget:
            return ids
        return self.tokenizer(text, truncation=True, max_length=budget).input_ids

    def _left_pad(self, rows: list[list[int]]) -> tuple[Any, Any]:
        """Left-padded ``input_ids`` and ``attention_mask`` tensors on the model's device."""
        torch = self._torch
        width = max(len(r) for r in rows)
        ids = torch.full((len(rows), width), self.tokenizer.pad_token_id, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for row, tokens in enumerate(rows):
            if tokens:
                ids[row, width - len(tokens) :] = torch.tensor(tokens, dtype=torch.long)
                mask[row, width - len(tokens) :] = 1
        return ids.to(self.device), mask.to(self.device)

    def _generate_rows(
        self,
        prompts: list[list[int]],
        row_prompt: list[int],
        row_keys: list[tuple[str, int]],
        params: GenerationParams,
        seed: int,
        stopping: Any,
        watermark: WatermarkSpec | None = None,
    ) -> list[list[int]]:
        """One ``generate`` continuing ``prompts[row_prompt[r]]`` for each row r (sample ``row_keys[r]``).

        Returns each row's new token ids. It runs on a stream thread, so it does not touch the
        tokenizer: the caller builds the stop-string criteria (``stopping``) and decodes (the
        Rust tokenizer refuses concurrent use while one call changes its truncation settings). The
        criteria are shared by a group's batches: calling them only moves their tables to the
        batch's device, the same one each time. A ``watermark`` acts on the warped scores, before
        the sampling noise (:func:`watermark_processor`).
        """
        model, torch = self.model, self._torch
        ids, mask = self._left_pad(prompts)
        kwargs: dict[str, Any] = {
            "max_new_tokens": params.max_new_tokens,
            "do_sample": False,
            "pad_token_id": self.tokenizer.pad_token_id,
        }
        if params.min_new_tokens:
            kwargs["min_new_tokens"] = min(params.min_new_tokens, params.max_new_tokens)
        marker = None if watermark is None else watermark_processor(watermark, self.config)
        if params.temperature > 0:
            kwargs["logits_processor"] = [
                SeededGumbelSampler(
                    [_row_seed(seed, key, j) for key, j in row_keys],
                    params.temperature,
                    params.top_p,
                    marker,
                )
            ]
        elif marker is not None:
            kwargs["logits_processor"] = [marker]
        if stopping is not None:
            kwargs["stopping_criteria"] = stopping
        index = torch.tensor(row_prompt, dtype=torch.long, device=self.device)
        with torch.inference_mode():
            if len(prompts) < len(row_prompt) and ids.shape[1] > 1 and self._cache_is_dynamic:
                cache = self._shared_prefill(ids, mask)
                if cache is not None:
                    cache.batch_select_indices(index)
                    kwargs[self._cache_keyword] = cache
            output = model.generate(input_ids=ids[index], attention_mask=mask[index], **kwargs)
        return output[:, ids.shape[1] :].tolist()

    def _shared_prefill(self, ids: Any, mask: Any) -> Any:
        """The key/value cache of every prompt but its last token, or None where it cannot be shared.

        Position ids are the ones ``generate`` derives from the attention mask, so continuing from
        this cache computes what ``generate`` would have computed from the prompt alone. Only
        dynamic (full or sliding-window) attention caches are copied; any other cache type (a
        recurrent or static one) makes the batch fall back to a full prefill per row.
        """
        from transformers.cache_utils import DynamicCache, DynamicLayer, DynamicSlidingWindowLayer

        head, head_mask = ids[:, :-1], mask[:, :-1]
        positions = (head_mask.cumsum(-1) - 1).masked_fill(head_mask == 0, 0)
        extra = {"logits_to_keep": 1} if self._accepts_logits_to_keep else {}
        output = self.model(
            input_ids=head, attention_mask=head_mask, position_ids=positions, use_cache=True, **extra
        )
        cache = getattr(output, self._cache_keyword, None)
        layers = getattr(cache, "layers", None)
        if type(cache) is not DynamicCache or not layers:
            return None
        if not all(type(layer) in (DynamicLayer, DynamicSlidingWindowLayer) for layer in layers):
            return None
        return cache

    def loglikelihood(
        self, requests: Sequence[Request], progress: ProgressCallback | None = None
    ) -> list[Completion]:
        """Summed log-probability and greediness of each continuation, batched and length-sorted.

        Contexts and context+continuation texts are tokenised in two batched calls. The model
        computes logits only for the last positions a batch needs (``logits_to_keep``, where the
        model supports it): with a large vocabulary the output layer and the softmax over every
        context position would otherwise cost more than the transformer.
        """
        contexts = [self._render(request) for request in requests]
        joined = [(i, c) for i, request in enumerate(requests) for c in range(len(request.continuations))]
        context_ids = self.tokenizer(contexts).input_ids if contexts else []
        whole_ids = (
            self.tokenizer([contexts[i] + requests[i].continuations[c] for i, c in joined]).input_ids
            if joined
            else []
        )
        pairs = []
        for (index, c_index), whole in zip(joined, whole_ids, strict=True):
            # Tokenise context+continuation jointly (BPE merges across the boundary) and take the
            # tokens after the context's common prefix as the continuation's tokens.
            split = _common_prefix(context_ids[index], whole)
            split = min(split, len(whole) - 1) if len(whole) > 1 else 0
            pairs.append((index, c_index, whole[-self.max_length :], max(1, len(whole) - split)))
        scores: dict[tuple[int, int], tuple[float, int, bool]] = {}
        pairs.sort(key=lambda p: -len(p[2]))
        size = self.params.loglikelihood_batch_size
        chunks = [pairs[start : start + size] for start in range(0, len(pairs), size)]
        longest = len(pairs[0][2]) if pairs else 0
        tasks = [partial(self._score_batch, chunk) for chunk in chunks]
        for _, batch_scores in self._in_streams("loglikelihood", tasks, size * longest):
            scores.update(batch_scores)
        results = []
        for index, request in enumerate(requests):
            values = [scores[(index, c)] for c in range(len(request.continuations))]
            results.append(
                Completion(
                    logprobs=[v[0] for v in values],
                    token_counts=[v[1] for v in values],
                    greedy=[v[2] for v in values],
                )
            )
        if progress:
            progress(len(requests))
        return results

    def _score_batch(
        self, chunk: list[tuple[int, int, list[int], int]]
    ) -> dict[tuple[int, int], tuple[float, int, bool]]:
        """(log-probability, token count, greediness) of each (request, continuation) in one batch."""
        model, torch = self.model, self._torch
        ids, mask = self._left_pad([tokens for _, _, tokens, _ in chunk])
        width = ids.shape[1]
        keep = min(width, max(n_cont for *_, n_cont in chunk) + 1)
        extra = {"logits_to_keep": keep} if self._accepts_logits_to_keep else {}
        positions = (mask.cumsum(dim=1) - 1).clamp(min=0)
        with torch.inference_mode():
            logits = model(
                input_ids=ids, attention_mask=mask, position_ids=positions, use_cache=False, **extra
            ).logits
        offset = width - logits.shape[1]
        logprobs = torch.log_softmax(logits.float(), dim=-1)
        scores = {}
        for row, (index, c_index, _tokens, n_cont) in enumerate(chunk):
            targets = ids[row, width - n_cont :]
            predicted = logprobs[row, width - n_cont - 1 - offset : width - 1 - offset]
            token_lp = predicted.gather(1, targets.unsqueeze(1)).squeeze(1)
            greedy = bool((predicted.argmax(dim=-1) == targets).all())
            scores[(index, c_index)] = (float(token_lp.sum()), n_cont, greedy)
        return scores

    def _in_streams(
        self, kind: str, tasks: list[Callable[[], Any]], step_tokens: int
    ) -> Iterator[tuple[int, Any]]:
        """``(index, result)`` of each batch task, on parallel CPU streams (``model.streams``).

        ``step_tokens`` is how many tokens the largest batch's forward pass processes (one per row
        in a decoding step); times the model's size it tells ``auto`` whether a batch is enough
        arithmetic to be worth a stream of its own. Only a model on the CPU whose forward pass
        keeps no state between calls (see ``_load_weights``), with torch's per-thread counts,
        runs several batches at once. The plan is kept for the manifest (:meth:`execution`).
        The weights are loaded first, in this thread; an empty list loads nothing.
        """
        if not tasks:
            return
        torch, threads = self._torch, self._torch.get_num_threads()
        parallel = str(self.model.device) == "cpu" and self._stateless_forward and per_thread_counts(torch)
        requested = self._streams if parallel else 1
        plan = plan_streams(requested, threads, len(tasks), self._parameters * step_tokens)
        self._stream_plans[kind] = plan
        yield from run_in_streams(torch, tasks, plan)

    def execution(self) -> dict[str, Any]:
        """How the last batches of each kind ran: streams and torch threads per stream."""
        return {kind: asdict(plan) for kind, plan in self._stream_plans.items()}


def _rope_updated_per_call(model: Any) -> bool:
    """Whether a rotary embedding of ``model`` rewrites its frequencies in each forward pass.

    transformers' ``dynamic`` and ``longrope`` rotary embeddings (Phi-3's, for one) store
    frequencies chosen from the current call's length on the module, so two batches running at
    once would use each other's.
    """
    for module in model.modules():
        kind = getattr(module, "rope_type", None)
        kinds = kind.values() if isinstance(kind, dict) else [kind]
        if any(k in ("dynamic", "longrope") for k in kinds):
            return True
    return False


def _common_prefix(a: list[int], b: list[int]) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def _row_seed(seed: int, request_key: str, sample: int) -> int:
    return int.from_bytes(hashlib.sha256(f"{seed}:{request_key}:{sample}".encode()).digest()[:8], "big") >> 1


def outside_nucleus(scores: Any, top_p: float, first_k: int = 64) -> Any:
    """Boolean mask of the tokens outside each row's top-p nucleus (Holtzman et al. 2020).

    A token is kept when the probability mass of the tokens ranked above it is at most
    ``top_p`` (so the most likely token is always kept). Sorting the whole vocabulary at every
    step costs about 115 ms for 16 rows of GPT-2's 50,257 tokens on one CPU core, more than the
    model's own step, while the nucleus rarely holds more than a few dozen tokens. So the ranking
    comes from ``topk`` over the ``first_k`` most likely tokens, doubled until every row's nucleus
    ends inside it (up to the whole vocabulary, which is the full sort); the mask is the one the
    full sort gives.
    """
    import torch

    probs = torch.softmax(scores, dim=-1)
    vocab = scores.shape[-1]
    k = min(first_k, vocab)
    while True:
        top, order = torch.topk(probs, k, dim=-1)
        before = top.cumsum(dim=-1) - top
        if k == vocab or bool((before[:, -1] > top_p).all()):
            break
        k = min(2 * k, vocab)
    remove = torch.ones_like(scores, dtype=torch.bool)
    return remove.scatter(1, order, before > top_p)


class SeededGumbelSampler:
    """A logits processor that turns greedy search into per-row seeded sampling.

    Adding Gumbel(0, 1) noise to temperature-scaled, top-p-filtered logits and taking the argmax
    draws exactly from the softmax distribution (the Gumbel-max trick). Each row has its own
    generator, so a row's samples do not depend on which other rows share its batch.
    """

    def __init__(
        self,
        row_seeds: list[int],
        temperature: float,
        top_p: float,
        watermark: Callable[[Any, Any], Any] | None = None,
    ) -> None:
        import torch

        self.torch = torch
        self.generators = [torch.Generator().manual_seed(s) for s in row_seeds]
        self.temperature = temperature
        self.top_p = top_p
        self.watermark = watermark

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        """Warp the scores (temperature, top-p), apply the watermark if any, add each row's Gumbel noise."""
        torch = self.torch
        scores = scores.float() / self.temperature
        if self.top_p < 1.0:
            scores = scores.masked_fill(outside_nucleus(scores, self.top_p), float("-inf"))
        if self.watermark is not None:
            scores = self.watermark(input_ids, scores)
        uniform = torch.stack(
            [torch.rand(scores.shape[-1], generator=g).clamp_(1e-10, 1.0) for g in self.generators]
        ).to(scores.device)
        return scores - torch.log(-torch.log(uniform))


# Generation with a text watermark: transformers' own schemes, keyed by a secret that never leaves
# the process (requests carry only its hash; see harness.types.WatermarkSpec).

DEMO_WATERMARK_KEY = "rai-harness public demonstration watermark key"
"""The key used when a watermark names no ``key_env``: public, so it certifies nothing outside tests."""
WATERMARK_SCHEMES = ("kgw", "synthid")


def watermark_secret(key_env: str | None) -> str:
    """The secret key in the environment variable ``key_env`` (None: :data:`DEMO_WATERMARK_KEY`)."""
    if key_env is None:
        return DEMO_WATERMARK_KEY
    secret = os.environ.get(key_env, "")
    if not secret:
        raise AdapterError(
            f"watermark key: the environment variable {key_env} is not set or empty; export the secret "
            "key there, or leave key_env unset to use the public demonstration key"
        )
    return secret


def watermark_key_id(secret: str) -> str:
    """A hash that identifies a watermark key in requests, manifests and reports (never the key)."""
    return hashlib.sha256(f"rai-harness watermark key id\x00{secret}".encode()).hexdigest()[:16]


def _key_integer(secret: str, label: str, bits: int = 62) -> int:
    """A non-negative integer of ``bits`` bits derived from the secret for one use (``label``)."""
    digest = hashlib.sha256(f"rai-harness watermark\x00{label}\x00{secret}".encode()).digest()
    return int.from_bytes(digest[:8], "big") >> (64 - bits)


def watermarking_config(spec: WatermarkSpec, secret: str | None = None) -> Any:
    """The transformers watermarking config of ``spec``, keyed by the secret its ``key_env`` names.

    ``secret`` overrides the key (detectors testing text against other keys pass theirs).
    ``kgw``: :class:`transformers.WatermarkingConfig` (greenlist_ratio, bias, seeding_scheme,
    context_width) with a hashing key derived from the secret. ``synthid``:
    :class:`transformers.SynthIDTextWatermarkingConfig` (ngram_len, depth, context_history_size)
    with ``depth`` keys and the sampling-table seed derived from the secret. A key whose hash is not
    ``spec.key_id`` is refused, so a run never mixes outputs of two keys under one identity.
    """
    from transformers import SynthIDTextWatermarkingConfig, WatermarkingConfig

    secret = watermark_secret(spec.key_env) if secret is None else secret
    if spec.key_id and watermark_key_id(secret) != spec.key_id:
        raise AdapterError(
            f"watermark key: the key in {spec.key_env or 'DEMO_WATERMARK_KEY'} has id "
            f"{watermark_key_id(secret)}, the request asks for {spec.key_id}"
        )
    options = dict(spec.parameters)
    if spec.scheme == "kgw":
        return WatermarkingConfig(hashing_key=_key_integer(secret, "kgw", bits=40), **options)
    if spec.scheme == "synthid":
        depth = int(options.pop("depth", 30))
        keys = [_key_integer(secret, f"synthid-{layer}") for layer in range(depth)]
        seed = _key_integer(secret, "synthid-table", bits=31)
        return SynthIDTextWatermarkingConfig(keys=keys, sampling_table_seed=seed, **options)
    raise AdapterError(
        f"watermark scheme {spec.scheme!r} is unknown; choose one of {', '.join(WATERMARK_SCHEMES)}"
    )


def watermark_processor(spec: WatermarkSpec, config: Any) -> Callable[[Any, Any], Any]:
    """A fresh logits processor of ``spec`` for one ``generate`` call, computing on the CPU.

    transformers draws green lists and sampling tables with a generator on the processor's device,
    and CPU and CUDA generators draw different numbers: a watermark made on a GPU would not be
    found by a detector on the CPU. So the processor always runs on the CPU (the scores move there
    and back, one row of the vocabulary per sample and step). SynthID's processor keeps state
    across the steps of one call, hence one per call.
    """
    text_config = config.get_text_config() if hasattr(config, "get_text_config") else config
    processor = watermarking_config(spec).construct_processor(text_config.vocab_size, "cpu")

    def on_cpu(input_ids: Any, scores: Any) -> Any:
        return processor(input_ids.cpu(), scores.float().cpu()).to(scores.device)

    return on_cpu
