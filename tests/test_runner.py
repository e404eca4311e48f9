"""The runner: deduplication, the response cache, fail-closed errors, subsampling and resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import pytest

from harness.adapters.simulated import SimulatedAdapter, SimulatedParams
from harness.config import HarnessSettings
from harness.errors import ConfigError, DataError, HarnessError
from harness.evaluate import ScenarioRun, run_scenario
from harness.runner import Runner, RunSettings, select_instances
from harness.scenario import ScenarioContext
from harness.store import ResponseCache
from harness.types import Completion, GenerationParams, Instance, Request
from tests.helpers import CoinParams, CoinScenario, coin_rules

REPO = Path(__file__).resolve().parent.parent


class CountingAdapter(SimulatedAdapter):
    """A simulated adapter that records how many requests reach it."""

    def __init__(self, params: SimulatedParams) -> None:
        super().__init__(params)
        self.sent: list[Request] = []

    def generate(self, requests: Sequence[Request], seed: int, progress=None) -> list[Completion]:
        self.sent.extend(requests)
        return super().generate(requests, seed, progress)


class DuplicatePromptScenario(CoinScenario):
    """Every instance asks one of only four distinct prompts."""

    def instances(self):
        for i in range(self.params.n):
            yield Instance(
                id=f"d{i}", input=f"Flip coin {i % 4}:", metadata={"pair": i // 2, "parity": i % 2}
            )


def _scenario(cls=CoinScenario, n: int = 40, k: int = 5, adapter=None) -> CoinScenario:
    caps = adapter.capabilities() if adapter else frozenset()
    return cls(CoinParams(n=n, k=k), ScenarioContext(seed=0, capabilities=caps, bootstrap_resamples=300))


def test_identical_requests_are_sent_once_and_cached_across_runs(tmp_path: Path) -> None:
    adapter = CountingAdapter(SimulatedParams(rules=coin_rules(0.5)))
    cache = ResponseCache(tmp_path / "cache.sqlite")
    runner = Runner(
        _scenario(DuplicatePromptScenario), adapter, tmp_path / "a", RunSettings(progress=False), cache
    )
    runner.execute()
    assert len(adapter.sent) == 4
    assert runner.stats["requests_deduplicated"] == 36
    second = Runner(
        _scenario(DuplicatePromptScenario), adapter, tmp_path / "b", RunSettings(progress=False), cache
    )
    second.execute()
    assert len(adapter.sent) == 4, "a warm cache must not send anything again"
    assert second.stats["requests_cached"] == 4


def test_failed_requests_are_counted_and_never_scored(tmp_path: Path) -> None:
    adapter = SimulatedAdapter(SimulatedParams(rules=coin_rules(1.0), error_rate=0.3))
    runner = Runner(_scenario(n=200, adapter=adapter), adapter, tmp_path, RunSettings(progress=False))
    runner.execute()
    metrics, n, n_errors = runner.aggregate()
    records = [json.loads(line) for line in (tmp_path / "samples.jsonl").read_text().splitlines()]
    errored = [r for r in records if r["error"]]
    assert n == 200 and n_errors == len(errored)
    assert 35 <= n_errors <= 85  # 30% of 200, well inside sampling error
    assert all(r["scores"] == {} and r["error"].startswith("request failed") for r in errored)
    overall = next(m for m in metrics if m.name == "heads_rate" and m.group is None)
    assert overall.value == 1.0, "failures must not be scored as tails (or as anything)"
    assert overall.n == 200 - n_errors and overall.n_errors == n_errors


def test_seeded_subsampling_is_reproducible_and_keeps_order() -> None:
    items = [Instance(id=str(i), input="x") for i in range(100)]
    first = [i.id for i in select_instances(iter(items), 10, "random", seed=7)]
    again = [i.id for i in select_instances(iter(items), 10, "random", seed=7)]
    other = [i.id for i in select_instances(iter(items), 10, "random", seed=8)]
    assert first == again and first != other and len(first) == 10
    assert [int(x) for x in first] == sorted(int(x) for x in first)
    assert [i.id for i in select_instances(iter(items), 3, "first", seed=0)] == ["0", "1", "2"]


def test_duplicate_instance_ids_are_refused(tmp_path: Path) -> None:
    class Twice(CoinScenario):
        def instances(self):
            yield Instance(id="same", input="Flip coin 1:", metadata={"pair": 0, "parity": 0})
            yield Instance(id="same", input="Flip coin 2:", metadata={"pair": 0, "parity": 0})

    adapter = SimulatedAdapter(SimulatedParams(rules=coin_rules(0.5)))
    with pytest.raises(Exception, match="instance id 'same' twice"):
        Runner(_scenario(Twice), adapter, tmp_path, RunSettings(progress=False)).execute()


KILLABLE = """
import sys, threading
from pathlib import Path
from harness.adapters.simulated import SimulatedAdapter, SimulatedParams
from harness.config import HarnessSettings
from harness.evaluate import ScenarioRun, run_scenario
from harness.scenario import ScenarioContext
from tests.helpers import CoinParams, CoinScenario, coin_rules

