"""Job event streams against ``httpx2.MockTransport``: reconnection, ends and failures."""

from __future__ import annotations

import asyncio

import httpx2
import orjson
import pytest

from runtime.client import PerstackClient, PerstackClientError, StreamCompletion
from tests.client.wire_server import sample_events

KEY = "sk-stream-secret"
BASE = "http://perstack.test"
COMPACT, UPSTREAM = sample_events("job-1", 3)


def frames(start: int = 0, stop: int | None = None, complete: bool = True) -> list[bytes]:
    out = [b": hello\n\n"]
    for number in range(start + 1, min(stop or len(COMPACT), len(COMPACT)) + 1):
        out.append(b"event: message\nid: %d\ndata: %s\n\n" % (number, orjson.dumps(COMPACT[number - 1])))
    if complete:
        out.append(b'event: complete\ndata: {"status": "completed", "jobId": "job-1"}\n\n')
    return out


def sse(chunks: list[bytes], fail: Exception | None = None) -> httpx2.Response:
    async def body():
        for chunk in chunks:
            yield chunk
        if fail is not None:
            raise fail

    return httpx2.Response(200, headers={"Content-Type": "text/event-stream"}, content=body())


class Server:
    """Answers each stream request with the next planned answer (a function of the
    Last-Event-ID it got); records the ids."""

    def __init__(self, *plan) -> None:
        self.plan = list(plan)
        self.last_ids: list[str | None] = []

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        assert request.headers["authorization"] == f"Bearer {KEY}"
        assert request.headers["accept"] == "text/event-stream"
        last = request.headers.get("last-event-id")
        self.last_ids.append(last)
        answer = self.plan.pop(0) if len(self.plan) > 1 else self.plan[0]
        return answer(int(last or 0))


def client(server: Server, **kwargs) -> PerstackClient:
    kwargs.setdefault("stream_backoff", 0)
    return PerstackClient(BASE, api_key=KEY, transport=httpx2.MockTransport(server), **kwargs)


def dumps(events) -> list[dict]:
    return [e.model_dump() for e in events]


def expected() -> list[dict]:
    from runtime.events import parse_event

    return [parse_event(e).model_dump() for e in UPSTREAM]


async def test_a_whole_stream_yields_every_event_rebuilt_and_its_completion() -> None:
    server = Server(lambda last: sse(frames(last)))
    async with client(server).jobs.stream("job-1") as stream:
        events = [e async for e in stream]
    assert dumps(events) == expected()
    assert stream.result.ok and stream.completion == StreamCompletion("completed", "job-1")
    assert stream.result.data == stream.completion
    assert stream.last_event_id == str(len(COMPACT)) and stream.reconnects == 0
    assert server.last_ids == [None]


async def test_a_dropped_stream_resumes_after_the_last_event_with_the_same_rebuilder() -> None:
    server = Server(
        lambda last: sse(frames(last, 3, complete=False), httpx2.ReadError("reset")),
        lambda last: sse(frames(last, 5, complete=False)),  # ends cleanly, no complete
        lambda last: sse(frames(last)),
    )
    stream = client(server).jobs.stream("job-1")
    events = [e async for e in stream]
    assert dumps(events) == expected()  # none lost, none twice, histories full
    assert server.last_ids == [None, "3", "5"]
    assert stream.reconnects == 2 and stream.result.ok


async def test_events_sent_again_after_a_reconnection_are_not_yielded_twice() -> None:
    server = Server(
        lambda last: sse(frames(0, 4, complete=False), httpx2.ReadError("reset")),
        lambda last: sse(frames(2)),  # a server that replays from an earlier id
    )
    events = [e async for e in client(server).jobs.stream("job-1")]
    assert dumps(events) == expected()


async def test_a_stream_that_keeps_dropping_fails_with_network_after_its_retries() -> None:
    server = Server(lambda last: sse(frames(last, last + 1, complete=False), httpx2.ReadError("x")))
    stream = client(server, stream_retries=2).jobs.stream("job-1")
    events = [e async for e in stream]
    # Each connection delivers one more event, which resets the count: all arrive...
    assert len(events) == len(COMPACT)
    # ...and then the connections that deliver nothing use up the retries.
    assert stream.result.error.type == "network"
    assert "gave up after 2" in stream.result.error.message
    assert stream.completion is None


async def test_a_server_replaying_only_old_events_cannot_keep_the_stream_alive() -> None:
    server = Server(lambda last: sse(frames(0, 2, complete=False), httpx2.ReadError("x")))
    stream = client(server, stream_retries=3).jobs.stream("job-1")
    assert [e.id for e in [e async for e in stream]] == [e["id"] for e in UPSTREAM[:2]]
    assert stream.result.error.type == "network"
    assert server.last_ids == [None, "2", "2", "2"]  # the first try, then 3 retries


