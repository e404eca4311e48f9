"""A loopback HTTP server that answers with recorded responses, for the HTTP scorer tests.

Each POST is handed to ``answer(path, body)``, which returns ``(status, payload)``: a payload that
is ``bytes`` is sent as is (to replay malformed bodies), anything else as JSON. Requests (path,
parsed body, headers) are kept in ``requests`` for the tests to inspect. Stdlib only
(``http.server`` in a thread), like :mod:`tests.servers.openai_fault_server`.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Answer = Callable[[str, Any], tuple[int, Any]]


class QueuedServer(ThreadingHTTPServer):
    """A threading server whose listen queue holds a burst of concurrent connections.

    With the default queue of 5, connections beyond it are dropped under load and the client's
    retry after 1 s turns into timeouts the test never injected.
    """

    daemon_threads = True
    request_queue_size = 128


class RecordedServer:
    """Serve ``answer`` on 127.0.0.1 (a free port) while used as a context manager."""

    def __init__(self, answer: Answer) -> None:
        self.answer = answer
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                """Quiet: the tests read ``requests`` instead."""

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("content-length") or 0))
                try:
                    body = json.loads(raw)
                except json.JSONDecodeError:
                    body = None
                with owner._lock:
                    owner.requests.append({"path": self.path, "body": body, "headers": dict(self.headers)})
                status, payload = owner.answer(self.path, body)
                data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._server = QueuedServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        """The OpenAI-style base URL (with the /v1 prefix)."""
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def __enter__(self) -> RecordedServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
