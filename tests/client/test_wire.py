"""The async and sync clients over real HTTP, against the stand-in server of wire_server.py."""

from __future__ import annotations

import asyncio
import socket

import pytest

from runtime.client import PerstackClient, StreamCompletion, SyncPerstackClient
from runtime.events import parse_event
from tests.client.wire_server import API_KEY, MAX_BODY, WireState, sample_events, serve

TOOL_RESULT = {"toolCallId": "t1", "toolName": "ask", "skillName": "base", "text": "yes"}


@pytest.fixture
def wire():
    with serve() as (url, state):
        yield url, state


def seeded(state: WireState, steps: int = 4) -> list[dict]:
    """A completed job ``done`` with files, checkpoints and a stream; the rebuilt events."""
    state.add_job("done", totalSteps=steps)
    state.add_job("other", applicationId="second", status="stoppedByError")
    state.files["done"] = {"notes/a.md": b"# notes\n", "out/result.bin": b"\x00\x01\xff"}
    compact, upstream = sample_events("done", steps)
    state.events["done"] = compact
    state.checkpoints["done"] = [e["checkpoint"] for e in upstream if "checkpoint" in e]
    return [parse_event(e).model_dump() for e in upstream]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- async ---------------------------------------------------------------------------


async def test_every_job_method_over_http(wire) -> None:
    url, state = wire
    seeded(state)
    async with PerstackClient(url, api_key=API_KEY) as client:
        started = await client.jobs.start(
            application_id="default", expert_key="writer", query="hi", provider="anthropic"
        )
        assert started.ok, started.error
        job = started.data
        assert (job.status, job.application_id, job.raw["provider"]) == ("running", "default", "anthropic")
        assert (await client.jobs.get(job.id)).data == job

        page = (await client.jobs.list()).data
        assert [j.id for j in page.jobs] == [job.id, "other", "done"]  # newest first
        assert (page.total, page.take, page.skip) == (3, 20, 0)
        page = (await client.jobs.list(application_id="default", take=1, skip=1)).data
        assert ([j.id for j in page.jobs], page.total) == (["done"], 2)
        assert [j.id for j in (await client.jobs.list(status="stoppedByError")).data.jobs] == ["other"]

        running = await client.jobs.continue_(job.id, query="more")
        assert (running.error.type, running.error.status, running.error.code) == ("http", 409, "conflict")
        assert (await client.jobs.cancel(job.id)).data.status == "cancelled"
        resumed = await client.jobs.continue_(job.id, interactive_tool_call_result=TOOL_RESULT)
        assert resumed.data.status == "running"
        assert resumed.data.raw["continuedWith"] == {"interactiveToolCallResult": TOOL_RESULT}

        checkpoints = (await client.jobs.checkpoints("done")).data
        assert [c["id"] for c in checkpoints] == ["cp1", "cp2", "cp3", "cp4", "cp5"]
        one = await client.jobs.checkpoint("done", "cp3")
        assert one.data == checkpoints[2]
        assert (await client.jobs.checkpoint("done", "nope")).error.status == 404

        files = (await client.jobs.files("done")).data
        assert [(f.path, f.size) for f in files] == [("notes/a.md", 8), ("out/result.bin", 3)]
        assert (await client.jobs.file("done", "out/result.bin")).data == b"\x00\x01\xff"
        assert (await client.jobs.file("done", "missing.txt")).error.status == 404
    assert all(r.headers.get("Authorization") == f"Bearer {API_KEY}" for r in state.requests)


async def test_server_errors_over_http(wire) -> None:
    url, state = wire
    async with PerstackClient(url, api_key="wrong-key") as client:
        denied = await client.jobs.get("done")
        assert (denied.error.type, denied.error.status, denied.error.code) == ("http", 401, "unauthorized")
        assert "wrong-key" not in denied.error.message
    async with PerstackClient(url, api_key=API_KEY) as client:
        missing = await client.jobs.get("nope")
        assert (missing.error.status, missing.error.code) == (404, "notFound")
        unknown = await client.jobs.start(application_id="nope", expert_key="writer", query="q")
        assert unknown.error.status == 404
        empty = await client.jobs.start(application_id="default", expert_key="writer", query="")
        assert (empty.error.status, empty.error.details) == (422, {"field": "query"})
        big = await client.jobs.start(
            application_id="default", expert_key="writer", query="x" * (MAX_BODY + 1)
        )
        assert (big.error.type, big.error.status) == ("http", 413)


