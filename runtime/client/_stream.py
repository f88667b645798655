"""The state of one logical job event stream, across every reconnection.

One :class:`StreamState` per logical stream: it keeps the ``StreamRebuilder`` (a stream
resumed with ``Last-Event-ID`` skips the events already seen, whose checkpoints the later
compact events build on), the last event id, the server's ``error`` frames and, at the
end, the ``complete`` frame. The async and sync drivers only move bytes.
"""

from __future__ import annotations

from typing import Any

import orjson
from pydantic import ValidationError

from runtime.client._models import (
    SchemaError,
    StreamCompletion,
    StreamErrorFrame,
    read_completion,
    read_error_frame,
)
from runtime.client._results import ClientError, Result
from runtime.client._sse import SSEFrame
from runtime.events import BaseEvent, parse_event
from runtime.views.checkpoints import StreamRebuilder, UnresolvedBase

__all__ = ["StreamInvalid", "StreamState", "backoff_delay", "gave_up", "is_retryable_status"]

#: The longest pause between two reconnection attempts, in seconds.
MAX_BACKOFF = 5.0


class StreamInvalid(Exception):
    """A frame broke the protocol: the stream ends with this ``validation`` error."""

    def __init__(self, error: ClientError) -> None:
        super().__init__(error.message)
        self.error = error


def _invalid(message: str, field: str) -> StreamInvalid:
    return StreamInvalid(ClientError(type="validation", message=message, details={"field": field}))


def is_retryable_status(status: int) -> bool:
    """Whether a failed stream request is worth repeating (server-side or throttling)."""
    return status >= 500 or status in (408, 429)


def backoff_delay(base: float, attempt: int) -> float:
    """The pause before reconnection ``attempt`` (1, 2, ...): ``base`` doubling, capped."""
    return min(MAX_BACKOFF, base * (2 ** (attempt - 1))) if base > 0 else 0.0


def gave_up(failure: ClientError, retries: int) -> ClientError:
    """The error a stream ends with when its last reconnection failed with ``failure``."""
    return ClientError(
        type=failure.type,
        message=f"{failure.message} (gave up after {retries} reconnection attempts)",
        status=failure.status,
        code=failure.code,
        details=failure.details,
    )


class StreamState:
    """What one logical stream has seen; see the module docstring."""

    def __init__(self, job_id: str, last_event_id: str | None = None) -> None:
        self.job_id = job_id
        self.rebuilder = StreamRebuilder()
        self.last_event_id = last_event_id
        self.completion: StreamCompletion | None = None
        self.errors: list[StreamErrorFrame] = []
        self.result: Result[StreamCompletion] | None = None
        self.reconnects = 0

    def headers(self) -> dict[str, str]:
        headers = {"Accept": "text/event-stream", "Cache-Control": "no-cache"}
        if self.last_event_id is not None:
            headers["Last-Event-ID"] = self.last_event_id
        return headers

    def _is_duplicate(self, frame_id: str) -> bool:
        # Ids count 1, 2, 3... per job: one not after the last seen was delivered already.
        last = self.last_event_id
        if last is None or not (frame_id.isdigit() and last.isdigit()):
            return False
        return int(frame_id) <= int(last)

    def handle(self, frame: SSEFrame) -> BaseEvent | None:
        """The typed event a frame carries (``None`` for other frames and duplicates).

        Records ``error`` and ``complete`` frames. Raises :class:`StreamInvalid`.
        """
        if frame.event == "message":
            if frame.id is not None and self._is_duplicate(frame.id):
                return None
            raw = self._json(frame, "message")
            if not isinstance(raw, dict):
                raise _invalid("a message frame does not hold an event object", "message")
            try:
                event = parse_event(self.rebuilder.feed(raw))
            except UnresolvedBase as exc:
                raise _invalid(f"cannot rebuild event {frame.id}: {exc}", "messagesBase") from exc
            except ValidationError as exc:
                first = exc.errors()[0] if exc.errors() else {}
                where = ".".join(str(p) for p in first.get("loc", ())) or "message"
                raise _invalid(f"event {frame.id} is not a known event: {where}", where) from exc
            if frame.id is not None:
                self.last_event_id = frame.id
            return event
        if frame.event in ("error", "complete"):
            try:
                if frame.event == "error":
                    self.errors.append(read_error_frame(self._json(frame, "error")))
                else:
                    self.completion = read_completion(self._json(frame, "complete"))
            except SchemaError as exc:
                raise _invalid(f"a {frame.event} frame broke the schema at {exc}", exc.field)
        return None  # unknown event names are ignored, as EventSource does

    @staticmethod
    def _json(frame: SSEFrame, field: str) -> Any:
        try:
            return orjson.loads(frame.data)
        except orjson.JSONDecodeError as exc:
            raise _invalid(f"a {frame.event} frame's data is not JSON: {exc}", field) from exc
