"""Optional online resolvers (Crossref, OpenAlex): off by default, cached on disk, polite.

When ``scenario.online_resolvers`` names them, citations that the local bibliography cannot
match are looked up by DOI, arXiv id or title. Every HTTP answer (including "not found") is kept
in an SQLite cache keyed by URL, so a re-run or a resumed run asks nothing twice and results
stay reproducible. Requests to one host are spaced by ``min_interval_s`` and carry a
``User-Agent`` with the contact address (``mailto``) that both services ask polite clients for;
408, 409, 429 and 5xx answers are retried under the project's one retry policy
(:mod:`harness.adapters.http_retry`: jittered exponential backoff that honours ``Retry-After``). A lookup
that still fails raises :class:`ResolverError`: the runner then records the instance as errored
instead of guessing (fail closed).

The HTTP transport can be replaced (``transport=``): tests serve recorded API responses through
``httpx.MockTransport`` and never touch the network.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode, urlsplit

from harness.adapters.http_retry import (
    PermanentError,
    RetryPolicy,
    TransientError,
    is_retryable_status,
    parse_retry_after,
)
from harness.errors import ConfigError
from scenarios.citations.normalize import normalize_arxiv, normalize_doi
from scenarios.citations.records import BibRecord

if TYPE_CHECKING:  # imported when a client is built: 0.1 s that offline runs never need
    import httpx

USER_AGENT = "rai-harness-citations/1.0"


class ResolverError(RuntimeError):
    """An online lookup failed after its retries (the instance is recorded as errored)."""


class ResponseCache:
    """An SQLite map from request URL to (HTTP status, JSON body)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS responses "
            "(url TEXT PRIMARY KEY, status INTEGER, body TEXT, fetched REAL)"
        )
        self._lock = threading.Lock()

    def get(self, url: str) -> tuple[int, Any] | None:
        """The cached (status, body) of a URL, or None."""
        with self._lock:
            row = self._db.execute("SELECT status, body FROM responses WHERE url = ?", (url,)).fetchone()
        if row is None:
            return None
        return int(row[0]), json.loads(row[1]) if row[1] else None

    def put(self, url: str, status: int, body: Any) -> None:
        """Store an answer (a 404 is stored with a null body)."""
        with self._lock, self._db:
            self._db.execute(
                "INSERT OR REPLACE INTO responses VALUES (?, ?, ?, ?)",
                (url, status, json.dumps(body) if body is not None else None, time.time()),
            )


