"""The ``watermark`` scenario: does a text watermark's certificate hold up?

Two schemes from transformers itself: ``kgw``, the green-list watermark of Kirchenbauer et al.
(2023), and ``synthid``, SynthID-Text's tournament sampling (Dathathri et al. 2024). Following
MarkMyWords (Piet et al. 2023) it measures, for each scheme:

* **size**: the median number of tokens an output needs before its prefix is detected at the
  configured false-positive level ``fpr``;
* **power**: the share of watermarked outputs detected at p <= 0.01 and p <= 0.001, beside the
  empirical false-positive rate at the same thresholds on two kinds of negatives: the same
  prompts' unwatermarked generations and human-written text. The empirical rate holds for the
  configured key; ``null_keys`` random keys give the rate averaged over keys, which is what the
  test's nominal level promises (one key's rate on similar texts varies with the key);
* **tamper resistance**: detection at ``fpr`` after random token substitution and deletion at
  10/20/30%, lower- and upper-casing, and paraphrase by a second model where one is given;
* **quality cost**: the per-token log-perplexity of watermarked minus unwatermarked outputs of the
  same prompt under a scoring model, with a paired interval;
* **the seed essay's check** (``kgw``): the rate of all-green runs of 10 tokens in human text,
  against γ^10.

``mode=detect`` only detects: the outputs of any adapter (API models, replayed runs) and the
user's own texts are tested against the key, given the tokenizer. Generation needs the ``hf``
adapter (it applies the watermark; see :func:`harness.adapters.hf.watermark_processor`).

The key lives in the environment variable ``key_env`` (unset: a public demonstration key). Run
files, the manifest and reports carry only its hash (``key_id``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from harness.adapters.hf import (
    WATERMARK_SCHEMES,
    HFAdapter,
    HFParams,
    resolve_pretrained,
    watermark_key_id,
    watermark_secret,
    weights_fingerprint,
)
from harness.errors import ConfigError, check_choice
from harness.scenario import Scenario, ScenarioContext, ScenarioParams, metric_value
from harness.scorers.base import ScoringError
from harness.stats import Estimate
from harness.types import (
    Capability,
    Completion,
    GenerationParams,
    Instance,
    MetricSpec,
    MetricValue,
    Request,
    ScorerIdentity,
    WatermarkSpec,
    stable_hash,
)
from scenarios.watermark import loaders, metrics, perturb
from scenarios.watermark.detection import Detector, build_detector

MODES = ("generate", "detect")
POWER_LEVELS = (0.01, 0.001)
PARAPHRASE_PROMPT = "Rewrite the following text in other words.\nText: {text}\nRewritten:"
DEFAULT_SCHEME_PARAMETERS: dict[str, dict[str, Any]] = {
    "kgw": {"greenlist_ratio": 0.25, "bias": 4.0},
    "synthid": {"ngram_len": 5, "depth": 30},
}


@dataclass
class WatermarkParams(ScenarioParams):
    """Parameters of the watermark scenario (conf/scenario/watermark.yaml lists every one)."""

    name: str = "watermark"
    mode: str = "generate"
    """generate: watermark the model's outputs and measure; detect: only test outputs and texts."""
    schemes: list[str] = field(default_factory=lambda: ["kgw", "synthid"])
    kgw: dict[str, Any] = field(default_factory=lambda: dict(DEFAULT_SCHEME_PARAMETERS["kgw"]))
    synthid: dict[str, Any] = field(default_factory=lambda: dict(DEFAULT_SCHEME_PARAMETERS["synthid"]))
    key_env: str | None = None
    """Environment variable holding the secret key; None: the public demonstration key."""
    prompts: str | None = None
    prompt_words: int = 6
    human: str | None = None
    texts: str | None = None
    """detect mode: the user's own texts to test (a .jsonl / .txt file or a folder of .txt files)."""
    tokenizer: str | None = None
    """Tokenizer (and config) the watermark was made with; None: the run's hf model."""
    max_new_tokens: int = 100
    min_new_tokens: int = 100
    temperature: float = 1.0
    top_p: float = 1.0
    fpr: float = 0.01
    """The false-positive level at which size and tamper resistance are measured."""
    null_keys: int = 5
    quality: bool = True
    scoring_model: str | None = None
    """Model whose perplexity prices the quality cost; None: the run's hf model."""
    paraphrase_model: str | None = None


