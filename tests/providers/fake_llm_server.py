"""A loopback HTTP server that speaks the Anthropic and OpenAI wire protocols, scripted per test.

It answers ``POST …/v1/messages`` as the Anthropic Messages API and ``POST …/chat/completions``
as OpenAI Chat Completions (plain, Azure deployment and ``/v1`` paths alike), streamed as SSE
when the request says ``"stream": true`` and as one JSON body otherwise. Each request takes
the next scripted reply; every request is recorded (method, target, headers, JSON body) so a
test can assert on the exact wire request an SDK sent. It also accepts absolute-form targets,
so it can stand in for an HTTP proxy.

The server runs uvicorn on its own thread and event loop, on a socket bound before the
thread starts: clients can connect at once, and it serves async tests, sync tests and CLI
subprocesses alike. Run it as a script for a long-lived instant model::

    python tests/providers/fake_llm_server.py --text "Done."

or, for benchmarks, one that loops: it calls a tool until the run has taken as many steps
as the number in its query says (``perstack run looper 200`` takes 200 steps), and prints
each request's arrival time (``time.monotonic()``, comparable across processes), path, and
whether an SDK sent it (``sdk`` or ``-``)::

    python tests/providers/fake_llm_server.py --tool readTextFile --tool-args '{"path": "a"}' --log
"""

from __future__ import annotations

import argparse
import asyncio
import re
import socket
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

# A sibling module: this directory is on sys.path under pytest and when run as a script.
from fake_llm_replies import (
    AnthropicReply,
    ErrorReply,
    OpenAIReply,
    Reply,
    StallReply,
    StreamErrorReply,
    ToolCallSpec,
)

__all__ = [
    "RecordedRequest",
    "ToolCallSpec",
    "AnthropicReply",
    "OpenAIReply",
    "ErrorReply",
    "StreamErrorReply",
    "StallReply",
    "FakeLLMServer",
]

Send = Callable[[dict[str, Any]], Any]
Receive = Callable[[], Any]


@dataclass
class RecordedRequest:
    """One request as the server received it."""

    method: str
    target: str  # path (or absolute URL, through a proxy) and query
    headers: dict[str, str]  # lower-case names; repeated headers keep the last value
    body: Any  # parsed JSON (None when the body was empty)
    client_port: int = 0  # the client's port: equal ports mean a reused connection

    @property
    def path(self) -> str:
        return self.target.split("?", 1)[0]

    @property
    def query(self) -> str:
        return self.target.split("?", 1)[1] if "?" in self.target else ""


