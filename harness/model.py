"""The ModelAdapter contract: how the runner talks to any model.

An adapter is constructed from its typed ``Params`` dataclass (validated from the Hydra
``model`` group), declares its capabilities, and answers batches of requests. Heavy imports
(torch, transformers, HTTP clients) stay inside the adapter module's functions so that
``harness list`` and start-up stay fast.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from harness.errors import AdapterError
from harness.types import Capability, Completion, ModelInfo, Request

ProgressCallback = Callable[[int], None]
"""Called by adapters with the number of requests finished since the last call."""


@dataclass
class AdapterParams:
    """Parameters every adapter accepts. Adapters subclass this with their own fields."""

    name: str = "model"
    batch_size: int = 16


class ModelAdapter(ABC):
    """Base class of model adapters (``hf``, ``openai``, ``replay``, ``simulated``, ...).

    Subclasses set ``Params`` to their dataclass and implement :meth:`capabilities`,
    :meth:`info` and :meth:`generate`; adapters with log-probabilities also implement
    :meth:`loglikelihood`. Both batch methods receive a whole window of requests and the
    run seed, return one :class:`Completion` per request in order, and must not raise for a
    single bad request: they return ``Completion.failed(message)`` for it instead.

    The runner calls them one at a time, from its generation thread when :attr:`pipelined` (the
    next window generates while the previous one is scored), so an adapter keeps no
    thread-bound state. ``progress(k)`` reports k finished requests; it raises once the run has
    failed or been interrupted, so an adapter that reports as it goes stops early.
    """

    Params: ClassVar[type[AdapterParams]] = AdapterParams
    deduplicate: ClassVar[bool] = True
    """False when answers depend on the instance, not only the request (replay by id)."""
    cacheable: ClassVar[bool] = True
    """False when answers are already stored elsewhere, so the response cache is pointless."""
    pipelined: ClassVar[bool] = True
    """True when generation mostly waits outside the interpreter (a server, a GPU, torch's native
    code), so the runner generates on its worker thread while it scores the previous window.
    Adapters that compute answers in Python set False: the two threads would only take turns
    with the interpreter lock (about 20% slower on the ``simulated`` adapter)."""

    def __init__(self, params: AdapterParams) -> None:
        self.params = params

    @abstractmethod
    def capabilities(self) -> frozenset[Capability]:
        """The capabilities this adapter offers for the configured model."""

    @abstractmethod
    def info(self) -> ModelInfo:
        """Provenance: adapter name, model id, revision or weights hash, dtype."""

    @abstractmethod
    def generate(
        self, requests: Sequence[Request], seed: int, progress: ProgressCallback | None = None
    ) -> list[Completion]:
        """Sample ``request.params.n`` continuations for every request, deterministically in seed."""

    def loglikelihood(
        self, requests: Sequence[Request], progress: ProgressCallback | None = None
    ) -> list[Completion]:
        """Summed log-probability of each continuation given its prompt."""
        raise AdapterError(f"adapter {type(self).__name__} does not support log-likelihoods")

    def execution(self) -> dict[str, Any]:
        """How the adapter ran the requests (e.g. parallel CPU streams), recorded in the manifest."""
        return {}

    def close(self) -> None:  # noqa: B027 (optional hook: most adapters hold nothing to release)
        """Release resources (processes, connections). Called once at the end of a run."""


def cut_at_stop(text: str, stop: Sequence[str]) -> str:
    """``text`` up to (not including) the earliest stop sequence, for adapters that cut client-side."""
    cut = len(text)
    for marker in stop:
        position = text.find(marker)
        if position != -1:
            cut = min(cut, position)
    return text[:cut]