class WatermarkScenario(Scenario):
    """Detectability, false positives, tamper resistance and quality cost of text watermarks."""

    name = "watermark"
    version = "1"
    Params = WatermarkParams
    requires: ClassVar[frozenset[Capability]] = frozenset({Capability.GENERATE})

    def __init__(self, params: WatermarkParams, context: ScenarioContext) -> None:
        super().__init__(params, context)
        self.params: WatermarkParams = params
        _check(params)
        self.generating = params.mode == "generate"
        info = context.model_info
        self.model_source = info.extra.get("source") if info is not None and info.adapter == "hf" else None
        if self.generating and self.model_source is None:
            raise ConfigError(
                "scenario.mode=generate needs the hf adapter (it applies the watermark while sampling); "
                "for another model's outputs use scenario.mode=detect with scenario.tokenizer=<its tokenizer>"
            )
        self.tokenizer_source = params.tokenizer or self.model_source
        if self.tokenizer_source is None:
            raise ConfigError(
                "scenario.tokenizer: detection needs the watermark's tokenizer (a local path or Hub id)"
            )
        self.key_id = watermark_key_id(watermark_secret(params.key_env))
        self.specs = {
            scheme: WatermarkSpec(
                scheme,
                tuple(sorted(getattr(params, scheme).items())),
                params.key_env,
                self.key_id,
            )
            for scheme in params.schemes
        }
        self.perturbations = perturb.perturbation_names(params.paraphrase_model is not None)

    # --- what to ask -------------------------------------------------------------------------

    def instances(self) -> Iterable[Instance]:
        """Prompts (each generated with and without every watermark), human texts, the user's texts."""
        p = self.params
        prompts = (
            loaders.load_texts(p.prompts, "prompts")
            if p.prompts
            else loaders.prompts_from(loaders.load_texts(None, "prompts"), p.prompt_words)
        )
        for prompt in prompts:
            yield Instance(f"prompt-{prompt.id}", prompt.text, metadata={"source": "prompt"})
        for text in loaders.load_texts(p.human, "human"):
            yield Instance(
                f"human-{text.id}", text.text, metadata={"source": "human", "register": text.label}
            )
        if p.texts is not None:
            for text in loaders.load_texts(p.texts, "texts"):
                yield Instance(
                    f"text-{text.id}", text.text, metadata={"source": "texts", "register": text.label}
                )

    def requests(self, instance: Instance) -> list[Request]:
        """A prompt: its unwatermarked output, then one per scheme (generate mode). Texts: none."""
        if instance.metadata["source"] != "prompt":
            return []
        p = self.params
        params = GenerationParams(
            max_new_tokens=p.max_new_tokens,
            min_new_tokens=p.min_new_tokens,
            temperature=p.temperature,
            top_p=p.top_p,
        )
        plain = Request(kind="generate", prompt=instance.input, params=params)
        if not self.generating:
            return [plain]
        return [
            plain,
            *(Request("generate", instance.input, params, watermark=s) for s in self.specs.values()),
        ]

    # --- scoring -----------------------------------------------------------------------------

    @cached_property
    def tokenizer(self) -> Any:
        """The watermark's tokenizer (loaded on first use)."""
        from transformers import AutoTokenizer

        return AutoTokenizer.from_pretrained(resolve_pretrained(self.tokenizer_source))

    @cached_property
    def model_config(self) -> Any:
        """The config of the tokenizer's model: its vocabulary size decides the green lists."""
        from transformers import AutoConfig

        return AutoConfig.from_pretrained(resolve_pretrained(self.tokenizer_source))

    @cached_property
    def detectors(self) -> dict[str, Detector]:
        """One detector per scheme with the configured key."""
        special = self.tokenizer.all_special_ids
        return {s: build_detector(spec, self.model_config, special) for s, spec in self.specs.items()}

    @cached_property
    def null_detectors(self) -> dict[str, list[Detector]]:
        """Per scheme, detectors with ``null_keys`` random keys (public, drawn from the run seed)."""
        special = self.tokenizer.all_special_ids
        secrets = [f"null key {self.context.seed} {j}" for j in range(self.params.null_keys)]
        return {
            s: [
                build_detector(
                    replace(spec, key_id=watermark_key_id(secret)), self.model_config, special, secret
                )
                for secret in secrets
            ]
            for s, spec in self.specs.items()
        }

    @cached_property
    def replacements(self) -> np.ndarray:
        """Token ids a substitution may insert: the vocabulary without special tokens."""
        special = set(self.tokenizer.all_special_ids)
        return np.array([i for i in range(len(self.tokenizer)) if i not in special])

    @cached_property
    def scoring_adapter(self) -> HFAdapter:
        """The model that prices the quality cost (its log-likelihoods)."""
        source = self.params.scoring_model or self.model_source
        return HFAdapter(HFParams(name="watermark-scoring", pretrained=source))

    @cached_property
    def paraphrase_adapter(self) -> HFAdapter:
        """The second model that paraphrases watermarked outputs."""
        return HFAdapter(HFParams(name="watermark-paraphrase", pretrained=str(self.params.paraphrase_model)))

    def encode(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids of texts, without special tokens added (the detector sees the text alone)."""
        if not texts:
            return []
        return self.tokenizer(list(texts), add_special_tokens=False).input_ids

    def score_batch(self, items: Sequence[tuple[Instance, Sequence[Completion]]]) -> list[dict[str, Any]]:
        """Detection, tampering, null keys and perplexity for a window of instances."""
        for instance, outputs in items:
            expected = len(self.requests(instance))
            if len(outputs) != expected or any(len(o.texts) != 1 for o in outputs):
                raise ScoringError(f"instance {instance.id}: expected {expected} outputs of one text each")
        tested = [self._tested_text(instance, outputs) for instance, outputs in items]
        ids = self.encode(tested)
        sources = [instance.metadata["source"] for instance, _ in items]
        # A prompt's tested text is its unwatermarked output: a negative when generating.
        tested = "p_plain" if self.generating else "p"
        scores: list[dict[str, Any]] = [{"tokens": len(i)} for i in ids]
        for scheme, detector in self.detectors.items():
            for row, source, scan in zip(scores, sources, detector.scan_many(ids), strict=True):
                row[f"{scheme}_{tested if source == 'prompt' else 'p'}"] = scan.p_value()
                if scheme == "kgw" and source == "human":
                    row["kgw_green_blocks"], row["kgw_blocks"] = metrics.green_blocks(scan.scored_bits())
        prompt_rows = [i for i, source in enumerate(sources) if source == "prompt"]
        if self.generating:
            if prompt_rows:
                self._score_generations(items, prompt_rows, scores)
            negatives = [i for i, source in enumerate(sources) if source in ("prompt", "human")]
            self._score_null_keys(negatives, [ids[i] for i in negatives], scores)
        return scores

    def _tested_text(self, instance: Instance, outputs: Sequence[Completion]) -> str:
        """The text whose p-value is ``{scheme}_p``: a watermarked output, a model's output, or the text."""
        if instance.metadata["source"] != "prompt":
            return str(instance.input)
        return outputs[0].texts[0]

    def _score_generations(
        self,
        items: Sequence[tuple[Instance, Sequence[Completion]]],
        rows: list[int],
        scores: list[dict[str, Any]],
    ) -> None:
        """Per scheme: the watermarked output's p-value, size, tampered p-values; the plain p-value."""
        alpha = self.params.fpr
        for index, (scheme, detector) in enumerate(self.detectors.items(), start=1):
            marked_texts = [items[r][1][index].texts[0] for r in rows]
            marked = self.encode(marked_texts)
            for r, scan in zip(rows, detector.scan_many(marked), strict=True):
                scores[r][f"{scheme}_p"] = scan.p_value()
                ttd = scan.tokens_to_detection(alpha)
                scores[r][f"{scheme}_tokens_to_detection"] = ttd if np.isfinite(ttd) else None
                scores[r][f"{scheme}_marked_tokens"] = scan.length
            for name in self.perturbations:
                tampered = self._tamper(name, [items[r][0].id for r in rows], marked, marked_texts)
                for r, scan in zip(rows, detector.scan_many(tampered), strict=True):
                    scores[r][f"{scheme}_p_{name}"] = scan.p_value()
        if self.params.quality:
            self._score_quality(items, rows, scores)

    def _tamper(
        self, name: str, instance_ids: list[str], ids: list[list[int]], texts: list[str]
    ) -> list[list[int]]:
        """The watermarked outputs after perturbation ``name``."""
        if name in perturb.CASE_CHANGES:
            return self.encode([perturb.CASE_CHANGES[name](t) for t in texts])
        if name == "paraphrase":
            return self.encode(self._paraphrase(texts))
        seed = self.context.seed
        return [
            perturb.perturb_tokens(name, seq, self.replacements, seed, iid)
            for seq, iid in zip(ids, instance_ids, strict=True)
        ]

    def _paraphrase(self, texts: list[str]) -> list[str]:
        params = GenerationParams(max_new_tokens=self.params.max_new_tokens + 20, temperature=0.0)
        requests = [Request("generate", PARAPHRASE_PROMPT.format(text=t), params) for t in texts]
        completions = self.paraphrase_adapter.generate(requests, self.context.seed)
        failed = [c.error for c in completions if c.error]
        if failed:
            raise ScoringError(f"paraphrase model failed: {failed[0]}")
        return [c.texts[0] for c in completions]

    def _score_quality(
        self,
        items: Sequence[tuple[Instance, Sequence[Completion]]],
        rows: list[int],
        scores: list[dict[str, Any]],
    ) -> None:
        """Per-token negative log-likelihood of each output under the scoring model."""
        requests = [
            Request(
                "loglikelihood",
                items[r][0].input,
                continuations=tuple(o.texts[0] for o in items[r][1]),
            )
            for r in rows
        ]
        completions = self.scoring_adapter.loglikelihood(requests)
        names = ["plain", *self.detectors]
        for r, completion in zip(rows, completions, strict=True):
            if completion.error:
                raise ScoringError(f"scoring model failed: {completion.error}")
            for name, lp, count in zip(names, completion.logprobs, completion.token_counts, strict=True):
                scores[r][f"{name}_nll"] = -lp / max(count, 1)

    def _score_null_keys(self, rows: list[int], ids: list[list[int]], scores: list[dict[str, Any]]) -> None:
        """Per negative text and scheme, the share of random keys that flag it at each power level."""
        if not rows or not self.params.null_keys:
            return
        for scheme, detectors in self.null_detectors.items():
            flagged = np.zeros((len(rows), len(POWER_LEVELS)))
            for detector in detectors:
                p_values = np.array([scan.p_value() for scan in detector.scan_many(ids)])
                flagged += p_values[:, None] <= np.array(POWER_LEVELS)[None, :]
            for k, r in enumerate(rows):
                for j, level in enumerate(POWER_LEVELS):
                    scores[r][f"{scheme}_null_flagged_{level:g}"] = flagged[k, j] / len(detectors)

    # --- metrics -----------------------------------------------------------------------------

    def metric_names(self) -> list[tuple[str, str, str, str]]:
        """(name, description, direction, unit) of every metric this configuration reports."""
        p = self.params
        names: list[tuple[str, str, str, str]] = []
        for s in self.specs:
            if not self.generating:
                names.append(
                    (
                        f"{s}_detected_share_outputs",
                        f"{s}: model outputs detected at p <= {p.fpr:g}",
                        "none",
                        "proportion",
                    )
                )
                if p.texts is not None:
                    names.append(
                        (
                            f"{s}_detected_share_texts",
                            f"{s}: the user's texts detected at p <= {p.fpr:g}",
                            "none",
                            "proportion",
                        )
                    )
                names.append(
                    (
                        f"{s}_fpr_at_{p.fpr:g}_human",
                        f"{s}: human texts flagged at p <= {p.fpr:g}",
                        "lower_is_better",
                        "proportion",
                    )
                )
                continue
            names.append(
                (
                    f"{s}_tokens_to_detection",
                    f"{s}: median tokens to detection at p <= {p.fpr:g} (size)",
                    "lower_is_better",
                    "tokens",
                )
            )
            for level in POWER_LEVELS:
                names.append(
                    (
                        f"{s}_tpr_at_{level:g}",
                        f"{s}: watermarked outputs detected at p <= {level:g}",
                        "higher_is_better",
                        "proportion",
                    )
                )
                for negatives in ("generated", "human"):
                    names.append(
                        (
                            f"{s}_fpr_at_{level:g}_{negatives}",
                            f"{s}: {negatives} negatives flagged at p <= {level:g} (this key)",
                            "lower_is_better",
                            "proportion",
                        )
                    )
                if p.null_keys:
                    names.append(
                        (
                            f"{s}_fpr_at_{level:g}_over_keys",
                            f"{s}: negatives flagged at p <= {level:g}, mean over {p.null_keys} random keys",
                            "lower_is_better",
                            "proportion",
                        )
                    )
            for name in self.perturbations:
                names.append(
                    (
                        f"{s}_tpr_after_{name}",
                        f"{s}: detected at p <= {p.fpr:g} after {name}",
                        "higher_is_better",
                        "proportion",
                    )
                )
            if p.quality:
                names.append(
                    (
                        f"{s}_log_perplexity_increase",
                        f"{s}: per-token log-perplexity, watermarked minus unwatermarked (paired)",
                        "lower_is_better",
                        "nats per token",
                    )
                )
            if s == "kgw":
                names.append(
                    (
                        "kgw_green_run_rate",
                        f"kgw: all-green {metrics.RUN_LENGTH}-token runs in human text (against γ^10)",
                        "none",
                        "proportion",
                    )
                )
        return names

    def metrics(self) -> list[MetricSpec]:
        """Every metric of the configured schemes and mode (computed in :meth:`aggregate`)."""
        return [
            MetricSpec(name=n, description=d, direction=direction, unit=unit)
            for n, d, direction, unit in self.metric_names()
        ]

    def aggregate(self, frame: pd.DataFrame) -> list[MetricValue]:
        """Every metric with its interval; errored rows are counted and left out."""
        errored = frame["error"].notna() if "error" in frame else pd.Series(False, index=frame.index)
        n_errors = int(errored.sum())
        ok = frame[~errored]
        prompts = ok[ok["source"] == "prompt"] if "source" in ok else ok.iloc[0:0]
        human = ok[ok["source"] == "human"] if "source" in ok else ok.iloc[0:0]
        texts = ok[ok["source"] == "texts"] if "source" in ok else ok.iloc[0:0]
        resamples, seed = self.context.bootstrap_resamples, self.context.seed
        described = {n: (d, direction, unit) for n, d, direction, unit in self.metric_names()}
        values: dict[str, tuple[Estimate, dict[str, Any]]] = {}
        p = self.params
        for s in self.specs:
            extra_key = {"scheme": s, "key_id": self.key_id, "parameters": dict(self.specs[s].parameters)}
            if not self.generating:
                values[f"{s}_detected_share_outputs"] = (
                    metrics.proportion(_col(prompts, f"{s}_p") <= p.fpr),
                    {},
                )
                if p.texts is not None:
                    values[f"{s}_detected_share_texts"] = (
                        metrics.proportion(_col(texts, f"{s}_p") <= p.fpr),
                        {},
                    )
                values[f"{s}_fpr_at_{p.fpr:g}_human"] = (
                    metrics.proportion(_col(human, f"{s}_p") <= p.fpr),
                    {"nominal": p.fpr},
                )
            else:
                lengths = _col(prompts, f"{s}_tokens_to_detection", missing=np.inf)
                values[f"{s}_tokens_to_detection"] = (
                    metrics.median_tokens(lengths, resamples=resamples, seed=seed),
                    {
                        "never_detected": int(np.isinf(lengths).sum()),
                        "fpr": p.fpr,
                        "max_new_tokens": p.max_new_tokens,
                    },
                )
                for level in POWER_LEVELS:
                    fprs = {
                        "generated": metrics.proportion(_col(prompts, f"{s}_p_plain") <= level),
                        "human": metrics.proportion(_col(human, f"{s}_p") <= level),
                    }
                    values[f"{s}_tpr_at_{level:g}"] = (
                        metrics.proportion(_col(prompts, f"{s}_p") <= level),
                        {"empirical_fpr": {k: v.value for k, v in fprs.items()}, "nominal_fpr": level},
                    )
                    for negatives, estimate in fprs.items():
                        values[f"{s}_fpr_at_{level:g}_{negatives}"] = (estimate, _nominal(estimate, level))
                    if p.null_keys:
                        rates = np.concatenate(
                            [
                                _col(prompts, f"{s}_null_flagged_{level:g}"),
                                _col(human, f"{s}_null_flagged_{level:g}"),
                            ]
                        )
                        estimate = metrics.clustered_proportion(rates, resamples=resamples, seed=seed)
                        values[f"{s}_fpr_at_{level:g}_over_keys"] = (
                            estimate,
                            {**_nominal(estimate, level), "keys": p.null_keys},
                        )
                for name in self.perturbations:
                    values[f"{s}_tpr_after_{name}"] = (
                        metrics.proportion(_col(prompts, f"{s}_p_{name}") <= p.fpr),
                        {"fpr": p.fpr},
                    )
                if p.quality:
                    from harness import stats

                    marked, plain = _col(prompts, f"{s}_nll"), _col(prompts, "plain_nll")
                    estimate = stats.paired_difference(marked, plain, support="real")
                    values[f"{s}_log_perplexity_increase"] = (
                        estimate,
                        {
                            "perplexity_ratio": None
                            if estimate.value is None
                            else float(np.exp(estimate.value)),
                            "scoring_model": p.scoring_model or self.model_source,
                        },
                    )
                if s == "kgw":
                    counts = list(
                        zip(
                            _col(human, "kgw_green_blocks").astype(int),
                            _col(human, "kgw_blocks").astype(int),
                            strict=True,
                        )
                    )
                    gamma = (
                        self.detectors["kgw"].null_p
                        if len(human)
                        else float(p.kgw.get("greenlist_ratio", 0.25))
                    )
                    estimate = metrics.green_run_rate(counts)
                    values["kgw_green_run_rate"] = (
                        estimate,
                        {
                            "expected_gamma_power": gamma**metrics.RUN_LENGTH,
                            "gamma": gamma,
                            "run_length": metrics.RUN_LENGTH,
                        },
                    )
            for name in list(values):
                if name.startswith(f"{s}_") or name == "kgw_green_run_rate":
                    values[name][1].update(extra_key)
        return [
            metric_value(
                name,
                estimate,
                n_errors,
                direction=described[name][1],
                unit=described[name][2],
                extra={"description": described[name][0], **extra},
            )
            for name, (estimate, extra) in values.items()
        ]

    # --- provenance and reports --------------------------------------------------------------

    def protocol(self) -> str:
        """Watermarked and unwatermarked sampling with detection, or detection alone."""
        return "watermark-generate-detect" if self.generating else "watermark-detect"

    def scorers(self) -> list[ScorerIdentity]:
        """The detectors (scheme, parameters, key hash, tokenizer) and the scoring model."""
        source = resolve_pretrained(self.tokenizer_source)
        from pathlib import Path

        tokenizer_hash = weights_fingerprint(Path(source)) if Path(source).exists() else source
        found = [
            ScorerIdentity(
                name=f"watermark-{s}",
                version="1",
                model_hash=stable_hash([spec.parameters, spec.key_id, tokenizer_hash])[:16],
                label=f"{s} detector, key {spec.key_id}",
            )
            for s, spec in self.specs.items()
        ]
        if self.generating and self.params.quality:
            found.append(
                ScorerIdentity(
                    "watermark-perplexity", "1", label=str(self.params.scoring_model or self.model_source)
                )
            )
        return found

    def template_fingerprint_source(self) -> Any:
        """Prompts are sent verbatim; the watermarks decide what is asked."""
        return {"template": "{prompt}", "watermarks": [stable_hash(s) for s in self.specs.values()]}

    def notes(self, metrics: list[MetricValue]) -> list[str]:
        """Which key the watermark used: the public demonstration key proves nothing about provenance."""
        where = (
            "the public demonstration key" if self.params.key_env is None else f"from ${self.params.key_env}"
        )
        return [f"watermark key id {self.key_id} ({where})"]


def _col(rows: pd.DataFrame, column: str, missing: float = np.nan) -> np.ndarray:
    """A score column as floats (``missing`` for None); empty when the table lacks it."""
    if column not in rows or rows.empty:
        return np.array([], dtype=float)
    values = pd.to_numeric(rows[column], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    return np.where(np.isnan(values), missing, values)


def _nominal(estimate: Estimate, level: float) -> dict[str, Any]:
    """Whether the nominal level is inside or above the interval (not significantly exceeded)."""
    return {"nominal": level, "within_nominal": None if estimate.low is None else bool(estimate.low <= level)}


def _check(p: WatermarkParams) -> None:
    check_choice("scenario.mode", p.mode, MODES)
    unknown = [s for s in p.schemes if s not in WATERMARK_SCHEMES]
    if unknown or not p.schemes or len(set(p.schemes)) != len(p.schemes):
        raise ConfigError(
            f"scenario.schemes: {p.schemes} must be distinct names from {', '.join(WATERMARK_SCHEMES)}"
        )
    if p.kgw.get("seeding_scheme", "lefthash") != "lefthash":
        raise ConfigError(
            "scenario.kgw.seeding_scheme: only lefthash is supported (the per-token scan needs it)"
        )
    if not 0 < p.fpr < 0.5:
        raise ConfigError(f"scenario.fpr must be in (0, 0.5), got {p.fpr}")
    if p.max_new_tokens < 1 or not 0 <= p.min_new_tokens <= p.max_new_tokens:
        raise ConfigError("scenario.min_new_tokens must be between 0 and scenario.max_new_tokens (>= 1)")
    if p.null_keys < 0 or p.prompt_words < 1:
        raise ConfigError("scenario.null_keys must be >= 0 and scenario.prompt_words >= 1")
    if p.texts is not None and p.mode != "detect":
        raise ConfigError("scenario.texts: the user's own texts are tested in scenario.mode=detect")