class FakeLLMServer:
    """The scripted server. ``enqueue`` replies, run SDK clients against ``base_url``.

    Args:
        responder: Builds the reply when the script is empty (an "instant model");
            without one, an unscripted request gets a 500 that names the problem.
        record: Keep every request in :attr:`requests` (benchmarks turn it off: a long
            run's histories would pile up in memory).
    """

    def __init__(
        self,
        responder: Callable[[RecordedRequest], Reply] | None = None,
        *,
        record: bool = True,
    ) -> None:
        self.responder = responder
        self.record = record
        #: Seconds to wait before each reply (0: answer at once).
        self.latency = 0.0
        self.requests: list[RecordedRequest] = []
        self._script: deque[Reply] = deque()
        self._stalls: list[StallReply] = []
        self._lock = threading.Lock()
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None

    # --- lifecycle -----------------------------------------------------------------

    def start(self) -> FakeLLMServer:
        """Bind a loopback port and serve on a background thread; returns at once."""
        import uvicorn

        # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY on accepted sockets only when the
        # protocol says TCP, and without it small SSE frames wait ~40 ms for delayed ACKs.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        sock.listen(128)  # connections queue here until uvicorn accepts them
        self._socket = sock
        config = uvicorn.Config(
            self._app,
            lifespan="off",
            log_level="error",
            access_log=False,
            http=_one_write_h11_protocol(),
            loop="asyncio",
            interface="asgi3",
            timeout_graceful_shutdown=1,
            # uvicorn closes an idle connection after 5 s by default; a busy CI box can take
            # longer than that to import an SDK between two requests of one client, and the
            # tests assert that the connection is reused (real APIs keep it far longer).
            timeout_keep_alive=120,
            # Nothing a test asserts on, and each costs the instant model time per request.
            proxy_headers=False,
            server_header=False,
            date_header=False,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, name="fake-llm", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and release any stalled stream."""
        for reply in [*self._script, *self._stalls]:
            if isinstance(reply, StallReply):
                reply.released.set()
        if self._server is not None:
            self._server.should_exit = True
            self._server.force_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)

    def __enter__(self) -> FakeLLMServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._socket is not None, "start() the server first"
        return self._socket.getsockname()[1]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # --- scripting -----------------------------------------------------------------

    def enqueue(self, *replies: Reply) -> None:
        """Queue replies; each request takes the next one."""
        with self._lock:
            self._script.extend(replies)

    def reset(self) -> None:
        """Forget the script and the recorded requests (between tests)."""
        with self._lock:
            self._script.clear()
            self.requests.clear()
        self.responder = None

    def _next(self, request: RecordedRequest) -> Reply:
        with self._lock:
            if self.record:
                self.requests.append(request)
            if self._script:
                reply = self._script.popleft()
            elif self.responder is not None:
                reply = self.responder(request)
            else:
                reply = ErrorReply(500, f"fake server: no reply scripted for {request.target}")
            if isinstance(reply, StallReply):
                self._stalls.append(reply)
            return reply

    # --- the ASGI application ------------------------------------------------------

    async def _app(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        raw = b"".join(chunks)
        query = scope["query_string"].decode()
        target = scope["path"] + (f"?{query}" if query else "")
        request = RecordedRequest(
            method=scope["method"],
            target=target,
            headers={k.decode().lower(): v.decode() for k, v in scope["headers"]},
            body=orjson.loads(raw) if raw else None,
            client_port=(scope.get("client") or ("", 0))[1],
        )
        if scope["path"].endswith("/v1/messages"):
            protocol = "anthropic"
        elif scope["path"].endswith("/chat/completions"):
            protocol = "openai"
        else:
            await _json(send, 404, {"error": {"message": f"no route {scope['path']}"}})
            return
        reply = self._next(request)
        if self.latency:  # a real model's time to answer (bench_compare's --latency-ms)
            await asyncio.sleep(self.latency)
        await _answer(reply, protocol, request, send, receive)


def _one_write_h11_protocol() -> type[asyncio.Protocol]:
    """uvicorn's h11 protocol, with the writes of one event-loop iteration sent together.

    uvicorn writes a response's head, its body and the end of the chunked body separately,
    and every write wakes the client. An instant model has the whole answer ready at once,
    so it goes out in one write, as intended (see :func:`_sse`); the bytes are the same.
    """
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class OneWriteH11Protocol(H11Protocol):
        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(_CoalescingTransport(transport))  # type: ignore[arg-type]

    return OneWriteH11Protocol


class _CoalescingTransport:
    """A transport whose writes are joined and sent at the end of the loop iteration."""

    def __init__(self, transport: asyncio.Transport) -> None:
        self._transport = transport
        self._pending: list[bytes] = []

    def write(self, data: bytes) -> None:
        if not data:
            return
        if not self._pending:
            asyncio.get_running_loop().call_soon(self._flush)
        self._pending.append(bytes(data))

    def _flush(self) -> None:
        if self._pending:
            data = b"".join(self._pending)
            self._pending.clear()
            if not self._transport.is_closing():
                self._transport.write(data)

    def close(self) -> None:
        self._flush()
        self._transport.close()

    def __getattr__(self, name: str) -> Any:  # everything else is the real transport's
        return getattr(self._transport, name)


async def _answer(
    reply: Reply, protocol: str, request: RecordedRequest, send: Send, receive: Receive
) -> None:
    body = request.body if isinstance(request.body, dict) else {}
    model = body.get("model", "fake-model")
    streaming = bool(body.get("stream"))
    if isinstance(reply, ErrorReply):
        await _json(send, reply.status, reply.payload(protocol), reply.headers)
        return
    if isinstance(reply, StreamErrorReply):
        if protocol == "anthropic":
            events = list(AnthropicReply(text="partial").events(model))[:3]
            error = {"type": "error", "error": {"type": reply.error_type, "message": reply.message}}
            await _sse(send, [*events, ("error", error)])
        else:
            chunks = list(OpenAIReply(text="partial").chunks(model, include_usage=False))[:2]
            error = {"error": {"message": reply.message, "type": reply.error_type}}
            await _sse(send, [*((None, c) for c in chunks), (None, error)])
        return
    if isinstance(reply, StallReply):
        events = _stream_events(reply.reply, protocol, model, body)
        await _sse(send, events[: reply.events], more=True)
        # Hang until the client gives up (disconnects) or the test releases the stall.
        waiter = asyncio.ensure_future(receive())
        released = asyncio.ensure_future(asyncio.to_thread(reply.released.wait))
        await asyncio.wait({waiter, released}, return_when=asyncio.FIRST_COMPLETED)
        waiter.cancel()
        reply.released.set()
        return
    if streaming:
        await _sse(send, _stream_events(reply, protocol, model, body))
    elif isinstance(reply, AnthropicReply):
        await _json(send, 200, reply.message(model))
    else:
        await _json(send, 200, reply.completion(model))


def _stream_events(
    reply: AnthropicReply | OpenAIReply, protocol: str, model: str, body: dict[str, Any]
) -> list[tuple[str | None, Any]]:
    if protocol == "anthropic":
        if not isinstance(reply, AnthropicReply):
            raise TypeError("an Anthropic request needs an AnthropicReply")
        return list(reply.events(model))
    if not isinstance(reply, OpenAIReply):
        raise TypeError("an OpenAI request needs an OpenAIReply")
    include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
    events: list[tuple[str | None, Any]] = [(None, c) for c in reply.chunks(model, include_usage)]
    events.append((None, "[DONE]"))
    return events


async def _json(
    send: Send, status: int, payload: Any, headers: dict[str, str] | None = None
) -> None:
    data = orjson.dumps(payload)
    raw_headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(data)).encode()),
    ]
    raw_headers += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw_headers})
    await send({"type": "http.response.body", "body": data})


async def _sse(send: Send, events: list[tuple[str | None, Any]], *, more: bool = False) -> None:
    """Send the events as SSE frames; ``more`` leaves the stream open (a stall).

    An instant model has every event ready at once, so they go out in one write: the client
    still parses them one by one, and the server's cost stays out of the measurements.
    """
    headers = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    frames = []
    for name, data in events:
        if name:
            frames.append(b"event: " + name.encode() + b"\n")
        payload = data.encode() if isinstance(data, str) else orjson.dumps(data)
        frames.append(b"data: " + payload + b"\n\n")
    await send({"type": "http.response.body", "body": b"".join(frames), "more_body": more})


def main() -> None:
    """Serve an instant model until interrupted; prints the base URL on stdout."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--text", default="Done.", help="the answer to every request")
    parser.add_argument("--chunk", type=int, default=0, help="characters per delta (0: all)")
    parser.add_argument(
        "--tool",
        help="call this tool at every step until the run has taken as many steps as the "
        "first number in its query (default 1), then answer --text",
    )
    parser.add_argument("--tool-args", default="{}", help="the tool call's arguments (JSON)")
    parser.add_argument(
        "--latency-ms", type=int, default=0, help="wait this long before each reply"
    )
    parser.add_argument(
        "--log",
        action="store_true",
        help="print each request's time.monotonic(), path and sender (sdk or -) on stdout",
    )
    args = parser.parse_args()
    answer = InstantModel(args.text, args.chunk, args.tool, args.tool_args, log=args.log)
    server = FakeLLMServer(answer, record=False)
    server.latency = args.latency_ms / 1000
    server.start()
    print(server.base_url, flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        server.stop()


class InstantModel:
    """The script's responder: a text answer, or a tool call per step for a set count."""

    def __init__(
        self, text: str, chunk: int, tool: str | None, tool_args: str, *, log: bool
    ) -> None:
        self.text = text
        self.chunk = chunk or max(1, len(text))
        self.tool = tool
        self.tool_args = tool_args
        self.log = log

    def __call__(self, request: RecordedRequest) -> Reply:
        if self.log:
            via = "sdk" if "x-stainless-lang" in request.headers else "-"  # sent by an SDK?
            sys.stdout.write(f"{time.monotonic():.6f} {request.target} {via}\n")
            sys.stdout.flush()
        reply = AnthropicReply if request.path.endswith("/v1/messages") else OpenAIReply
        messages = request.body["messages"]
        if self.tool is not None:
            turns = sum(1 for m in messages if m["role"] == "assistant")
            if turns + 1 < _steps(messages):
                call = ToolCallSpec(f"call_{turns}", self.tool, self.tool_args)
                return reply(tool_calls=[call], chunk=self.chunk)
        return reply(text=self.text, chunk=self.chunk)


def _steps(messages: list[dict[str, Any]]) -> int:
    """The first number in the run's query (the first user message), or 1."""
    user = next(m for m in messages if m["role"] == "user")
    content = user["content"]
    if not isinstance(content, str):
        content = " ".join(block.get("text", "") for block in content)
    found = re.search(r"\d+", content)
    return int(found.group()) if found else 1


if __name__ == "__main__":
    main()
