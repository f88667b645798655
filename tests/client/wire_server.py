"""A stand-in for the Execution API server, for testing the client over real HTTP.

Only the standard library (``http.server`` in a thread, on a free port of 127.0.0.1). It
speaks the wire protocol the client expects, from the state in :class:`WireState`,
which a test sets up and inspects:

* ``jobs`` and ``files``, ``checkpoints`` per job; ``applications`` and ``experts``;
* ``events[job_id]``: the compact event JSON objects its stream sends, ids 1, 2, 3...;
* ``drops[job_id]``: one entry per connection to come, ``(n, how)``: after ``n``
  events, cut the stream: ``"abrupt"`` closes the socket mid-frame (an incomplete
  chunked body), ``"clean"`` ends the body properly (but without ``complete``);
* ``error_frames[job_id][n]``: an ``error`` frame sent after event ``n``;
* the job ``slow`` sets ``slow_arrived`` and answers only once ``release`` is set
  (at the latest when the server stops); the job ``broken`` answers with
  a job lacking its ``id``;
* ``requests``: every request received (method, path, headers).
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import orjson

API_KEY = "sk-wire-test-0123456789"
MAX_BODY = 16 * 1024


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]


@dataclass
class WireState:
    api_key: str = API_KEY
    applications: set[str] = field(default_factory=lambda: {"default"})
    experts: set[str] = field(default_factory=lambda: {"writer"})
    jobs: dict[str, dict[str, Any]] = field(default_factory=dict)
    files: dict[str, dict[str, bytes]] = field(default_factory=dict)
    checkpoints: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    events: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    drops: dict[str, list[tuple[int, str]]] = field(default_factory=dict)
    error_frames: dict[str, dict[int, dict[str, Any]]] = field(default_factory=dict)
    requests: list[Recorded] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)
    slow_arrived: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    clock: int = 1_700_000_000_000

    def add_job(self, job_id: str, status: str = "completed", **fields: Any) -> dict[str, Any]:
        with self.lock:
            self.clock += 1
            job = {
                "id": job_id,
                "applicationId": fields.pop("applicationId", "default"),
                "expertKey": fields.pop("expertKey", "writer"),
                "status": status,
                "createdAt": self.clock,
                "updatedAt": self.clock,
                "totalSteps": 0,
                "usage": {
                    "inputTokens": 10, "outputTokens": 5, "reasoningTokens": 0,
                    "totalTokens": 15, "cachedInputTokens": 0,
                },  # fmt: skip
                **fields,
            }
            self.jobs[job_id] = job
            return job

    def stream_requests(self, job_id: str) -> list[Recorded]:
        path = f"/api/v1/jobs/{job_id}/stream"
        return [r for r in self.requests if r.path == path]


class _Fail(Exception):
    def __init__(self, status: int, type_: str, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.status, self.type, self.message, self.details = status, type_, message, details


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    # --- plumbing ----------------------------------------------------------------------

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def _handle(self, method: str) -> None:
        state = self.server.state
        url = urlsplit(self.path)
        with state.lock:
            state.requests.append(Recorded(method, url.path, dict(self.headers.items())))
        try:
            body = self._body() if method == "POST" else None
            if url.path != "/health" and self.headers.get("Authorization") != (
                f"Bearer {state.api_key}"
            ):
                raise _Fail(401, "unauthorized", "missing or wrong API key")
            self._route(method, url.path, parse_qs(url.query), body)
        except _Fail as fail:
            error: dict[str, Any] = {"type": fail.type, "message": fail.message}
            if fail.details is not None:
                error["details"] = fail.details
            self._json(fail.status, {"error": error})

    def _body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            self.close_connection = True
            raise _Fail(413, "payloadTooLarge", f"the body exceeds {MAX_BODY} bytes")
        raw = self.rfile.read(length)
        try:
            return orjson.loads(raw) if raw else None
        except orjson.JSONDecodeError:
            raise _Fail(400, "badRequest", "malformed JSON") from None

    def _send(self, status: int, content: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(content)))
        self.end_headers()
        self.wfile.write(content)

    def _json(self, status: int, body: Any) -> None:
        self._send(status, orjson.dumps(body), "application/json")

    def _job(self, job_id: str) -> dict[str, Any]:
        job = self.server.state.jobs.get(job_id)
        if job is None:
            raise _Fail(404, "notFound", f"job {job_id} not found")
        return job

    # --- routes ------------------------------------------------------------------------

    def _route(self, method: str, path: str, query: dict[str, list[str]], body: Any) -> None:
        state = self.server.state
        if path == "/health" and method == "GET":
            return self._json(200, {"status": "ok"})
        parts = [unquote(p) for p in path.split("/")[1:]]
        if parts[:3] != ["api", "v1", "jobs"]:
            raise _Fail(404, "notFound", f"no route {path}")
        rest = parts[3:]
        if not rest and method == "POST":
            return self._start(body)
        if not rest and method == "GET":
            return self._list(query)
        job_id, rest = rest[0], rest[1:]
        if job_id == "slow":
            state.slow_arrived.set()
            state.release.wait(10)
        if job_id == "broken" and method == "GET" and not rest:
            return self._json(200, {"data": {"job": {"applicationId": "default"}}})
        job = self._job(job_id)
        if not rest and method == "GET":
            return self._json(200, {"data": {"job": job}})
        action = rest[0]
        if action == "continue" and method == "POST":
            return self._continue(job, body)
        if action == "cancel" and method == "POST":
            job.update(status="cancelled", updatedAt=job["updatedAt"] + 1)
            return self._json(200, {"data": {"job": job}})
        if action == "checkpoints" and method == "GET":
            checkpoints = state.checkpoints.get(job_id, [])
            if len(rest) == 1:
                return self._json(200, {"data": {"checkpoints": checkpoints}})
            for checkpoint in checkpoints:
                if checkpoint["id"] == rest[1]:
                    return self._json(200, {"data": {"checkpoint": checkpoint}})
            raise _Fail(404, "notFound", f"checkpoint {rest[1]} not found")
        if action == "files" and method == "GET":
            files = state.files.get(job_id, {})
            if len(rest) == 1:
                listing = [
                    {"path": p, "size": len(c), "modifiedAt": job["updatedAt"]}
                    for p, c in sorted(files.items())
                ]
                return self._json(200, {"data": {"files": listing}})
            file_path = "/".join(rest[1:])
            if file_path not in files:
                raise _Fail(404, "notFound", f"file {file_path} not found")
            return self._send(200, files[file_path], "application/octet-stream")
        if action == "stream" and method == "GET":
            return self._stream(job)
        raise _Fail(404, "notFound", f"no route {method} {path}")

    def _start(self, body: Any) -> None:
        state = self.server.state
        if not isinstance(body, dict):
            raise _Fail(422, "validation", "the body must be an object", {"field": "body"})
        for name in ("applicationId", "expertKey", "query"):
            if not isinstance(body.get(name), str) or not body[name]:
                raise _Fail(422, "validation", f"{name} is required", {"field": name})
        if body["applicationId"] not in state.applications:
            raise _Fail(404, "notFound", f"application {body['applicationId']} not found")
        if body["expertKey"] not in state.experts:
            raise _Fail(404, "notFound", f"expert {body['expertKey']} not found")
        extra = {k: body[k] for k in ("provider", "model") if k in body}
        job = state.add_job(
            f"job-{len(state.jobs) + 1}", "running",
            applicationId=body["applicationId"], expertKey=body["expertKey"],
            query=body["query"], **extra,
        )  # fmt: skip
        self._json(201, {"data": {"job": job}})

    def _list(self, query: dict[str, list[str]]) -> None:
        jobs = list(self.server.state.jobs.values())[::-1]
        for key in ("applicationId", "status"):
            if key in query:
                jobs = [j for j in jobs if j[key] == query[key][0]]
        take, skip = int(query.get("take", ["20"])[0]), int(query.get("skip", ["0"])[0])
        meta = {"total": len(jobs), "take": take, "skip": skip}
        self._json(200, {"data": {"jobs": jobs[skip : skip + take]}, "meta": meta})

    def _continue(self, job: dict[str, Any], body: Any) -> None:
        if job["status"] == "running":
            raise _Fail(409, "conflict", f"job {job['id']} is running")
        if not isinstance(body, dict) or not (
            isinstance(body.get("query"), str) or isinstance(body.get("interactiveToolCallResult"), dict)
        ):
            raise _Fail(422, "validation", "query or interactiveToolCallResult", {"field": "query"})
        job.update(status="running", updatedAt=job["updatedAt"] + 1, continuedWith=body)
        self._json(202, {"data": {"job": job}})

    def _stream(self, job: dict[str, Any]) -> None:
        state = self.server.state
        job_id = job["id"]
        events = state.events.get(job_id, [])
        start = int(self.headers.get("Last-Event-ID") or 0)
        with state.lock:
            plan = state.drops.get(job_id) or []
            drop = plan.pop(0) if plan else None
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Connection", "close")  # one stream per connection
        self.end_headers()
        self._chunk(b": keep-alive\n\n")
        errors = state.error_frames.get(job_id, {})
        for sent, number in enumerate(range(start + 1, len(events) + 1)):
            if drop is not None and sent == drop[0]:
                return self._cut(drop[1], number)
            data = orjson.dumps(events[number - 1])
            self._chunk(b"event: message\nid: %d\ndata: %s\n\n" % (number, data))
            if number in errors:
                self._chunk(b"event: error\ndata: %s\n\n" % orjson.dumps(errors[number]))
            if number % 2 == 0:
                self._chunk(b": keep-alive\n\n")
        if drop is not None:
            return self._cut(drop[1], len(events) + 1)
        complete = {"status": job["status"], "jobId": job_id}
        self._chunk(b"event: complete\ndata: %s\n\n" % orjson.dumps(complete))
        self.wfile.write(b"0\r\n\r\n")
        self.close_connection = True

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def _cut(self, how: str, number: int) -> None:
        self.close_connection = True
        if how == "clean":
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
            return
        # Half a frame, in a chunk that claims more bytes than it has, then the socket goes.
        partial = b'event: message\nid: %d\ndata: {"type": "startRun", "jo' % number
        self.wfile.write(b"%x\r\n%s" % (len(partial) + 100, partial))
        self.wfile.flush()
        self.connection.shutdown(socket.SHUT_RDWR)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, state: WireState) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.state = state

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that went away (a timeout, an abort) is part of the tests


@contextmanager
def serve(state: WireState | None = None) -> Iterator[tuple[str, WireState]]:
    """Run a stand-in server; yields its base URL and state."""
    state = state or WireState()
    server = _Server(state)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", state
    finally:
        state.release.set()
        server.shutdown()
        server.server_close()
        thread.join(5)


# --- a job's events ---------------------------------------------------------------------


def sample_events(job_id: str, steps: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """A run of ``steps`` steps: its events in the compact form (what the stream sends)
    and the same events in the full (upstream) form (what the client should rebuild)."""
    from runtime.engine.event_format import EventEncoder
    from runtime.events import CompleteRun, ContinueToNextStep, StartGeneration, StartRun
    from runtime.model import Checkpoint, ExpertRef, Step, TextPart, Usage, UserMessage

    expert = ExpertRef(key="writer", name="writer", version="1.0.0")
    common = {"job_id": job_id, "run_id": "run1", "expert_key": "writer"}

    def checkpoint(checkpoint_id: str, messages: list, step: int, status: str) -> Checkpoint:
        return Checkpoint(
            id=checkpoint_id, job_id=job_id, run_id="run1", status=status,
            step_number=step, messages=messages, expert=expert,
        )  # fmt: skip

    query = UserMessage(contents=[TextPart(text="query")])
    history: list = [query]
    current = checkpoint("cp1", history, 1, "init")
    events: list = [
        StartRun.make(
            **common, step_number=1, initial_checkpoint=current, input_messages=[query],
            id="e-start", timestamp=1,
        )  # fmt: skip
    ]
    for step in range(1, steps + 1):
        events.append(
            StartGeneration.make(
                **common, step_number=step, messages=list(history), id=f"e-gen{step}",
                timestamp=step,
            )  # fmt: skip
        )
        history = [*history, UserMessage(contents=[TextPart(text=f"answer {step}")])]
        done = current.model_copy(update={"messages": history, "status": "proceeding"})
        current = checkpoint(f"cp{step + 1}", history, step + 1, "proceeding")
        events.append(
            ContinueToNextStep.make(
                **common, step_number=step, checkpoint=done, next_checkpoint=current,
                step=Step(step_number=step, started_at=step), id=f"e-next{step}",
                timestamp=step,
            )  # fmt: skip
        )
    final = current.model_copy(update={"status": "completed"})
    events.append(
        CompleteRun.make(
            **common, step_number=steps + 1, checkpoint=final,
            step=Step(step_number=steps + 1, started_at=steps + 1), text="done",
            usage=Usage(), id="e-complete", timestamp=steps + 1,
        )  # fmt: skip
    )
    compact, upstream = EventEncoder("compact"), EventEncoder("upstream")
    return (
        [orjson.loads(compact.encode(e)) for e in events],
        [orjson.loads(upstream.encode(e)) for e in events],
    )
