"""The runner: plan requests, deduplicate, use the cache, batch, stream results, resume.

Instances are processed in windows of ``window_size`` so memory stays flat however large the
dataset is. Within a window the runner drops instances that a previous (killed) run already
finished, sends every distinct request once, serves what the response cache already knows, and
hands the rest to the adapter as one batch (the adapter sorts by length and batches). Each
finished instance is scored and appended to ``samples.jsonl``.

Windows are pipelined: while the model generates window k+1 (on one worker thread, one adapter
call at a time, as before), the main thread scores window k and writes it, then plans window
k+2. Model time and the engine's own work (scoring, writing, planning) overlap instead of
adding up; for an API model this keeps the requests flowing while the previous answers are
scored. Adapters that compute their answers in Python (``ModelAdapter.pipelined`` false:
``simulated``, ``replay``) generate on the main thread instead, since two threads would only
take turns with the interpreter lock. Cache lookups for a window happen after the previous
window's answers are cached, so a request repeated across windows is still generated once. A
failure leaves every window before it written, as without pipelining; a generation still
running when the run fails or is interrupted is stopped at its adapter's next progress report,
so no more requests go out.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import random
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field, fields, replace
from itertools import islice
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from harness.aggregate import RESERVED_COLUMNS, sample_frame
from harness.background import BackgroundWorker
from harness.errors import ConfigError, DataError, HarnessError
from harness.model import ModelAdapter
from harness.scenario import Scenario
from harness.store import ResponseCache, RunDirectory
from harness.types import (
    Completion,
    GenerationParams,
    Instance,
    MetricValue,
    Request,
    stable_hash,
    to_jsonable,
)


@dataclass
class RunSettings:
    """Engine settings for one scenario run (from the top level of the Hydra config)."""

    seed: int = 0
    limit: int | None = None
    limit_mode: str = "random"
    window_size: int = 1024
    progress: bool = True
    retry_errors: bool = True


@dataclass
class RunResult:
    """What one scenario run produced."""

    run_dir: Path
    metrics: list[MetricValue]
    n_instances: int
    n_errors: int
    status: str
    notes: list[str] = field(default_factory=list)
    """The scenario's notes for readers (verdicts, caveats), as in metrics.json."""


def select_instances(
    instances: Iterable[Instance], limit: int | None, mode: str, seed: int
) -> Iterator[Instance]:
    """All instances, the first ``limit``, or a seeded uniform sample of ``limit`` in original order.

    The random mode is reservoir sampling (Algorithm R), so only ``limit`` instances are ever
    held in memory.
    """
    if limit is None:
        yield from instances
        return
    if limit < 1:
        raise ConfigError(f"limit must be a positive integer, got {limit}")
    if mode == "first":
        yield from islice(instances, limit)
        return
    if mode != "random":
        raise ConfigError(f"limit_mode must be 'random' or 'first', got {mode!r}")
    rng = random.Random(seed)
    reservoir: list[tuple[int, Instance]] = []
    for index, instance in enumerate(instances):
        if index < limit:
            reservoir.append((index, instance))
        else:
            slot = rng.randint(0, index)
            if slot < limit:
                reservoir[slot] = (index, instance)
    for _, instance in sorted(reservoir, key=lambda pair: pair[0]):
        yield instance


class Fingerprint:
    """An incremental SHA-256 over JSON values (dataset and request-plan fingerprints)."""

    def __init__(self) -> None:
        self._hash = hashlib.sha256()

    def update(self, value: Any) -> None:
        """Add one value."""
        self._hash.update(json.dumps(to_jsonable(value), sort_keys=True, default=str).encode())
        self._hash.update(b"\n")

    def hexdigest(self) -> str:
        """The fingerprint so far."""
        return self._hash.hexdigest()


@dataclass
class WindowJob:
    """One window on its way through the runner: planned, partly answered by the cache, generating."""

    todo: Sequence[tuple[Instance, list[Request]]]
    answers: dict[str, Completion]
    pending: dict[str, Request]
    generation: Future[Generated] | None


@dataclass
class Generated:
    """What one window's adapter calls returned, how long they took, and the error that ended them."""

    answers: dict[str, Completion]
    seconds: float
    failure: Exception | None = None


class GenerationCancelled(HarnessError):
    """Raised inside a generation whose run has failed or been interrupted, to stop it early."""


