"""A minimal OpenAI-compatible server that answers every completion after a fixed latency.

``GET /v1/models`` lists one model; ``POST /v1/completions`` and ``/v1/chat/completions`` sleep
``--latency`` seconds (asynchronously, so any number of requests wait at once) and return ``n``
short choices. It prints ``ready <port>`` on stdout once listening. Used by the HTTP throughput
benchmark, where the ideal throughput is concurrency / latency.

    .venv/bin/python -m benchmarks.latency_server --port 0 --latency 0.05
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import sys
from typing import Any

from aiohttp import web

MODEL = "bench-latency"


def build_app(latency: float) -> web.Application:
    """The aiohttp application."""

    async def models(_: web.Request) -> web.Response:
        return web.json_response({"object": "list", "data": [{"id": MODEL, "object": "model"}]})

    async def completions(request: web.Request) -> web.Response:
        body: dict[str, Any] = await request.json()
        await asyncio.sleep(latency)
        n = int(body.get("n") or 1)
        chat = request.path.endswith("/chat/completions")
        choices = [
            {
                "index": i,
                "finish_reason": "length",
                **({"message": {"role": "assistant", "content": " ok"}} if chat else {"text": " ok"}),
            }
            for i in range(n)
        ]
        usage = {"prompt_tokens": 8, "completion_tokens": n, "total_tokens": 8 + n}
        return web.json_response(
            {
                "id": "cmpl-bench",
                "object": "text_completion",
                "model": MODEL,
                "choices": choices,
                "usage": usage,
            }
        )

    app = web.Application()
    app.router.add_get("/v1/models", models)
    app.router.add_post("/v1/completions", completions)
    app.router.add_post("/v1/chat/completions", completions)
    return app


def main(argv: list[str] | None = None) -> None:
    """Serve until killed."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0, help="0 = any free port")
    parser.add_argument("--latency", type=float, default=0.05)
    args = parser.parse_args(argv)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", args.port))
    sock.listen(1024)  # connections made before the app starts serving wait in the backlog
    print(f"ready {sock.getsockname()[1]}", flush=True)
    web.run_app(build_app(args.latency), sock=sock, print=None, access_log=None, backlog=1024)
    sys.exit(0)


if __name__ == "__main__":
    main()
