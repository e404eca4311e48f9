"""The HTTP client honours proxy variables and ~/.netrc, resolved once per session (not per request)."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest

from harness.adapters.http_client import ResilientClient
from harness.adapters.http_ratelimit import RateLimiter
from harness.adapters.http_retry import RetryPolicy
from tests.servers.recorded_server import QueuedServer


class RecordingServer(QueuedServer):
    """Answers every POST with ``{"ok": true}`` and records its request line target and headers."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), RecordingHandler)
        self.seen: list[tuple[str, dict[str, str]]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class RecordingHandler(BaseHTTPRequestHandler):
    server: RecordingServer

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.server.seen.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
        body = json.dumps({"ok": True}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        """Silent."""


@pytest.fixture
def recording() -> Iterator[RecordingServer]:
    server = RecordingServer()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def post_three(base_url: str, headers: dict[str, str] | None = None) -> list[Any]:
    """Three POSTs through one client session."""
    client = ResilientClient(
        base_url,
        headers=headers or {},
        secrets=[],
        policy=RetryPolicy(max_retries=0),
        limiter=RateLimiter(),
        concurrency=2,
        timeout_s=10.0,
    )

    async def three() -> list[Any]:
        return [await client.post_json("/completions", {"i": i}, lambda body: body, 0) for i in range(3)]

    return client.run(three)


@pytest.fixture
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    monkeypatch.setenv("NETRC", str(tmp_path / "no-netrc"))
    return tmp_path


def test_requests_go_through_the_proxy_named_by_the_environment(
    recording: RecordingServer, clean_environment: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", recording.url)
    assert post_three("http://api.example.invalid/v1") == [{"ok": True}] * 3
    # a proxied request names the absolute upstream URL in its request line
    assert [path for path, _ in recording.seen] == ["http://api.example.invalid/v1/completions"] * 3


def test_no_proxy_sends_requests_directly(
    recording: RecordingServer, clean_environment: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    assert post_three(recording.url + "/v1") == [{"ok": True}] * 3
    assert [path for path, _ in recording.seen] == ["/v1/completions"] * 3


def test_netrc_login_is_used_without_another_credential(
    recording: RecordingServer, clean_environment: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    netrc = clean_environment / "netrc"
    netrc.write_text("machine 127.0.0.1 login alice password s3cret\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    post_three(recording.url + "/v1")
    expected = "Basic " + base64.b64encode(b"alice:s3cret").decode()
    assert [headers.get("authorization") for _, headers in recording.seen] == [expected] * 3
    recording.seen.clear()
    post_three(recording.url + "/v1", headers={"Authorization": "Bearer key"})
    assert [headers.get("authorization") for _, headers in recording.seen] == ["Bearer key"] * 3
