"""Server-sent events: frames from the lines of a ``text/event-stream`` body.

Follows the WHATWG rules the protocol needs: ``field: value`` lines (one optional space
after the colon), ``data`` lines joined with newlines, comment lines (``:``) ignored, and a
frame dispatched only at a blank line -- so a frame cut by a dropped connection is never
seen half-read.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["SSEDecoder", "SSEFrame"]


@dataclass(frozen=True, slots=True)
class SSEFrame:
    """One dispatched frame: its ``event`` name (``message`` by default), ``data``, ``id``."""

    event: str
    data: str
    id: str | None


class SSEDecoder:
    """Feed it lines (without their line ending); it returns a frame at each blank line."""

    def __init__(self) -> None:
        self._event = ""
        self._data: list[str] = []
        self._id: str | None = None

    def feed(self, line: str) -> SSEFrame | None:
        """Take one line; the frame it completes, if any."""
        if line.endswith("\r"):  # a CRLF split by a reader that only knows "\n"
            line = line[:-1]
        if not line:
            return self._dispatch()
        if line.startswith(":"):
            return None
        name, sep, value = line.partition(":")
        if sep and value.startswith(" "):
            value = value[1:]
        if name == "event":
            self._event = value
        elif name == "data":
            self._data.append(value)
        elif name == "id" and "\0" not in value:
            self._id = value
        # "retry" and unknown fields are ignored.
        return None

    def _dispatch(self) -> SSEFrame | None:
        event, data, frame_id = self._event, self._data, self._id
        self._event, self._data, self._id = "", [], None
        if not data and not event:
            return None
        return SSEFrame(event=event or "message", data="\n".join(data), id=frame_id)
