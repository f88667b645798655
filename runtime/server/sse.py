"""A job's events as Server-Sent Events.

``event: message`` frames carry one event each, exactly as ``perstack run`` prints it,
with ``id:`` its position in the job's stream (1, 2, 3 …, stable across restarts); a
client reconnecting with ``Last-Event-ID: n`` gets the events after n. ``event: error``
says why a run failed; ``event: complete`` ends the stream once the job's run has
stopped. Keep-alive comments go out while nothing happens.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import orjson

if TYPE_CHECKING:
    from runtime.server.executor_base import ExecutorBase
    from runtime.server.records import ApiJob, ServerRecords

__all__ = ["job_stream"]


#: At most this many events per chunk written to the client.
_BATCH = 256


def _frames(lines: list[bytes], start: int, end: int) -> bytes:
    """``message`` frames of ``lines[start:end]``, ids counted from 1."""
    return b"".join(_frame("message", lines[index], index + 1) for index in range(start, end))


def _frame(event: str, data: bytes, event_id: int | None = None) -> bytes:
    head = f"event: {event}\n" + (f"id: {event_id}\n" if event_id is not None else "")
    return head.encode() + b"data: " + data + b"\n\n"


async def job_stream(
    executor: ExecutorBase,
    records: ServerRecords,
    job: ApiJob,
    after: int,
    keep_alive: float,
) -> AsyncIterator[bytes]:
    """The frames of ``job``'s stream after event ``after``, until the run stops."""
    channel = executor.channels.get(job.id)
    if channel is None or (not channel.running and not executor.is_running(job.id)):
        # Not running in this process: the whole stored stream, then how it ended.
        current = records.load(job.id) or job
        lines = records.read_events(job.id)
        for start in range(after, len(lines), _BATCH):
            yield _frames(lines, start, min(start + _BATCH, len(lines)))
        if current.status == "running":  # left running by a server that stopped
            return
        yield _end(current.id, current.status, current.error)
        return
    sent = after
    while True:
        if executor.stopping.is_set():
            return  # the server is stopping: the client reconnects with Last-Event-ID
        lines = channel.lines
        while sent < len(lines):
            # What came since the last wake-up goes out as one write: a step's events
            # arrive together, and each chunk costs the server's thread a trip through
            # the ASGI stack (time the job's thread waits for the GIL).
            end = min(len(lines), sent + _BATCH)
            yield _frames(lines, sent, end)
            sent = end
        if not channel.running:
            yield _end(job.id, channel.status, channel.error)
            return
        if not await channel.wait(sent, keep_alive):
            yield b": keep-alive\n\n"


def _end(job_id: str, status: str, error: str | None) -> bytes:
    frames = b""
    if error is not None:
        payload = {"type": "error", "jobId": job_id, "message": error}
        frames += _frame("error", orjson.dumps(payload))
    return frames + _frame("complete", orjson.dumps({"status": status, "jobId": job_id}))