class PoliteClient:
    """GETs JSON with a cache, a per-host minimum interval, retries and backoff."""

    def __init__(
        self,
        cache: ResponseCache,
        *,
        mailto: str | None = None,
        min_interval_s: float = 1.0,
        timeout_s: float = 20.0,
        max_retries: int = 3,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        import httpx

        agent = f"{USER_AGENT} (mailto:{mailto})" if mailto else USER_AGENT
        self.cache = cache
        self.mailto = mailto
        self.min_interval_s = min_interval_s
        self.max_retries = max_retries
        self._policy = RetryPolicy(max_retries=max_retries, backoff_initial_s=1.0)
        self._http = httpx.Client(
            transport=transport, timeout=timeout_s, headers={"User-Agent": agent}, follow_redirects=True
        )
        self._sleep = sleep
        self._clock = clock
        self._last: dict[str, float] = {}

    def get_json(self, url: str, params: dict[str, Any] | None = None) -> Any | None:
        """The JSON body of a 200 answer, None for 404; cached either way."""
        key = f"{url}?{urlencode(sorted((params or {}).items()))}" if params else url
        cached = self.cache.get(key)
        if cached is not None:
            return cached[1]
        query = dict(params or {})
        if self.mailto:
            query["mailto"] = self.mailto
        attempts = 0

        def once() -> Any | None:
            nonlocal attempts
            attempts += 1
            return self._fetch(url, query, key)

        try:
            return self._policy.retrying(sleep=self._sleep)(once)
        except (TransientError, PermanentError) as exc:
            tries = f"{attempts} attempt{'s' if attempts > 1 else ''}"
            raise ResolverError(f"lookup of {url} failed after {tries} ({exc.message})") from None

    def _fetch(self, url: str, query: dict[str, Any], key: str) -> Any | None:
        """One GET: the body of a 200 (cached), None for a 404 (cached); failures raise for the policy."""
        import httpx  # already imported by __init__; kept local so offline runs never import it

        self._wait_turn(urlsplit(url).netloc)
        try:
            response = self._http.get(url, params=query)
        except httpx.TransportError as exc:
            raise TransientError(f"{type(exc).__name__}: {exc}") from None
        if response.status_code == 200:
            body = response.json()
            self.cache.put(key, 200, body)
            return body
        if response.status_code == 404:
            self.cache.put(key, 404, None)
            return None
        message = f"HTTP {response.status_code}"
        if is_retryable_status(response.status_code):
            raise TransientError(message, retry_after=parse_retry_after(dict(response.headers)))
        raise PermanentError(message, status=response.status_code)

    def _wait_turn(self, host: str) -> None:
        previous = self._last.get(host)
        now = self._clock()
        if previous is not None and now - previous < self.min_interval_s:
            self._sleep(self.min_interval_s - (now - previous))
        self._last[host] = self._clock()


class Resolver(ABC):
    """Looks up publications by DOI, arXiv id or title in an external index."""

    name: str

    @abstractmethod
    def by_doi(self, doi: str) -> BibRecord | None:
        """The record with this DOI, or None."""

    @abstractmethod
    def by_arxiv(self, identifier: str) -> BibRecord | None:
        """The record with this arXiv id, or None."""

    @abstractmethod
    def search_title(self, title: str, limit: int = 5) -> list[BibRecord]:
        """The best title matches (the verifier re-scores them with its own similarity)."""


def _first(value: Any) -> str | None:
    if isinstance(value, list):
        return str(value[0]) if value else None
    return str(value) if value else None


class CrossrefResolver(Resolver):
    """Crossref REST API (https://api.crossref.org). arXiv DOIs live at DataCite, so arXiv ids
    are not resolved here; OpenAlex resolves them."""

    name = "crossref"
    base = "https://api.crossref.org"

    def __init__(self, client: PoliteClient) -> None:
        self.client = client

    def _record(self, item: dict[str, Any]) -> BibRecord | None:
        title = _first(item.get("title"))
        if not title:
            return None
        authors = tuple(
            " ".join(p for p in (a.get("given"), a.get("family")) if p) or a.get("name", "")
            for a in item.get("author", [])
        )
        year = None
        for key in ("issued", "published-print", "published-online", "created"):
            parts = (item.get(key) or {}).get("date-parts") or []
            if parts and parts[0] and parts[0][0]:
                year = int(parts[0][0])
                break
        return BibRecord(
            title=title,
            authors=tuple(a for a in authors if a),
            year=year,
            venue=_first(item.get("container-title")) or item.get("publisher"),
            doi=item.get("DOI"),
            source="crossref",
        )

    def by_doi(self, doi: str) -> BibRecord | None:
        """GET /works/{doi}."""
        bare = normalize_doi(doi)
        if not bare:
            return None
        body = self.client.get_json(f"{self.base}/works/{quote(bare, safe='/')}")
        return self._record(body["message"]) if body else None

    def by_arxiv(self, identifier: str) -> BibRecord | None:
        """Not available in Crossref (see the class docstring)."""
        return None

    def search_title(self, title: str, limit: int = 5) -> list[BibRecord]:
        """GET /works?query.bibliographic=...&rows=limit."""
        body = self.client.get_json(f"{self.base}/works", {"query.bibliographic": title, "rows": limit})
        items = (body or {}).get("message", {}).get("items", [])
        return [r for r in (self._record(i) for i in items) if r is not None]


class OpenAlexResolver(Resolver):
    """OpenAlex API (https://api.openalex.org); arXiv ids resolve through arXiv's DataCite DOIs."""

    name = "openalex"
    base = "https://api.openalex.org"

    def __init__(self, client: PoliteClient) -> None:
        self.client = client

    def _record(self, work: dict[str, Any]) -> BibRecord | None:
        title = work.get("title") or work.get("display_name")
        if not title:
            return None
        authors = tuple((a.get("author") or {}).get("display_name", "") for a in work.get("authorships", []))
        source = ((work.get("primary_location") or {}).get("source") or {}).get("display_name")
        doi = work.get("doi")
        return BibRecord(
            title=title,
            authors=tuple(a for a in authors if a),
            year=work.get("publication_year"),
            venue=source,
            doi=doi,
            arxiv=doi if doi and "10.48550/arxiv." in doi.lower() else None,
            source="openalex",
        )

    def by_doi(self, doi: str) -> BibRecord | None:
        """GET /works/doi:{doi}."""
        bare = normalize_doi(doi)
        if not bare:
            return None
        body = self.client.get_json(f"{self.base}/works/doi:{quote(bare, safe='/')}")
        return self._record(body) if body else None

    def by_arxiv(self, identifier: str) -> BibRecord | None:
        """GET /works/doi:10.48550/arxiv.{id}."""
        bare = normalize_arxiv(identifier)
        return self.by_doi(f"10.48550/arxiv.{bare}") if bare else None

    def search_title(self, title: str, limit: int = 5) -> list[BibRecord]:
        """GET /works?search=...&per-page=limit."""
        body = self.client.get_json(f"{self.base}/works", {"search": title, "per-page": limit})
        return [r for r in (self._record(w) for w in (body or {}).get("results", [])) if r is not None]


RESOLVERS: dict[str, type[CrossrefResolver] | type[OpenAlexResolver]] = {
    "crossref": CrossrefResolver,
    "openalex": OpenAlexResolver,
}


def make_resolvers(names: list[str], client: PoliteClient) -> list[Resolver]:
    """Resolver instances for ``scenario.online_resolvers``; an unknown name is a ConfigError."""
    unknown = [n for n in names if n not in RESOLVERS]
    if unknown:
        raise ConfigError(
            f"scenario.online_resolvers: unknown resolver(s) {unknown}; choose from {sorted(RESOLVERS)}"
        )
    return [RESOLVERS[name](client) for name in names]
