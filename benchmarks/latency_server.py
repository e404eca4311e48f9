"""A minimal OpenAI-compatible server that answers every completion after a fixed latency.

``GET /v1/models`` lists one model; ``POST /v1/completions`` and ``/v1/chat/completions`` wait
``--latency`` seconds (on the event loop's timer, so any number of requests wait at once) and
return ``n`` short choices. It prints ``ready <port>`` on stdout once listening. Used by the HTTP
throughput benchmark, where the ideal throughput is concurrency / latency.

The server shares the benchmark machine's cores with the client it measures, so its own cost per
request must be small next to the client's. An aiohttp server spent about 0.4 ms of CPU per
request, enough to hold the client under 0.8 of the ideal at 1,280 requests per second on two
cores; so this one is a bare ``asyncio.Protocol`` that speaks just the HTTP/1.1 it needs
(keep-alive, ``Content-Length`` bodies). Written by hand because no lighter server library is
installed; it is a benchmark fixture, not part of the harness.

    .venv/bin/python -m benchmarks.latency_server --port 0 --latency 0.05
"""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import Any

MODEL = "bench-latency"


def completion_body(request: dict[str, Any], chat: bool) -> bytes:
    """The JSON answer to a completion request: ``n`` choices of " ok"."""
    n = int(request.get("n") or 1)
    message = {"message": {"role": "assistant", "content": " ok"}} if chat else {"text": " ok"}
    choices = [{"index": i, "finish_reason": "length", **message} for i in range(n)]
    usage = {"prompt_tokens": 8, "completion_tokens": n, "total_tokens": 8 + n}
    answer = {
        "id": "cmpl-bench",
        "object": "text_completion",
        "model": MODEL,
        "choices": choices,
        "usage": usage,
    }
    return json.dumps(answer).encode()


def http_response(status: str, body: bytes) -> bytes:
    """A keep-alive HTTP/1.1 response with a JSON body."""
    head = f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    return head.encode() + body


class LatencyProtocol(asyncio.Protocol):
    """One client connection: parse requests as they arrive, answer each after the latency."""

    def __init__(self, latency: float) -> None:
        self.latency = latency
        self.buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Keep the transport to write answers to."""
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        """Answer every complete request in the buffer."""
        self.buffer += data
        while (end := self.buffer.find(b"\r\n\r\n")) >= 0:
            head = self.buffer[:end].decode("latin-1").split("\r\n")
            length = next(
                (
                    int(line.split(":", 1)[1])
                    for line in head[1:]
                    if line.lower().startswith("content-length:")
                ),
                0,
            )
            if len(self.buffer) < end + 4 + length:
                return  # the body has not fully arrived
            body = self.buffer[end + 4 : end + 4 + length]
            self.buffer = self.buffer[end + 4 + length :]
            self.answer(head[0], body)

    def answer(self, request_line: str, body: bytes) -> None:
        """Route one request: the model list at once, completions after the latency."""
        method, path, _ = request_line.split(" ", 2)
        loop = asyncio.get_running_loop()
        if method == "GET" and path == "/v1/models":
            listing = {"object": "list", "data": [{"id": MODEL, "object": "model"}]}
            self.send(http_response("200 OK", json.dumps(listing).encode()))
        elif method == "POST" and path in ("/v1/completions", "/v1/chat/completions"):
            reply = http_response(
                "200 OK", completion_body(json.loads(body), path.endswith("chat/completions"))
            )
            loop.call_later(self.latency, self.send, reply)
        else:
            self.send(http_response("404 Not Found", b'{"error": {"message": "not found"}}'))

    def send(self, reply: bytes) -> None:
        """Write an answer unless the client has gone."""
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(reply)


async def serve(port: int, latency: float) -> None:
    """Listen, announce the port, serve forever."""
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: LatencyProtocol(latency), "127.0.0.1", port, backlog=1024)
    print(f"ready {server.sockets[0].getsockname()[1]}", flush=True)
    async with server:
        await server.serve_forever()


def main(argv: list[str] | None = None) -> None:
    """Serve until killed."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0, help="0 = any free port")
    parser.add_argument("--latency", type=float, default=0.05)
    args = parser.parse_args(argv)
    asyncio.run(serve(args.port, args.latency))


if __name__ == "__main__":
    main()