class Runner:
    """Runs one scenario against one adapter into one run directory."""

    def __init__(
        self,
        scenario: Scenario,
        adapter: ModelAdapter,
        run_dir: Path,
        settings: RunSettings,
        cache: ResponseCache | None = None,
    ) -> None:
        self.scenario = scenario
        self.adapter = adapter
        self.store = RunDirectory(run_dir)
        self.settings = settings
        self.cache = cache if adapter.cacheable else None
        self.model_identity = adapter.info().identity()  # part of every response's cache key
        self._decodings: dict[tuple[str, GenerationParams | None], dict[str, Any]] = {}
        self._cancel = threading.Event()  # set when a run fails: its running generation stops
        self.stats = {
            "requests_sent": 0,
            "requests_cached": 0,
            "requests_deduplicated": 0,
            "errors_retried": 0,
            "generation_s": 0.0,
        }

    def execute(self) -> tuple[int, int, str, str]:
        """Generate and score every unfinished instance; returns counts and fingerprints.

        Returns (instances seen, instances errored in this session, dataset fingerprint,
        request-plan fingerprint).
        """
        self.store.repair_samples()
        if self.settings.retry_errors:  # errored instances are run again; finished ones never
            self.stats["errors_retried"] = self.store.drop_errored_samples()
        finished = self.store.finished_ids()
        dataset_fp, plan_fp = Fingerprint(), Fingerprint()
        seen_ids: set[str] = set()
        n_seen = n_errors = 0
        bar = tqdm(
            total=0,
            unit="req",
            desc=f"{self.scenario.name}",
            disable=not self.settings.progress,
            dynamic_ncols=True,
        )
        worker = BackgroundWorker("harness-generate")
        self._cancel.clear()
        previous: WindowJob | None = None
        try:
            selected = select_instances(
                self.scenario.instances(), self.settings.limit, self.settings.limit_mode, self.settings.seed
            )
            while True:
                try:
                    window = list(islice(selected, self.settings.window_size))
                    todo = self._plan(window, seen_ids, finished, dataset_fp, plan_fp)
                except BaseException as exc:
                    # A data or planning error in window k+1: window k is written (and its answers
                    # cached) before the error surfaces, as without pipelining.
                    if previous:
                        self._store_before_failing(previous, wait=not isinstance(exc, KeyboardInterrupt))
                    raise
                if not window:
                    break
                n_seen += len(window)
                if not todo:
                    continue
                # Generate this window while the previous one is scored and written.
                previous_answers = self._collect(previous) if previous else {}
                job = self._start_window(todo, bar, worker)
                if previous:
                    n_errors += self._score_and_store(previous.todo, previous_answers)
                previous = job
            if previous:
                n_errors += self._score_and_store(previous.todo, self._collect(previous))
            if n_seen == 0:
                raise DataError(
                    f"scenario {self.scenario.name} has no instances to evaluate{_data_hint(self.scenario)}"
                )
        except BaseException:
            self._cancel.set()  # a generation still running stops at its next progress report
            raise
        finally:
            bar.close()
            worker.close()
        return n_seen, n_errors, dataset_fp.hexdigest(), plan_fp.hexdigest()

    def _plan(
        self,
        window: Sequence[Instance],
        seen_ids: set[str],
        finished: set[str],
        dataset_fp: Fingerprint,
        plan_fp: Fingerprint,
    ) -> list[tuple[Instance, list[Request]]]:
        """The window's requests, fingerprinted; instances finished by an earlier session are left out."""
        todo: list[tuple[Instance, list[Request]]] = []
        for instance in window:
            if instance.id in seen_ids:
                raise HarnessError(
                    f"scenario {self.scenario.name} produced the instance id {instance.id!r} twice; "
                    "instance ids must be unique (check the dataset for duplicate rows)"
                )
            seen_ids.add(instance.id)
            requests = [replace(r, instance_id=instance.id) for r in self.scenario.requests(instance)]
            dataset_fp.update([instance.id, instance.input, instance.references, instance.metadata])
            plan_fp.update([r.key() for r in requests])
            self._note_decodings(requests)
            if instance.id not in finished:
                todo.append((instance, requests))
        return todo

    def _store_before_failing(self, job: WindowJob, wait: bool) -> None:
        """Score and write a window on the way out of a failure (waiting for its generation if ``wait``)."""
        if not wait and job.generation is not None and not job.generation.done():
            return
        with contextlib.suppress(Exception):  # the failure being raised is the one to report
            self._score_and_store(job.todo, self._collect(job))

    def _note_decodings(self, requests: Sequence[Request]) -> None:
        for request in requests:
            params = request.params if request.kind == "generate" else None
            if (request.kind, params) not in self._decodings:
                self._decodings[request.kind, params] = {"kind": request.kind, **to_jsonable(params or {})}

    @property
    def decoding(self) -> list[dict[str, Any]]:
        """The distinct decoding settings of every request of the run, finished earlier or now.

        A comparability key in the manifest; collected while planning, so no second pass over
        samples.jsonl is needed.
        """
        return list(self._decodings.values())

    def _request_id(self, request: Request) -> str:
        if self.adapter.deduplicate:
            return request.key()
        return f"{request.instance_id}\x00{request.key()}"

    def _cache_key(self, request: Request) -> str:
        greedy = request.kind == "loglikelihood" or request.params.temperature == 0
        return ResponseCache.key(self.model_identity, request.key(), 0 if greedy else self.settings.seed)

    def _start_window(
        self, todo: Sequence[tuple[Instance, list[Request]]], bar: tqdm, worker: BackgroundWorker
    ) -> WindowJob:
        """Deduplicate, answer what the cache knows, and start generating the rest on ``worker``."""
        unique: dict[str, Request] = {}
        total_requests = 0
        for _, requests in todo:
            for request in requests:
                total_requests += 1
                unique.setdefault(self._request_id(request), request)
        self.stats["requests_deduplicated"] += total_requests - len(unique)
        answers: dict[str, Completion] = {}
        if self.cache is not None:
            cache_keys = {rid: self._cache_key(r) for rid, r in unique.items()}
            cached = self.cache.get_many(cache_keys.values())
            for rid, key in cache_keys.items():
                if key in cached:
                    answers[rid] = cached[key]
            self.stats["requests_cached"] += len(answers)
        pending = {rid: r for rid, r in unique.items() if rid not in answers}
        bar.total += len(unique)
        bar.update(len(answers))
        generation: Future[Generated] | None = None
        if pending and self.adapter.pipelined:
            generation = worker.submit(self._generate, pending, bar)
        elif pending:  # answers computed in Python: generating here is faster than taking turns
            generation = Future()
            generation.set_result(self._generate(pending, bar))
        return WindowJob(todo, answers, pending, generation)

    def _generate(self, pending: dict[str, Request], bar: tqdm) -> Generated:
        """The adapter's answers to ``pending``, one call per request kind (runs on the worker thread).

        A failure of the second call keeps the first call's answers, to be cached before it is
        raised.
        """

        def progress(finished: int) -> None:
            if self._cancel.is_set():
                raise GenerationCancelled("the run failed or was interrupted; generation stopped")
            bar.update(finished)

        started = time.perf_counter()
        fresh: dict[str, Completion] = {}
        try:
            for kind in ("generate", "loglikelihood"):
                ids = [rid for rid, r in pending.items() if r.kind == kind]
                if not ids:
                    continue
                batch = [pending[rid] for rid in ids]
                if kind == "generate":
                    completions = self.adapter.generate(batch, self.settings.seed, progress=progress)
                else:
                    completions = self.adapter.loglikelihood(batch, progress=progress)
                if len(completions) != len(batch):
                    raise HarnessError(
                        f"adapter {type(self.adapter).__name__} returned {len(completions)} completions "
                        f"for {len(batch)} requests"
                    )
                fresh.update(zip(ids, completions, strict=True))
        except Exception as exc:
            return Generated(fresh, time.perf_counter() - started, exc)
        return Generated(fresh, time.perf_counter() - started)

    def _collect(self, job: WindowJob) -> dict[str, Completion]:
        """Wait for the window's generation, cache its answers, and return all of the window's answers."""
        if job.generation is None:
            return job.answers
        generated = job.generation.result()
        self.stats["requests_sent"] += len(generated.answers)
        self.stats["generation_s"] += generated.seconds
        if self.cache is not None:
            fresh = generated.answers
            self.cache.put_many({self._cache_key(job.pending[rid]): c for rid, c in fresh.items()})
        if generated.failure is not None:
            raise generated.failure
        return {**job.answers, **generated.answers}

    def _score_and_store(
        self, todo: Sequence[tuple[Instance, list[Request]]], answers: dict[str, Completion]
    ) -> int:
        records: list[dict[str, Any]] = []
        scorable: list[tuple[int, Instance, list[Completion]]] = []
        for instance, requests in todo:
            outputs = [answers[self._request_id(r)] for r in requests]
            failures = [c.error for c in outputs if c.error is not None]
            records.append(
                {
                    "id": instance.id,
                    "input": instance.input,
                    "references": instance.references,
                    "metadata": instance.metadata,
                    "requests": [_request_record(r) for r in requests],
                    "outputs": [_output_record(c) for c in outputs],
                    "scores": {},
                    "error": f"request failed: {failures[0]}" if failures else None,
                }
            )
            if not failures:
                scorable.append((len(records) - 1, instance, outputs))
        for index, scores in self._score(scorable):
            if isinstance(scores, Exception):
                records[index]["error"] = f"scoring failed: {type(scores).__name__}: {scores}"
            else:
                _check_score_keys(self.scenario.name, scores, records[index]["metadata"])
                records[index]["scores"] = scores
        self.store.append_samples(records)
        return sum(1 for r in records if r["error"] is not None)

    def _score(self, scorable: list[tuple[int, Instance, list[Completion]]]) -> list[tuple[int, Any]]:
        if not scorable:
            return []
        items = [(instance, outputs) for _, instance, outputs in scorable]
        try:
            results = self.scenario.score_batch(items)
            return [(index, scores) for (index, _, _), scores in zip(scorable, results, strict=True)]
        except HarnessError:
            raise
        except Exception:  # isolate the failing instance(s); the others are still scored
            isolated: list[tuple[int, Any]] = []
            for index, instance, outputs in scorable:
                try:
                    isolated.append((index, self.scenario.score_batch([(instance, outputs)])[0]))
                except HarnessError:
                    raise
                except Exception as exc:
                    isolated.append((index, exc))
            return isolated

    def aggregate(self) -> tuple[list[MetricValue], int, int]:
        """Compute metrics from everything in samples.jsonl and write metrics.json and artifacts."""
        frame = sample_frame(self.store.path)
        metrics = self.scenario.aggregate(frame)
        n_errors = int(frame["error"].notna().sum()) if len(frame) else 0
        self.store.write_metrics(
            {
                "scenario": self.scenario.name,
                "protocol": self.scenario.protocol(),
                "n_instances": len(frame),
                "n_errors": n_errors,
                "metrics": metrics,
                "notes": self.scenario.notes(metrics),
            }
        )
        self.scenario.write_artifacts(frame, metrics, self.store.path)
        return metrics, len(frame), n_errors