class Blocking(SimulatedAdapter):  # says so and blocks (until killed) at its call number argv[2]

    calls = 0

    def generate(self, requests, seed, progress=None):
        self.calls += 1
        if self.calls == int(sys.argv[2]):
            print("blocked", flush=True)
            threading.Event().wait()
        return super().generate(requests, seed, progress)

adapter = Blocking(SimulatedParams(rules=coin_rules(0.3)))
settings = HarnessSettings(seed=5, window_size=10, progress=False, bootstrap_resamples=500)
context = ScenarioContext(seed=5, capabilities=adapter.capabilities(), bootstrap_resamples=500)
scenario = CoinScenario(CoinParams(n=300, k=7), context)
run_scenario(ScenarioRun(scenario, adapter, Path(sys.argv[1]), {}, settings), cache=None)
"""


def test_a_killed_run_resumes_to_identical_metrics(tmp_path: Path) -> None:
    script = tmp_path / "killable.py"
    script.write_text(KILLABLE)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    killed, clean = tmp_path / "killed", tmp_path / "clean"
    process = subprocess.Popen(
        [sys.executable, str(script), str(killed), "8"], env=env, cwd=REPO, stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None and process.stdout.readline() == "blocked\n"
    process.send_signal(signal.SIGKILL)
    process.wait()
    samples = killed / "samples.jsonl"
    # generating window 8 (on the main thread, as for any simulated adapter): windows 1-6 are written
    assert len(samples.read_text().splitlines()) == 60, "the run is killed partway"
    assert json.loads((killed / "run.json").read_text())["status"] == "running"

    subprocess.run([sys.executable, str(script), str(killed), "0"], env=env, cwd=REPO, check=True)
    subprocess.run([sys.executable, str(script), str(clean), "0"], env=env, cwd=REPO, check=True)
    records = [json.loads(line) for line in samples.read_text().splitlines()]
    assert len(records) == 300 and len({r["id"] for r in records}) == 300, "no instance lost or redone"
    resumed_metrics = json.loads((killed / "metrics.json").read_text())["metrics"]
    clean_metrics = json.loads((clean / "metrics.json").read_text())["metrics"]
    assert resumed_metrics == clean_metrics
    resumed_manifest = json.loads((killed / "run.json").read_text())
    assert resumed_manifest["status"] == "completed"
    decoding = {"kind": "generate", "max_new_tokens": 4, "temperature": 1.0, "top_p": 1.0, "n": 7, "stop": []}
    assert resumed_manifest["decoding"] == [decoding], "instances finished before the kill count too"


def test_resume_refuses_a_different_configuration(tmp_path: Path) -> None:
    adapter = SimulatedAdapter(SimulatedParams(rules=coin_rules(0.5)))
    settings = HarnessSettings(progress=False, bootstrap_resamples=100)
    run_scenario(ScenarioRun(_scenario(adapter=adapter), adapter, tmp_path, {}, settings), cache=None)
    other = SimulatedAdapter(SimulatedParams(rules=coin_rules(0.9)))
    with pytest.raises(Exception, match="different configuration"):
        run_scenario(ScenarioRun(_scenario(adapter=other), other, tmp_path, {}, settings), cache=None)
    overwrite = HarnessSettings(progress=False, bootstrap_resamples=100, overwrite=True)
    result = run_scenario(ScenarioRun(_scenario(adapter=other), other, tmp_path, {}, overwrite), cache=None)
    assert result.n_instances == 40


def test_a_stop_list_from_a_plugin_becomes_a_hashable_tuple() -> None:
    params = GenerationParams(stop=["\n", "###"])  # type: ignore[arg-type]  # a plugin passing a list
    assert params.stop == ("\n", "###") and hash(params) == hash(GenerationParams(stop=("\n", "###")))


class GatedAdapter(SimulatedAdapter):
    """Counts the generation calls that have started, and records the thread of each."""

    pipelined = True  # stands in for a model that waits outside the interpreter

    def __init__(self, params: SimulatedParams, fail_call: int | None = None) -> None:
        super().__init__(params)
        self.started = 0
        self.changed = threading.Condition()
        self.threads: list[str] = []
        self.fail_call = fail_call

    def generate(self, requests: Sequence[Request], seed: int, progress=None) -> list[Completion]:
        self.threads.append(threading.current_thread().name)
        with self.changed:
            self.started += 1
            self.changed.notify_all()
        if self.started == self.fail_call:
            raise RuntimeError("the model server went away")
        return super().generate(requests, seed, progress)


class SignallingScenario(CoinScenario):
    """Scoring a window (but the last) waits until the next window's generation has started."""

    adapter: GatedAdapter
    windows = 3

    def score_batch(self, items):
        self.scored = getattr(self, "scored", 0) + 1
        if self.scored < self.windows:  # a sequential runner would time out here
            with self.adapter.changed:
                next_started = self.adapter.changed.wait_for(
                    lambda: self.adapter.started > self.scored, timeout=20
                )
            self.overlapped = [*getattr(self, "overlapped", []), next_started]
        return super().score_batch(items)