async def test_a_server_that_times_out_fails_with_timeout_after_its_retries() -> None:
    def fail(last):
        raise httpx2.ReadTimeout("silent")

    server = Server(fail)
    stream = client(server, stream_retries=3).jobs.stream("job-1")
    assert [e async for e in stream] == []
    assert stream.result.error.type == "timeout" and len(server.last_ids) == 4


async def test_a_4xx_answer_ends_the_stream_at_once_and_a_5xx_is_retried() -> None:
    missing = Server(lambda last: httpx2.Response(404, json={"error": {"type": "notFound", "message": "no job"}}))
    stream = client(missing).jobs.stream("job-1")
    assert [e async for e in stream] == []
    assert (stream.result.error.type, stream.result.error.status) == ("http", 404)
    assert len(missing.last_ids) == 1
    flaky = Server(lambda last: httpx2.Response(503, json={}), lambda last: sse(frames(last)))
    stream = client(flaky).jobs.stream("job-1")
    assert len([e async for e in stream]) == len(COMPACT) and stream.result.ok


@pytest.mark.parametrize(
    "bad",
    [
        b"event: message\nid: 1\ndata: {not json\n\n",
        b"event: message\nid: 1\ndata: [1]\n\n",
        b'event: message\nid: 1\ndata: {"type": "noSuchEvent"}\n\n',
        b'event: complete\ndata: {"status": "completed"}\n\n',
    ],
)
async def test_a_frame_that_breaks_the_protocol_ends_the_stream_with_validation(bad) -> None:
    server = Server(lambda last: sse([bad, *frames(1)]))
    stream = client(server).jobs.stream("job-1")
    assert [e async for e in stream] == []
    assert stream.result.error.type == "validation" and len(server.last_ids) == 1


async def test_resuming_without_the_earlier_events_cannot_rebuild_and_says_so() -> None:
    server = Server(lambda last: sse(frames(last)))
    stream = client(server).jobs.stream("job-1", last_event_id="3")
    assert [e async for e in stream] == []
    assert server.last_ids == ["3"]
    assert stream.result.error.type == "validation"
    assert stream.result.error.details == {"field": "messagesBase"}


async def test_error_frames_are_collected_and_the_stream_goes_on() -> None:
    error = b'event: error\ndata: {"type": "runError", "jobId": "job-1", "message": "oops"}\n\n'
    chunks = frames(0, 2, complete=False) + [error] + frames(2)[1:]
    stream = client(Server(lambda last: sse(chunks))).jobs.stream("job-1")
    assert len([e async for e in stream]) == len(COMPACT)
    assert [(e.type, e.message) for e in stream.errors] == [("runError", "oops")]
    assert stream.result.ok


async def test_raise_on_error_raises_at_the_end_of_a_failed_stream() -> None:
    server = Server(lambda last: httpx2.Response(401, json={"error": {"type": "unauthorized", "message": "no"}}))
    with pytest.raises(PerstackClientError) as info:
        async for _ in client(server).jobs.stream("job-1", raise_on_error=True):
            pass
    assert info.value.error.status == 401


async def test_setting_the_signal_aborts_a_waiting_stream() -> None:
    waiting, signal = asyncio.Event(), asyncio.Event()

    def answer(last):
        async def body():
            yield frames(0, 1, complete=False)[1]
            waiting.set()
            await asyncio.Event().wait()
            yield b""

        return httpx2.Response(200, headers={"Content-Type": "text/event-stream"}, content=body())

    stream = client(Server(answer)).jobs.stream("job-1", signal=signal)
    first = await anext(stream)
    assert first.type == "startRun"
    await waiting.wait()
    signal.set()
    assert [e async for e in stream] == []
    assert stream.result.error.type == "abort"


async def test_leaving_the_loop_early_closes_the_stream() -> None:
    closed = asyncio.Event()

    def answer(last):
        async def body():
            try:
                yield frames(0, 1, complete=False)[1]
                await asyncio.Event().wait()
                yield b""
            finally:
                closed.set()

        return httpx2.Response(200, headers={"Content-Type": "text/event-stream"}, content=body())

    stream = client(Server(answer)).jobs.stream("job-1")
    async with stream:
        async for _ in stream:
            break
    producer = stream._producer
    assert producer is None and closed.is_set()
    assert stream.result.error.type == "abort"
    assert [e async for e in stream] == []


def test_the_sync_stream_stops_at_its_signal_between_events() -> None:
    import threading

    from runtime.client import SyncPerstackClient

    def answer(request):
        return httpx2.Response(
            200, headers={"Content-Type": "text/event-stream"}, content=iter(frames())
        )

    signal = threading.Event()
    with SyncPerstackClient(BASE, api_key=KEY, transport=httpx2.MockTransport(answer)) as sync:
        stream = sync.jobs.stream("job-1", signal=signal)
        first = next(stream)
        signal.set()
        assert first.type == "startRun" and list(stream) == []
        assert stream.result.error.type == "abort" and stream.completion is None
        whole = sync.jobs.stream("job-1")
        assert [e.model_dump() for e in whole] == expected() and whole.result.ok