async def test_a_stream_dropped_twice_resumes_with_last_event_id_and_loses_nothing(wire) -> None:
    url, state = wire
    expected = seeded(state, steps=5)
    state.drops["done"] = [(3, "abrupt"), (4, "clean")]
    state.error_frames["done"] = {2: {"type": "toolError", "jobId": "done", "message": "retrying"}}
    async with PerstackClient(url, api_key=API_KEY, stream_backoff=0) as client:
        async with client.jobs.stream("done") as stream:
            events = [event.model_dump() async for event in stream]
    assert events == expected  # in order, each once, with full histories
    assert [r.headers.get("Last-Event-ID") for r in state.stream_requests("done")] == [None, "3", "7"]
    assert stream.reconnects == 2
    assert stream.result.ok and stream.completion == StreamCompletion("completed", "done")
    assert [e.message for e in stream.errors] == ["retrying"]


async def test_a_stream_of_an_unknown_job_is_an_http_error(wire) -> None:
    url, _ = wire
    async with PerstackClient(url, api_key=API_KEY) as client:
        stream = client.jobs.stream("nope")
        assert [e async for e in stream] == []
    assert (stream.result.error.type, stream.result.error.status) == ("http", 404)


async def test_a_slow_server_is_a_timeout(wire) -> None:
    url, _ = wire
    async with PerstackClient(url, api_key=API_KEY, timeout=0.2) as client:
        result = await client.jobs.get("slow")
    assert result.error.type == "timeout"


async def test_a_body_that_breaks_the_schema_is_a_validation_error(wire) -> None:
    url, _ = wire
    async with PerstackClient(url, api_key=API_KEY) as client:
        result = await client.jobs.get("broken")
    assert result.error.type == "validation" and result.error.details == {"field": "data.job.id"}


async def test_a_cancelled_call_raises_cancelled_error_and_an_aborted_one_returns_abort(wire) -> None:
    url, state = wire
    async with PerstackClient(url, api_key=API_KEY) as client:
        task = asyncio.ensure_future(client.jobs.get("slow"))
        await asyncio.to_thread(state.slow_arrived.wait, 5)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert task.cancelled()

        state.slow_arrived.clear()
        signal = asyncio.Event()
        call = asyncio.ensure_future(client.jobs.get("slow", signal=signal))
        await asyncio.to_thread(state.slow_arrived.wait, 5)
        signal.set()
        result = await call
        assert result.error.type == "abort"
        state.release.set()
        assert (await client.jobs.get("nope")).error.status == 404  # the client still works


async def test_a_refused_connection_is_a_network_error() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    async with PerstackClient(url, api_key=API_KEY, stream_backoff=0, stream_retries=2) as client:
        result = await client.jobs.get("done")
        stream = client.jobs.stream("done")
        assert [e async for e in stream] == []
    assert result.error.type == "network" and result.error.status is None
    assert API_KEY not in result.error.message
    assert stream.result.error.type == "network" and stream.reconnects == 2


# --- sync ----------------------------------------------------------------------------


def test_the_sync_client_over_http(wire) -> None:
    url, state = wire
    expected = seeded(state, steps=3)
    state.drops["done"] = [(2, "abrupt")]
    with SyncPerstackClient(url, api_key=API_KEY, stream_backoff=0) as client:
        job = client.jobs.start(application_id="default", expert_key="writer", query="q").data
        assert client.jobs.get(job.id).data.id == job.id
        assert [j.id for j in client.jobs.list(take=2).data.jobs] == [job.id, "other"]
        assert client.jobs.continue_(job.id, query="more").error.status == 409
        assert client.jobs.cancel(job.id).data.status == "cancelled"
        assert client.jobs.continue_(job.id, query="more").data.status == "running"
        assert len(client.jobs.checkpoints("done").data) == 4
        assert client.jobs.checkpoint("done", "cp2").data["id"] == "cp2"
        assert [f.path for f in client.jobs.files("done").data] == ["notes/a.md", "out/result.bin"]
        assert client.jobs.file("done", "notes/a.md").data == b"# notes\n"
        with client.jobs.stream("done") as stream:
            events = [event.model_dump() for event in stream]
        assert events == expected
        assert stream.result.ok and stream.reconnects == 1
        assert [r.headers.get("Last-Event-ID") for r in state.stream_requests("done")] == [None, "2"]
        assert client.jobs.get("broken").error.type == "validation"
    with SyncPerstackClient(url, api_key=API_KEY, timeout=0.2) as client:
        assert client.jobs.get("slow").error.type == "timeout"
    with SyncPerstackClient(f"http://127.0.0.1:{free_port()}", api_key=API_KEY) as client:
        assert client.jobs.get("done").error.type == "network"