DATA_PARAMS = ("data", "dataset", "path", "data_files", "file")
"""Scenario parameters that usually name the data source: an empty-data error names their values."""


def _data_hint(scenario: Scenario) -> str:
    """``: its data is empty (scenario.data=...)`` for the data parameters the scenario sets."""
    given = [
        f"scenario.{name}={getattr(scenario.params, name)}"
        for name in DATA_PARAMS
        if getattr(scenario.params, name, None)
    ]
    where = f" ({', '.join(given)})" if given else ""
    return f": its data is empty{where}; give a file or dataset with at least one row"


def _request_record(request: Request) -> dict[str, Any]:
    record = request.payload()
    record.pop("continuations" if request.kind == "generate" else "params", None)
    return record


OUTPUT_FIELDS = tuple(f.name for f in fields(Completion))
"""The fields of a completion that samples.jsonl records when they are not empty."""


def _output_record(completion: Completion) -> dict[str, Any]:
    """The completion's non-empty fields (sequences copied as lists; numpy scalars converted when written)."""
    record: dict[str, Any] = {}
    for name in OUTPUT_FIELDS:
        value = getattr(completion, name)
        if isinstance(value, list | tuple):
            if value:
                record[name] = list(value)
        elif value is not None:
            record[name] = value
    return record


def _check_score_keys(scenario: str, scores: dict[str, Any], metadata: dict[str, Any]) -> None:
    clash = set(scores) & (set(metadata) | set(RESERVED_COLUMNS))
    if clash:
        raise HarnessError(
            f"scenario {scenario} returned score keys that clash with metadata or reserved columns: "
            f"{sorted(clash)}; rename them"
        )


def config_fingerprint(config: dict[str, Any]) -> str:
    """Hash of the parts of a configuration that decide a run's results (for safe resumes)."""
    return stable_hash(config)
