"""A small scenario used to drive HTTP adapters end to end through the real Runner.

Each instance asks for ``k`` sampled completions of a text prompt, one greedy chat completion, and
the log-likelihoods of two continuations, so one run exercises both endpoints, ``n``, seeds and
echoed log-probabilities. Scores are simple functions of the outputs, so two runs that received
the same outputs have the same scores and metrics.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.model import ModelAdapter
from harness.runner import Runner, RunSettings
from harness.scenario import Scenario, ScenarioContext, ScenarioParams
from harness.types import ChatMessage, Completion, GenerationParams, Instance, MetricSpec, Request

PROMPTS = (
    "The capital of France is",
    "The nurse said that",
    "Two plus two is",
    "The quick brown fox",
    "A cat sat on the",
    "The sky is",
)


@dataclass
class TinyParams(ScenarioParams):
    """How many instances, samples and tokens; whether to ask for log-likelihoods."""

    name: str = "tiny_http"
    n_instances: int = 6
    numbered: bool = False
    """Prefix prompts with the instance number, so every instance sends distinct requests."""
    k: int = 2
    max_new_tokens: int = 6
    temperature: float = 0.8
    loglikelihood: bool = True


class TinyHTTPScenario(Scenario):
    """Generation (text + chat) and log-likelihood requests with output-derived scores."""

    name = "tiny_http"
    version = "1"
    Params = TinyParams

    def instances(self) -> Iterable[Instance]:
        """``n_instances`` prompts cycling through :data:`PROMPTS`."""
        params: TinyParams = self.params  # type: ignore[assignment]
        for index in range(params.n_instances):
            prompt = PROMPTS[index % len(PROMPTS)]
            if params.numbered:
                prompt = f"Item {index}. {prompt}"
            yield Instance(id=f"i{index:03d}", input=prompt, metadata={"template": index % len(PROMPTS)})

    def requests(self, instance: Instance) -> list[Request]:
        """k samples of the text prompt, a greedy chat answer, and optionally two log-likelihoods."""
        params: TinyParams = self.params  # type: ignore[assignment]
        prompt = str(instance.input)
        requests = [
            Request(
                "generate",
                prompt,
                GenerationParams(
                    max_new_tokens=params.max_new_tokens, temperature=params.temperature, n=params.k
                ),
            ),
            Request(
                "generate",
                (ChatMessage("user", prompt),),
                GenerationParams(max_new_tokens=params.max_new_tokens, temperature=0.0),
            ),
        ]
        if params.loglikelihood:
            requests.append(Request("loglikelihood", prompt, continuations=(" yes", " no")))
        return requests

    def score(self, instance: Instance, outputs: Sequence[Completion]) -> dict[str, Any]:
        """Words per sample, chat answer length, and whether " yes" beats " no"."""
        scores: dict[str, Any] = {
            "sample_words": sum(len(t.split()) for t in outputs[0].texts) / len(outputs[0].texts),
            "chat_chars": len(outputs[1].texts[0]),
        }
        if len(outputs) > 2:
            scores["prefers_yes"] = float(outputs[2].logprobs[0] > outputs[2].logprobs[1])
        return scores

    def metrics(self) -> list[MetricSpec]:
        """Means of the per-instance scores."""
        return [
            MetricSpec(
                "sample_words", "mean words per sampled completion", unit="words", value="sample_words"
            ),
            MetricSpec(
                "chat_chars", "mean characters of the chat answer", unit="characters", value="chat_chars"
            ),
            MetricSpec(
                "prefers_yes", "share of prompts where ' yes' is likelier than ' no'", value="prefers_yes"
            ),
        ]


def run_tiny(
    adapter: ModelAdapter, run_dir: Path, seed: int = 0, **params: Any
) -> tuple[list[Any], int, int]:
    """Run the scenario against ``adapter`` into ``run_dir``; returns (metrics, n, n_errors)."""
    context = ScenarioContext(
        seed=seed, capabilities=adapter.capabilities(), model_info=adapter.info(), run_dir=run_dir
    )
    scenario = TinyHTTPScenario(TinyParams(**params), context)
    runner = Runner(scenario, adapter, run_dir, RunSettings(seed=seed, progress=False))
    runner.execute()
    return runner.aggregate()