def _gated_runner(
    tmp_path: Path, fail_call: int | None = None
) -> tuple[Runner, GatedAdapter, SignallingScenario]:
    """18 distinct instances in windows of 6: three adapter calls."""
    adapter = GatedAdapter(SimulatedParams(rules=coin_rules(0.5)), fail_call)
    scenario = _scenario(SignallingScenario, n=18)
    scenario.adapter = adapter
    settings = RunSettings(progress=False, window_size=6)
    cache = ResponseCache(tmp_path / "cache.sqlite")
    return Runner(scenario, adapter, tmp_path, settings, cache), adapter, scenario


def _sample_ids(run_dir: Path) -> list[str]:
    return [json.loads(line)["id"] for line in (run_dir / "samples.jsonl").read_text().splitlines()]


def test_each_window_is_generated_while_the_previous_one_is_scored(tmp_path: Path) -> None:
    runner, adapter, scenario = _gated_runner(tmp_path)
    runner.execute()
    assert scenario.overlapped == [True, True]
    assert adapter.threads == ["harness-generate"] * 3
    assert _sample_ids(tmp_path) == [f"c{i}" for i in range(18)]
    assert runner.stats["requests_sent"] == 18


def test_an_adapter_computing_in_python_generates_on_the_main_thread(tmp_path: Path) -> None:
    class Recording(SimulatedAdapter):  # pipelined = False, as every simulated adapter
        def generate(self, requests, seed, progress=None):
            self.thread = threading.current_thread().name
            return super().generate(requests, seed, progress)

    adapter = Recording(SimulatedParams(rules=coin_rules(0.5)))
    runner = Runner(_scenario(n=12), adapter, tmp_path, RunSettings(progress=False, window_size=4))
    runner.execute()
    assert adapter.thread == "MainThread" and _sample_ids(tmp_path) == [f"c{i}" for i in range(12)]


def test_a_failing_window_leaves_the_windows_before_it_written(tmp_path: Path) -> None:
    runner, _, _ = _gated_runner(tmp_path, fail_call=3)
    with pytest.raises(RuntimeError, match="model server went away"):
        runner.execute()
    assert _sample_ids(tmp_path) == [f"c{i}" for i in range(12)]


def test_a_request_repeated_in_a_later_window_is_generated_once(tmp_path: Path) -> None:
    # 24 instances asking 4 distinct prompts, in windows of 6: window 1 sends all four, and the
    # later windows find them in the cache although window 1 was still generating when they were planned.
    adapter = CountingAdapter(SimulatedParams(rules=coin_rules(0.5)))
    settings = RunSettings(progress=False, window_size=6)
    cache = ResponseCache(tmp_path / "cache.sqlite")
    runner = Runner(_scenario(DuplicatePromptScenario, n=24), adapter, tmp_path, settings, cache)
    runner.execute()
    assert len(adapter.sent) == 4
    assert runner.stats["requests_cached"] == 12 and runner.stats["requests_deduplicated"] == 8


