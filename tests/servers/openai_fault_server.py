"""A local OpenAI-protocol server that injects faults at configured rates, for tests and benchmarks.

It answers ``GET /v1/models``, ``POST /v1/completions`` (including ``echo`` + ``logprobs``) and
``POST /v1/chat/completions``, streamed or not. Answers are pure functions of the request: the text
of a completion is drawn from a hash of the prompt (and, when ``temperature > 0``, of the ``seed``
and choice index), and echoed log-probabilities are hashes of the text before each token. So a run
against a faulty server can be compared exactly with a run against a clean one.

Faults are chosen per request from a hash of (fault seed, request body, how many times this body was
seen), so which attempts fail does not depend on the order in which concurrent requests arrive:

* ``rate_limit`` – HTTP 429 with ``Retry-After``;
* ``server_error`` – HTTP 500;
* ``timeout`` – the server stalls for ``hang_s`` before answering (the client should time out);
* ``malformed`` – a 200 whose body (or first stream event) is not valid JSON;
* ``empty_choices`` – a 200 with ``"choices": []``;
* ``truncated`` – the body (or event stream) stops half-way and the connection closes;
* ``drop`` – the connection closes without any response.

Besides the OpenAI routes it offers a Bedrock-style ``POST /model/<id>/invoke`` route
(``{"prompt", "max_gen_len", "temperature", "seed"}`` -> ``{"generation"}``) with the same faults,
used to show that a new provider adapter is one small module.

Stdlib only (``http.server`` in a thread), because raw control of the socket is needed to drop
connections and cut bodies, and a test dependency is not worth it for that.

Run it by hand for benchmarks: ``python -m tests.servers.openai_fault_server --port 8011 --fault-rate 0.3``.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import re
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

FAULTS = ("rate_limit", "server_error", "timeout", "malformed", "empty_choices", "truncated", "drop")
WORDS = [
    "alpha",
    "bravo",
    "charlie",
    "delta",
    "echo",
    "foxtrot",
    "golf",
    "hotel",
    "india",
    "juliet",
    "kilo",
    "lima",
    "mike",
    "november",
    "oscar",
    "papa",
    "quebec",
    "romeo",
    "sierra",
    "tango",
    "uniform",
    "victor",
    "whiskey",
    "xray",
    "yankee",
    "zulu",
]
TOKEN = re.compile(r"\s*\S+|\s+")
GATEWAY_ROUTE = re.compile(r"/model/[^/]+/invoke")
"""A Bedrock-style route (``POST /model/<id>/invoke``), to show a non-OpenAI provider adapter."""


def unit(*parts: Any) -> float:
    """A deterministic uniform number in [0, 1) from the hash of ``parts``."""
    digest = hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


@dataclass
class FaultConfig:
    """Which faults to inject and how often (``rate`` is the share of faulty requests)."""

    rate: float = 0.0
    kinds: tuple[str, ...] = FAULTS
    retry_after: str = "0"
    hang_s: float = 2.0
    seed: int = 0
    schedule: tuple[str, ...] = ()
    """Faults for the first attempts of every request body, in order (then ``rate`` applies)."""


@dataclass
class Behaviour:
    """How the (fault-free part of the) server behaves."""

    model: str = "fault-test-model"
    system_fingerprint: str = "fp_fault_test"
    honour_n: bool = True
    echo_logprobs: bool = True
    ignore_echo: bool = False
    """Answer echo requests as plain completions (no error, no log-probabilities), as some servers do."""
    chat: bool = True
    api_key: str | None = None
    echo_credentials_in_errors: bool = False
    echo_padding: int = 0
    latency_s: float = 0.0


@dataclass
class Record:
    """One request as the server saw it."""

    path: str
    body: dict[str, Any] | None
    arrived: float
    fault: str | None
    headers: dict[str, str]

    @property
    def authorization(self) -> str | None:
        """The Authorization header as received."""
        return self.headers.get("authorization")


@dataclass
class ServerState:
    """Everything the server observed; tests assert on it."""

    records: list[Record] = field(default_factory=list)
    faults: Counter[str] = field(default_factory=Counter)
    in_flight: int = 0
    max_in_flight: int = 0
    seen: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)


def prompt_of(body: dict[str, Any], chat: bool) -> str:
    """The text a completion is derived from: the prompt, or the chat turns joined."""
    if chat:
        return "\n".join(f"{m.get('role')}: {m.get('content')}" for m in body.get("messages") or [])
    prompt = body.get("prompt", "")
    return prompt if isinstance(prompt, str) else json.dumps(prompt)


def sample_text(prompt: str, body: dict[str, Any], index: int) -> str:
    """The deterministic completion for one choice: 1-6 words, greedy ignores seed and index."""
    greedy = float(body.get("temperature", 1.0)) == 0.0
    key = (prompt,) if greedy else (prompt, body.get("seed"), index)
    length = min(
        int(body.get("max_tokens") or body.get("max_completion_tokens") or 16), 1 + int(unit("len", *key) * 6)
    )
    words = [WORDS[int(unit("word", i, *key) * len(WORDS))] for i in range(length)]
    text = "".join(f" {w}" for w in words)
    for marker in body.get("stop") or []:
        if marker in text:
            text = text[: text.index(marker)]
    return text


def token_logprob(prefix: str, token: str) -> tuple[float, float]:
    """(log-probability of ``token`` after ``prefix``, the best alternative's log-probability)."""
    value = -0.05 - 5.0 * unit("lp", prefix, token)
    greedy = unit("greedy", prefix, token) < 0.5
    return value, value if greedy else value + 0.25


def echo_logprobs(text: str) -> dict[str, Any]:
    """OpenAI-style ``logprobs`` of an echoed prompt plus one generated token (" end")."""
    tokens, offsets, values, tops = [], [], [], []
    position = 0
    for piece in [*TOKEN.findall(text), " end"]:
        value, best = token_logprob(text[:position], piece)
        tokens.append(piece)
        offsets.append(position)
        values.append(value)
        tops.append({piece: value} if best == value else {piece: value, "<alt>": best})
        position += len(piece)
    values[0] = None
    tops[0] = None
    return {"tokens": tokens, "text_offset": offsets, "token_logprobs": values, "top_logprobs": tops}


class QuietHTTPServer(ThreadingHTTPServer):
    """A threading server that does not print tracebacks for connections the client dropped."""

    daemon_threads = True
    block_on_close = False
    request_queue_size = 128  # the default 5 drops connections under load; the client's retry costs 1 s

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Ignore client disconnects (timed-out clients are expected here); report anything else."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def gateway_response(body: dict[str, Any], fault: str | None) -> dict[str, Any]:
    """``{"generation": text}`` for a Bedrock-style ``{"prompt", "max_gen_len", ...}`` body."""
    if fault == "empty_choices":
        return {"stop_reason": "error"}
    request = {
        "temperature": body.get("temperature", 1.0),
        "seed": body.get("seed"),
        "max_tokens": body.get("max_gen_len"),
    }
    return {"generation": sample_text(str(body.get("prompt", "")), request, 0), "stop_reason": "stop"}


class FaultServer:
    """The server running in a background thread; use as a context manager."""

    def __init__(
        self, faults: FaultConfig | None = None, behaviour: Behaviour | None = None, port: int = 0
    ) -> None:
        self.faults = faults or FaultConfig()
        self.behaviour = behaviour or Behaviour()
        self.state = ServerState()
        handler = type("BoundHandler", (Handler,), {"server_ref": self})
        self._httpd = QuietHTTPServer(("127.0.0.1", port), handler)
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)

    @property
    def base_url(self) -> str:
        """The OpenAI-style base URL, including ``/v1``."""
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}/v1"

    @property
    def root_url(self) -> str:
        """The server root, for the Bedrock-style gateway route."""
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> FaultServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def choose_fault(self, raw_body: bytes) -> str | None:
        """The fault for this request (or None): a function of the body and its repeat count."""
        digest = hashlib.sha256(raw_body).hexdigest()
        with self.state.lock:
            attempt = self.state.seen[digest]
            self.state.seen[digest] += 1
        if attempt < len(self.faults.schedule):
            return self.faults.schedule[attempt]
        if unit("fault?", self.faults.seed, digest, attempt) >= self.faults.rate:
            return None
        kinds = self.faults.kinds
        return kinds[int(unit("kind", self.faults.seed, digest, attempt) * len(kinds))]

    def completion_records(self) -> list[Record]:
        """Requests to the completion endpoints (not the model list)."""
        return [r for r in self.state.records if r.path != "/v1/models"]


