"""Online resolvers against response fixtures served by a fake HTTP transport (never the network).

The JSON files in ``data/`` follow the documented Crossref (``/works/{doi}``, ``/works?query...``)
and OpenAlex (``/works/doi:...``, ``/works?search=...``) response formats, trimmed to the fields
the resolvers read. They were written by hand from those formats (this environment has no
network to record live answers).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from citations_testlib import metric, run, simulated

from harness.errors import ConfigError
from scenarios.citations.bibliography import Bibliography
from scenarios.citations.records import Citation
from scenarios.citations.resolvers import (
    CrossrefResolver,
    OpenAlexResolver,
    PoliteClient,
    ResolverError,
    ResponseCache,
    make_resolvers,
)
from scenarios.citations.scenario import CitationsParams, CitationsScenario
from scenarios.citations.verify import Verifier

DATA = Path(__file__).with_name("data")
ROUTES = {
    ("api.crossref.org", "/works/10.1109/cvpr.2016.90"): "crossref_work_10.1109_cvpr.2016.90.json",
    ("api.openalex.org", "/works/doi:10.48550/arxiv.1706.03762"): "openalex_work_arxiv_1706.03762.json",
}


class FakeApi:
    """Serves the fixtures; every other work lookup is a 404 and every search returns the fixture
    whose words it mentions (or an empty result). Records each request."""

    def __init__(self, failures: list[httpx.Response] | None = None) -> None:
        self.requests: list[httpx.Request] = []
        self.failures = list(failures or [])

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.failures:
            return self.failures.pop(0)
        route = ROUTES.get((request.url.host, request.url.path))
        if route:
            return httpx.Response(200, json=json.loads((DATA / route).read_text()))
        if request.url.path == "/works":
            query = (
                request.url.params.get("query.bibliographic") or request.url.params.get("search") or ""
            ).lower()
            if request.url.host == "api.crossref.org":
                name = "crossref_search_deep_residual.json" if "residual" in query else None
                empty = {
                    "status": "ok",
                    "message-type": "work-list",
                    "message": {"items": [], "total-results": 0},
                }
            else:
                name = "openalex_search_attention.json" if "attention" in query else None
                empty = {"meta": {"count": 0}, "results": []}
            return httpx.Response(200, json=json.loads((DATA / name).read_text()) if name else empty)
        return httpx.Response(404, text="Resource not found.")


class FakeTime:
    """A clock that only moves when the client sleeps."""

    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(round(seconds, 6))
        self.now += seconds


def client(
    tmp_path: Path, api: Callable[[httpx.Request], httpx.Response], fake: FakeTime, **kwargs: object
) -> PoliteClient:
    return PoliteClient(
        ResponseCache(tmp_path / "cache.sqlite"),
        mailto="audit@example.org",
        transport=httpx.MockTransport(api),
        sleep=fake.sleep,
        clock=fake.clock,
        **kwargs,  # type: ignore[arg-type]
    )


def test_crossref_doi_lookup_is_polite_and_cached(tmp_path: Path) -> None:
    api, fake = FakeApi(), FakeTime()
    crossref = CrossrefResolver(client(tmp_path, api, fake))
    record = crossref.by_doi("https://doi.org/10.1109/CVPR.2016.90")
    assert record is not None
    assert (record.title, record.authors, record.year, record.doi, record.source) == (
        "Deep Residual Learning for Image Recognition",
        ("Kaiming He", "Xiangyu Zhang", "Shaoqing Ren", "Jian Sun"),
        2016,
        "10.1109/cvpr.2016.90",
        "crossref",
    )
    assert record.venue == "2016 IEEE Conference on Computer Vision and Pattern Recognition (CVPR)"
    sent = api.requests[0]
    assert (
        "mailto:audit@example.org" in sent.headers["User-Agent"]
        and sent.url.params["mailto"] == "audit@example.org"
    )
    assert crossref.by_doi("10.1109/cvpr.2016.90") == record
    assert len(api.requests) == 1  # the second lookup came from the cache
    again = CrossrefResolver(client(tmp_path, api, FakeTime()))  # a new process, same cache file
    assert again.by_doi("10.1109/cvpr.2016.90") == record and len(api.requests) == 1


def test_not_found_is_cached_and_arxiv_is_not_a_crossref_lookup(tmp_path: Path) -> None:
    api, fake = FakeApi(), FakeTime()
    crossref = CrossrefResolver(client(tmp_path, api, fake))
    assert crossref.by_doi("10.9999/does.not.exist") is None
    assert crossref.by_doi("10.9999/does.not.exist") is None
    assert len(api.requests) == 1
    assert crossref.by_arxiv("1706.03762") is None and len(api.requests) == 1


def test_requests_to_one_host_are_spaced(tmp_path: Path) -> None:
    api, fake = FakeApi(), FakeTime()
    crossref = CrossrefResolver(client(tmp_path, api, fake, min_interval_s=1.5))
    crossref.by_doi("10.1234/first")
    crossref.by_doi("10.1234/second")
    crossref.by_doi("10.1234/third")
    assert fake.sleeps == [1.5, 1.5]


def test_retry_after_is_honoured_and_persistent_failure_fails_closed(tmp_path: Path) -> None:
    fake = FakeTime()
    api = FakeApi(failures=[httpx.Response(429, headers={"Retry-After": "7"}), httpx.Response(503)])
    crossref = CrossrefResolver(client(tmp_path, api, fake, min_interval_s=0.0))
    assert crossref.by_doi("10.1109/cvpr.2016.90") is not None
    assert fake.sleeps[0] == 7.0 and 0 <= fake.sleeps[1] <= 2.0 and len(api.requests) == 3
    broken = FakeApi(failures=[httpx.Response(500)] * 10)
    failing = CrossrefResolver(
        client(tmp_path / "other", broken, FakeTime(), min_interval_s=0.0, max_retries=2)
    )
    with pytest.raises(ResolverError, match=r"failed after 3 attempts \(HTTP 500\)"):
        failing.by_doi("10.5555/broken")


def test_openalex_arxiv_and_title_search(tmp_path: Path) -> None:
    api, fake = FakeApi(), FakeTime()
    openalex = OpenAlexResolver(client(tmp_path, api, fake, min_interval_s=0.0))
    record = openalex.by_arxiv("arXiv:1706.03762v7")
    assert record is not None and record.arxiv == "1706.03762" and record.year == 2017
    assert api.requests[0].url.path == "/works/doi:10.48550/arxiv.1706.03762"
    found = openalex.search_title("attention is all you need", limit=3)
    assert [r.title for r in found] == ["Attention Is All You Need"]
    assert api.requests[1].url.params["per-page"] == "3"


def test_verifier_uses_resolvers_when_the_bibliography_has_no_match(tmp_path: Path) -> None:
    api, fake = FakeApi(), FakeTime()
    http = client(tmp_path, api, fake, min_interval_s=0.0)
    verifier = Verifier(Bibliography([]), resolvers=[CrossrefResolver(http), OpenAlexResolver(http)])
    real = verifier.verify(
        Citation(raw="", title="Deep residual learning for image recognition", year=2016), "K. He"
    )
    assert (real.status, real.record.source if real.record else None) == ("verified", "crossref")
    misattributed = verifier.verify(Citation(raw="", title="Attention Is All You Need"), "Kaiming He")
    assert misattributed.status == "misattributed"
    invented = verifier.verify(Citation(raw="", title="Holographic Origami for Lunar Beekeeping"))
    assert invented.status == "fabricated"
    by_doi = verifier.verify(Citation(raw="", doi="10.1109/cvpr.2016.90"))
    assert (by_doi.status, by_doi.matched_by) == ("verified", "doi")
    # three title searches on each service, then one DOI lookup that Crossref answers
    assert Counter(r.url.host for r in api.requests) == {"api.crossref.org": 4, "api.openalex.org": 3}


def test_unknown_resolver_name_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"unknown resolver\(s\) \['scholar'\]"):
        make_resolvers(["crossref", "scholar"], client(tmp_path, FakeApi(), FakeTime()))


def test_scenario_with_online_resolvers_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    api = FakeApi()
    monkeypatch.setattr(CitationsScenario, "http_transport", httpx.MockTransport(api))
    answer = (
        '1. "Deep Residual Learning for Image Recognition" (2016), CVPR.\n'
        '2. "Quantum Origami for Lunar Bees" (2020), ICML.'
    )
    adapter = simulated([{"match": "Kaiming He", "outputs": {answer: 1.0}}])
    params = CitationsParams(
        authors=["Kaiming He"],
        families=["author_papers"],
        forms=["completion"],
        samples_per_prompt=1,
        temperature=0.0,
        online_resolvers=["crossref"],
        resolver_cache=str(tmp_path / "resolvers.sqlite"),
        resolver_min_interval_s=0.0,
    )
    metrics, _, scenario = run(params, adapter, tmp_path / "run")
    assert metric(metrics, "verified_rate").value == 0.5
    assert metric(metrics, "fabrication_rate").value == 0.5
    assert scenario.scorers()[0].label == "online-only (0 records; resolvers: crossref)"
