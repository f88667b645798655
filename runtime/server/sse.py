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
    from runtime.server.executor import EmbeddedExecutor
    from runtime.server.records import ApiJob, ServerRecords

__all__ = ["job_stream"]


def _frame(event: str, data: bytes, event_id: int | None = None) -> bytes:
    head = f"event: {event}\n" + (f"id: {event_id}\n" if event_id is not None else "")
    return head.encode() + b"data: " + data + b"\n\n"


async def job_stream(
    executor: EmbeddedExecutor,
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
        for index in range(after, len(lines)):
            yield _frame("message", lines[index], index + 1)
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
            yield _frame("message", lines[sent], sent + 1)
            sent += 1
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