class Handler(BaseHTTPRequestHandler):
    """Request handler; ``server_ref`` is set on a subclass bound to one FaultServer."""

    protocol_version = "HTTP/1.1"
    server_ref: FaultServer

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the default stderr access log."""

    # -- plumbing --------------------------------------------------------------------------------

    def _send(self, status: int, payload: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(payload)
        self.wfile.flush()

    def _send_json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps(payload).encode(), headers)

    def _error(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        self._send_json(status, {"error": {"message": message, "type": "fault_server"}}, headers)

    def _drop(self) -> None:
        self.close_connection = True

    # -- dispatch --------------------------------------------------------------------------------

    def do_GET(self) -> None:
        """``GET /v1/models``."""
        owner = self.server_ref
        self._record(None, None)
        if not self._authorized():
            return
        if self.path.rstrip("/") != "/v1/models":
            self._error(404, f"no route {self.path}")
            return
        self._send_json(200, {"object": "list", "data": [{"id": owner.behaviour.model, "object": "model"}]})

    def do_POST(self) -> None:
        """``POST /v1/completions`` and ``POST /v1/chat/completions``, with faults."""
        owner = self.server_ref
        raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        fault = owner.choose_fault(raw)
        try:
            body = json.loads(raw)
        except json.JSONDecodeError:
            body = None
        self._record(body, fault)
        with owner.state.lock:
            owner.state.in_flight += 1
            owner.state.max_in_flight = max(owner.state.max_in_flight, owner.state.in_flight)
            if fault:
                owner.state.faults[fault] += 1
        try:
            if owner.behaviour.latency_s:
                time.sleep(owner.behaviour.latency_s)
            self._answer(body, fault)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        finally:
            with owner.state.lock:
                owner.state.in_flight -= 1

    def _record(self, body: dict[str, Any] | None, fault: str | None) -> None:
        owner = self.server_ref
        with owner.state.lock:
            owner.state.records.append(
                Record(
                    self.path, body, time.monotonic(), fault, {k.lower(): v for k, v in self.headers.items()}
                )
            )

    def _authorized(self) -> bool:
        expected = self.server_ref.behaviour.api_key
        given = self.headers.get("Authorization")
        if expected is None or given == f"Bearer {expected}":
            return True
        self._error(401, f"Incorrect API key provided: {given}")
        return False

    def _answer(self, body: dict[str, Any] | None, fault: str | None) -> None:
        owner = self.server_ref
        if not self._authorized():
            return
        if body is None:
            self._error(400, "the request body is not JSON")
            return
        route = self.path.rstrip("/")
        gateway = GATEWAY_ROUTE.fullmatch(route) is not None
        chat = route == "/v1/chat/completions"
        if not (chat or gateway or route == "/v1/completions"):
            self._error(404, f"no route {self.path}")
            return
        if chat and not owner.behaviour.chat:
            self._error(400, "this model has no chat template")
            return
        if body.get("echo") and not owner.behaviour.echo_logprobs:
            self._error(400, "echo is not supported")
            return
        stream = bool(body.get("stream"))
        if fault == "rate_limit":
            self._error(429, "rate limit reached", {"Retry-After": owner.faults.retry_after})
            return
        if fault == "server_error":
            message = "internal error"
            if owner.behaviour.echo_credentials_in_errors:  # padded so that a 200-character cut splits them
                credentials = [self.headers.get(h) for h in ("Authorization", "api-key", "x-api-key")]
                message += " " + "." * owner.behaviour.echo_padding
                message += f" while checking {' '.join(c for c in credentials if c)}"
            self._error(500, message)
            return
        if fault == "drop":
            self._drop()
            return
        if fault == "timeout":
            time.sleep(owner.faults.hang_s)
        if gateway:
            self._send_body(gateway_response(body, fault), fault)
            return
        response = self._response(body, chat)
        if fault == "empty_choices":
            response["choices"] = []
        if stream:
            self._stream(response, chat, fault)
        else:
            self._send_body(response, fault)

    def _response(self, body: dict[str, Any], chat: bool) -> dict[str, Any]:
        owner = self.server_ref
        prompt = prompt_of(body, chat)
        n = int(body.get("n") or 1) if owner.behaviour.honour_n else 1
        choices = []
        for index in range(n):
            text = sample_text(prompt, body, index)
            if chat:
                choices.append(
                    {
                        "index": index,
                        "message": {"role": "assistant", "content": text},
                        "finish_reason": "stop",
                    }
                )
            elif body.get("echo") and not owner.behaviour.ignore_echo:
                logprobs = echo_logprobs(prompt) if body.get("logprobs") is not None else None
                choices.append(
                    {"index": index, "text": prompt + " end", "logprobs": logprobs, "finish_reason": "length"}
                )
            else:
                choices.append({"index": index, "text": text, "logprobs": None, "finish_reason": "stop"})
        return {
            "id": "cmpl-fault",
            "object": "chat.completion" if chat else "text_completion",
            "model": owner.behaviour.model,
            "system_fingerprint": owner.behaviour.system_fingerprint,
            "choices": choices,
            "usage": {
                "prompt_tokens": len(prompt) // 4,
                "completion_tokens": 8,
                "total_tokens": len(prompt) // 4 + 8,
            },
        }

    def _send_body(self, response: dict[str, Any], fault: str | None) -> None:
        payload = json.dumps(response).encode()
        if fault == "malformed":
            payload = payload[: len(payload) // 2] + b"<!-- proxy error -->"
        if fault == "truncated":
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload[: len(payload) // 2])
            self.wfile.flush()
            self._drop()
            return
        self._send(200, payload)

    def _stream(self, response: dict[str, Any], chat: bool, fault: str | None) -> None:
        events = []
        for choice in response["choices"]:
            text = choice["message"]["content"] if chat else choice["text"]
            for piece in TOKEN.findall(text) or [""]:
                delta = {"delta": {"content": piece}} if chat else {"text": piece}
                events.append({"model": response["model"], "choices": [{"index": choice["index"], **delta}]})
        if not events:
            events.append({"model": response["model"], "choices": []})
        lines = [f"data: {json.dumps(event)}\n\n".encode() for event in events]
        if fault == "malformed":
            lines[0] = b'data: {"choices": [\n\n'
        if fault == "truncated":
            lines = lines[: max(1, len(lines) // 2)]
        else:
            lines.append(b"data: [DONE]\n\n")
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Connection", "close")
        self.end_headers()
        for line in lines:
            self.wfile.write(line)
            self.wfile.flush()
        self._drop()


def main() -> None:
    """Serve until interrupted (for benchmarks and manual checks)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8011)
    parser.add_argument("--fault-rate", type=float, default=0.0)
    parser.add_argument(
        "--faults", default=",".join(FAULTS), help="comma-separated subset of " + ",".join(FAULTS)
    )
    parser.add_argument("--retry-after", default="1")
    parser.add_argument("--hang-s", type=float, default=5.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--api-key", default=None)
    parser.add_argument("--ignore-n", action="store_true")
    args = parser.parse_args()
    faults = FaultConfig(
        args.fault_rate, tuple(args.faults.split(",")), args.retry_after, args.hang_s, args.seed
    )
    behaviour = Behaviour(api_key=args.api_key, honour_n=not args.ignore_n)
    with FaultServer(faults, behaviour, port=args.port) as server:
        print(f"serving {server.base_url} (fault rate {args.fault_rate})", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()


if __name__ == "__main__":
    main()
