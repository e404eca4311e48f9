"""The ``simulated`` adapter: a model whose behaviour is a declared, seeded probability table.

Scenarios use it to prove that they recover planted truths. The table is a list of rules, read
from ``table`` (a JSON or YAML file) and/or given inline as ``rules``. The first rule whose
``match`` regular expression is found in the prompt text decides the answer:

* ``outputs: {text: probability, ...}`` – generation samples a text from this distribution
  (greedy decoding returns the most probable one). Texts may use ``{1}``, ``{name}`` etc. to
  insert the regex's groups. Log-likelihood of a continuation ``c`` is the log of the total
  probability of the outputs that start with ``c`` as whole words (the chance that the answer
  begins with c: " he" matches " he left" but not " her").
* ``recite: {documents: [...] | documents_file: path, rate: q, miss: text}`` – when the prompt
  ends a prefix of a document, the answer is, with probability q, the document's true next
  ``max_new_tokens`` whitespace tokens, and otherwise ``miss``. The draw is a seeded function of
  the prompt, so greedy decoding is deterministic and the planted rate holds across prompts.
* ``error_rate: p`` (on any rule, or top level) – the request fails with that probability,
  for fail-closed tests.

Randomness is a pure function of (seed, request, sample index, rule), so results do not depend
on batching, order, resumes or processes. Requests that share a ``sample_seed`` draw sample j from
the same uniform number (common random numbers): with the same outputs listed in the same order,
their answers differ only where their probabilities differ.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.errors import ConfigError
from harness.model import AdapterParams, ModelAdapter, ProgressCallback, cut_at_stop
from harness.types import Capability, Completion, ModelInfo, Request, prompt_text, stable_hash

LOG_FLOOR = 1e-12


@dataclass
class SimulatedParams(AdapterParams):
    """Parameters of the simulated adapter (see the module docstring for the rule format)."""

    name: str = "simulated"
    table: str | None = None
    rules: list[Any] = field(default_factory=list)
    default_output: str = ""
    error_rate: float = 0.0
    chat: bool = True
    loglikelihood: bool = True


def uniform(*parts: Any) -> float:
    """A deterministic uniform draw in [0, 1) from the hash of ``parts``."""
    digest = hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


@dataclass
class Rule:
    """One compiled rule of the table."""

    index: int
    pattern: re.Pattern[str]
    outputs: dict[str, float] | None
    recite: dict[str, Any] | None
    error_rate: float


def _load_table(params: SimulatedParams) -> list[dict[str, Any]]:
    rules: list[dict[str, Any]] = []
    if params.table:
        path = Path(params.table)
        if not path.exists():
            raise ConfigError(f"model.table: simulated table file {path} does not exist")
        text = path.read_text(encoding="utf-8")
        if path.suffix in {".yaml", ".yml"}:
            import yaml

            data = yaml.safe_load(text)
        else:
            data = json.loads(text)
        rules.extend(data["rules"] if isinstance(data, dict) else data)
    rules.extend(params.rules)
    return rules


def _compile(raw_rules: list[dict[str, Any]], where: str) -> list[Rule]:
    compiled = []
    for index, raw in enumerate(raw_rules):
        raw = dict(raw)
        try:
            pattern = re.compile(raw.get("match", ""), re.DOTALL)
        except re.error as exc:
            raise ConfigError(
                f"{where} rule {index}: bad regular expression {raw.get('match')!r}: {exc}"
            ) from exc
        outputs = raw.get("outputs")
        recite = raw.get("recite")
        if (outputs is None) == (recite is None):
            raise ConfigError(f"{where} rule {index}: give exactly one of 'outputs' or 'recite'")
        if outputs is not None:
            outputs = {str(k): float(v) for k, v in dict(outputs).items()}
            total = sum(outputs.values())
            if total <= 0 or any(v < 0 for v in outputs.values()):
                raise ConfigError(f"{where} rule {index}: output probabilities must be >= 0 and sum > 0")
            outputs = {k: v / total for k, v in outputs.items()}
            for text in outputs:
                _check_placeholders(text, pattern, f"{where} rule {index}")
        if recite is not None:
            recite = dict(recite)
            if "documents_file" in recite:
                path = Path(recite.pop("documents_file"))
                recite["documents"] = [
                    json.loads(line)["text"] for line in path.read_text().splitlines() if line
                ]
            if not recite.get("documents"):
                raise ConfigError(f"{where} rule {index}: 'recite' needs 'documents' or 'documents_file'")
        compiled.append(Rule(index, pattern, outputs, recite, float(raw.get("error_rate", 0.0))))
    return compiled


def _check_placeholders(text: str, pattern: re.Pattern[str], where: str) -> None:
    """Refuse an output whose braces are not placeholders of the rule's regex groups, naming it.

    ``{1}`` and ``{name}`` insert the match's groups; a literal brace is written ``{{`` / ``}}``.
    """
    groups = ["x"] * (pattern.groups + 1)
    try:
        text.format(*groups, **dict.fromkeys(pattern.groupindex, "x"))
    except (KeyError, IndexError, ValueError, AttributeError) as exc:
        raise ConfigError(
            f"{where}: output {text!r} has braces that are not a group of match {pattern.pattern!r} "
            f"({type(exc).__name__}: {exc}); write {{{{ and }}}} for literal braces, {{1}} or {{name}} "
            "for the match's groups"
        ) from None


class SimulatedAdapter(ModelAdapter):
    """A declared probability table posing as a model (see the module docstring)."""

    Params = SimulatedParams
    pipelined = False  # answers are drawn in Python: nothing to overlap with scoring

    def __init__(self, params: SimulatedParams) -> None:
        super().__init__(params)
        self.params: SimulatedParams = params
        self._raw = _load_table(params)
        self.rules = _compile(self._raw, params.table or "model.rules")

    def capabilities(self) -> frozenset[Capability]:
        """Generation always; chat and log-likelihood unless switched off (to test fallbacks)."""
        caps = {Capability.GENERATE}
        if self.params.chat:
            caps.add(Capability.CHAT)
        if self.params.loglikelihood:
            caps.add(Capability.LOGLIKELIHOOD)
        return frozenset(caps)

    def info(self) -> ModelInfo:
        """The table's hash is the weights hash: a different table is a different model."""
        behaviour = stable_hash([self._raw, self.params.default_output, self.params.error_rate])
        return ModelInfo(
            adapter="simulated",
            model_id=self.params.name,
            weights_hash=behaviour,
            extra={"behaviour": behaviour, "n_rules": len(self.rules)},
        )

    def _rule_for(self, text: str) -> tuple[Rule | None, re.Match[str] | None]:
        for rule in self.rules:
            match = rule.pattern.search(text)
            if match:
                return rule, match
        return None, None

    def _fails(self, rule: Rule | None, *key: Any) -> bool:
        rate = rule.error_rate if rule and rule.error_rate else self.params.error_rate
        return rate > 0 and uniform("error", *key) < rate

    def generate(
        self, requests: Sequence[Request], seed: int, progress: ProgressCallback | None = None
    ) -> list[Completion]:
        """Sample each request's n answers from its rule, seeded per (seed, request, sample)."""
        results = []
        for request in requests:
            text = prompt_text(request.prompt)
            rule, match = self._rule_for(text)
            key = request.key()
            if self._fails(rule, seed, key):
                results.append(Completion.failed("simulated failure (error_rate)"))
            else:
                greedy = request.params.temperature == 0
                stream, run_seed = request.sampling_key(), 0 if greedy else seed
                texts = [
                    self._answer(rule, match, text, request, uniform(run_seed, stream, j, "sample"))
                    for j in range(request.params.n)
                ]
                results.append(Completion(texts=[cut_at_stop(t, request.params.stop) for t in texts]))
            if progress:
                progress(1)
        return results

    def _answer(
        self, rule: Rule | None, match: re.Match[str] | None, text: str, request: Request, u: float
    ) -> str:
        if rule is None or match is None:
            return self.params.default_output
        if rule.recite is not None:
            return self._recite(rule, text, request)
        assert rule.outputs is not None
        if request.params.temperature == 0:
            choice = max(rule.outputs.items(), key=lambda kv: kv[1])[0]
        else:
            cumulative = 0.0
            choice = next(iter(rule.outputs))
            for candidate, probability in rule.outputs.items():
                cumulative += probability
                choice = candidate
                if u < cumulative:
                    break
        return choice.format(match.group(0), *match.groups(), **match.groupdict())

    def _recite(self, rule: Rule, text: str, request: Request) -> str:
        assert rule.recite is not None
        miss = str(rule.recite.get("miss", self.params.default_output))
        stripped = text.rstrip()
        for document in rule.recite["documents"]:
            if document.startswith(stripped) and len(document) > len(stripped):
                if uniform("recite", rule.index, stripped) < float(rule.recite.get("rate", 1.0)):
                    rest = document[len(stripped) :]
                    words = re.findall(r"\s*\S+", rest)[: request.params.max_new_tokens]
                    return "".join(words)
                return miss
        return miss

    def loglikelihood(
        self, requests: Sequence[Request], progress: ProgressCallback | None = None
    ) -> list[Completion]:
        """log P(the answer starts with the continuation) under the matching rule."""
        results = []
        for request in requests:
            text = prompt_text(request.prompt)
            rule, match = self._rule_for(text)
            if self._fails(rule, "loglik", request.key()):
                results.append(Completion.failed("simulated failure (error_rate)"))
            else:
                outputs = self._distribution(rule, match, text)
                best = max(outputs.items(), key=lambda kv: kv[1])[0] if outputs else ""
                logprobs, greedy, counts = [], [], []
                for continuation in request.continuations:
                    mass = sum(p for out, p in outputs.items() if _starts_with_word(out, continuation))
                    logprobs.append(math.log(max(mass, LOG_FLOOR)))
                    greedy.append(best.startswith(continuation))
                    counts.append(max(1, len(continuation.split())))
                results.append(Completion(logprobs=logprobs, greedy=greedy, token_counts=counts))
            if progress:
                progress(1)
        return results

    def _distribution(self, rule: Rule | None, match: re.Match[str] | None, text: str) -> dict[str, float]:
        if rule is None or match is None:
            return {self.params.default_output: 1.0}
        if rule.recite is not None:
            stripped = text.rstrip()
            miss = str(rule.recite.get("miss", self.params.default_output))
            for document in rule.recite["documents"]:
                if document.startswith(stripped) and len(document) > len(stripped):
                    rate = float(rule.recite.get("rate", 1.0))
                    return {document[len(stripped) :]: rate, miss: 1.0 - rate}
            return {miss: 1.0}
        assert rule.outputs is not None
        return {
            k.format(match.group(0), *match.groups(), **match.groupdict()): v for k, v in rule.outputs.items()
        }


def _starts_with_word(text: str, prefix: str) -> bool:
    """``text`` starts with ``prefix`` and does not continue the prefix's last word (" he" ≠ " her")."""
    if not text.startswith(prefix):
        return False
    rest = text[len(prefix) :]
    return not (rest[:1].isalnum() and prefix[-1:].isalnum())