class ProgressPerRequestAdapter(SimulatedAdapter):
    """Answers one request at a time, reporting progress after each.

    In its third call (the third window) it answers ten requests, says so, and waits until the
    run has been cancelled before reporting progress again; ``ended`` is set when it returns.
    """

    pipelined = True

    def __init__(self, params: SimulatedParams) -> None:
        super().__init__(params)
        self.answered = self.calls = 0
        self.third_window_started = threading.Event()
        self.ended = threading.Event()
        self.cancelled = threading.Event()  # the runner's: set when its run fails

    def generate(self, requests: Sequence[Request], seed: int, progress=None) -> list[Completion]:
        self.calls += 1
        completions = []
        try:
            for index, request in enumerate(requests):
                completions += super().generate([request], seed)
                self.answered += 1
                if self.calls == 3 and index == 9:
                    self.third_window_started.set()
                    assert self.cancelled.wait(timeout=60), "the run was never cancelled"
                if progress:
                    progress(1)
        finally:
            self.ended.set()
        return completions


class FailsOnSecondWindow(CoinScenario):
    """Scoring the second window fails with a harness error once the third window is generating."""

    adapter: ProgressPerRequestAdapter

    def score_batch(self, items):
        self.windows_scored = getattr(self, "windows_scored", 0) + 1
        if self.windows_scored == 2:
            assert self.adapter.third_window_started.wait(timeout=60)
            raise HarnessError("scoring contract violated")
        return super().score_batch(items)


def test_a_failing_run_stops_the_generation_still_running(tmp_path: Path) -> None:
    adapter = ProgressPerRequestAdapter(SimulatedParams(rules=coin_rules(0.5)))
    scenario = _scenario(FailsOnSecondWindow, n=300)
    scenario.adapter = adapter
    runner = Runner(scenario, adapter, tmp_path, RunSettings(progress=False, window_size=100))
    adapter.cancelled = runner._cancel
    with pytest.raises(HarnessError, match="scoring contract violated"):
        runner.execute()
    assert adapter.ended.wait(timeout=60)
    assert adapter.answered == 210, "no request goes out once the run has failed"
    assert _sample_ids(tmp_path) == [f"c{i}" for i in range(100)]


class DuplicateInThirdWindow(CoinScenario):
    """Instance c12 appears twice: the error surfaces while window 2 (c6..c11) is generating."""

    def instances(self):
        yield from super().instances()
        yield Instance(id="c12", input="Flip coin again:", metadata={"pair": 6, "parity": 0})


def test_an_error_while_planning_a_window_leaves_the_windows_before_it_written(tmp_path: Path) -> None:
    adapter = SimulatedAdapter(SimulatedParams(rules=coin_rules(0.5)))
    runner = Runner(
        _scenario(DuplicateInThirdWindow, n=16), adapter, tmp_path, RunSettings(progress=False, window_size=6)
    )
    with pytest.raises(HarnessError, match="instance id 'c12' twice"):
        runner.execute()
    assert _sample_ids(tmp_path) == [f"c{i}" for i in range(12)]


class AskAndScore(CoinScenario):
    """Each instance asks for a generation and for the log-likelihood of " heads"."""

    def requests(self, instance: Instance) -> list[Request]:
        heads = Request("loglikelihood", instance.input, continuations=(" heads",))
        return [*super().requests(instance), heads]


class LoglikelihoodFails(SimulatedAdapter):
    def loglikelihood(self, requests: Sequence[Request], progress=None) -> list[Completion]:
        raise RuntimeError("the scoring endpoint is down")


def test_answers_of_the_first_request_kind_are_cached_when_the_second_fails(tmp_path: Path) -> None:
    adapter = LoglikelihoodFails(SimulatedParams(rules=coin_rules(0.5)))
    cache = ResponseCache(tmp_path / "cache.sqlite")
    scenario = _scenario(AskAndScore, n=4, adapter=adapter)
    runner = Runner(scenario, adapter, tmp_path / "run", RunSettings(progress=False), cache)
    with pytest.raises(RuntimeError, match="scoring endpoint is down"):
        runner.execute()
    generations = [
        replace(r, instance_id=i.id) for i in scenario.instances() for r in scenario.requests(i)[:1]
    ]
    keys = [runner._cache_key(r) for r in generations]
    assert set(cache.get_many(keys)) == set(keys) and runner.stats["requests_sent"] == 4


def test_request_records_are_independent_copies_and_empty_outputs_are_left_out() -> None:
    from harness.runner import _output_record, _request_record
    from harness.types import ChatMessage

    request = Request("generate", (ChatMessage("user", "hi"),), GenerationParams(max_new_tokens=4))
    key = request.key()
    first = _request_record(request)
    first["params"]["n"] = 99
    first["prompt"][0]["content"] = "changed"
    assert (
        _request_record(request)
        == {
            "kind": "generate",
            "prompt": [{"role": "user", "content": "hi"}],
            "params": {"max_new_tokens": 4, "temperature": 0.0, "top_p": 1.0, "n": 1, "stop": []},
        }
        and request.key() == key
    )
    assert _output_record(Completion(texts=("a", "b"), logprobs=())) == {"texts": ["a", "b"]}


class BadRowInThirdWindow(CoinScenario):
    """The dataset's 13th row is malformed: the error surfaces while planning the third window."""

    def instances(self):
        for index, instance in enumerate(super().instances()):
            if index == 12:
                raise DataError("malformed row", path="data.jsonl", line=13)
            yield instance


@pytest.mark.parametrize("pipelined", [False, True], ids=["main-thread", "worker-thread"])
def test_a_data_error_keeps_the_previous_windows_answers(tmp_path: Path, pipelined: bool) -> None:
    adapter = CountingAdapter(SimulatedParams(rules=coin_rules(0.5)))
    adapter.pipelined = pipelined
    cache = ResponseCache(tmp_path / "cache.sqlite")
    scenario = _scenario(BadRowInThirdWindow, n=16)
    runner = Runner(scenario, adapter, tmp_path / "run", RunSettings(progress=False, window_size=6), cache)
    with pytest.raises(DataError, match=r"data\.jsonl:13: malformed row"):
        runner.execute()
    assert _sample_ids(tmp_path / "run") == [f"c{i}" for i in range(12)], "window 2 is written"
    assert len(adapter.sent) == 12
    keys = [runner._cache_key(r) for r in adapter.sent]
    assert set(cache.get_many(keys)) == set(keys), "and its answers are cached"


class OutageAdapter(CountingAdapter):
    """Fails the requests for coins 3 and 7 while ``down``: a transient outage."""

    down = True

    def generate(self, requests: Sequence[Request], seed: int, progress=None) -> list[Completion]:
        answers = super().generate(requests, seed, progress)
        return [
            Completion.failed("HTTP 503: unavailable") if self.down and r.prompt in OUTAGE else a
            for r, a in zip(requests, answers, strict=True)
        ]


OUTAGE = ("Flip coin 3:", "Flip coin 7:")


@pytest.mark.parametrize("retry_errors", [True, False])
def test_a_rerun_retries_the_errored_instances_and_never_redoes_finished_ones(
    tmp_path: Path, retry_errors: bool
) -> None:
    adapter = OutageAdapter(SimulatedParams(rules=coin_rules(0.5)))
    settings = HarnessSettings(progress=False, bootstrap_resamples=100, retry_errors=retry_errors)
    first = run_scenario(ScenarioRun(_scenario(adapter=adapter), adapter, tmp_path, {}, settings), None)
    assert (first.n_instances, first.n_errors) == (40, 2)
    adapter.down, adapter.sent = False, []
    again = run_scenario(ScenarioRun(_scenario(adapter=adapter), adapter, tmp_path, {}, settings), None)
    records = [json.loads(line) for line in (tmp_path / "samples.jsonl").read_text().splitlines()]
    assert len(records) == len({r["id"] for r in records}) == 40
    counts = json.loads((tmp_path / "run.json").read_text())["counts"]
    if retry_errors:
        assert sorted(r.prompt for r in adapter.sent) == sorted(OUTAGE), "only the errored ones are sent"
        assert (again.n_errors, counts["errors"], counts["errors_retried"]) == (0, 0, 2)
    else:
        assert adapter.sent == [] and again.n_errors == counts["errors"] == 2
        assert counts["errors_retried"] == 0


def test_a_run_directory_with_samples_but_no_manifest_is_refused(tmp_path: Path) -> None:
    adapter = SimulatedAdapter(SimulatedParams(rules=coin_rules(0.5)))
    settings = HarnessSettings(progress=False, bootstrap_resamples=100)
    run_scenario(ScenarioRun(_scenario(adapter=adapter), adapter, tmp_path, {}, settings), None)
    (tmp_path / "run.json").unlink()
    with pytest.raises(ConfigError, match=r"holds samples\.jsonl but no run\.json"):
        run_scenario(ScenarioRun(_scenario(adapter=adapter), adapter, tmp_path, {}, settings), None)
    overwrite = HarnessSettings(progress=False, bootstrap_resamples=100, overwrite=True)
    assert (
        run_scenario(
            ScenarioRun(_scenario(adapter=adapter), adapter, tmp_path, {}, overwrite), None
        ).n_instances
        == 40
    )
