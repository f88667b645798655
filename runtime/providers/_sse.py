"""Server-sent events decoded straight from the bytes of a streamed HTTP response.

Both model APIs stream their answers as SSE. The SDKs decode them line by line in Python,
building an object per line and per event, which cost more CPU per step than everything
else of a request put together (see docs/performance.md). Here a whole network read is
split into events with a few ``bytes`` operations; the JSON payloads stay ``bytes`` for
``orjson`` to parse.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

__all__ = ["SSEDecoder", "aiter_sse"]

#: (event name or ``None``, data: the event's ``data:`` lines joined by newlines)
Event = tuple[bytes | None, bytes]


class SSEDecoder:
    """Splits a byte stream into SSE events (WHATWG rules: ``\\n``, ``\\r\\n`` or ``\\r``
    line ends; a blank line ends an event; ``:`` comments, ``id`` and ``retry`` ignored)."""

    __slots__ = ("_pending",)

    def __init__(self) -> None:
        self._pending = b""

    def feed(self, chunk: bytes) -> list[Event]:
        """The events completed by ``chunk``; a partial one waits for the next chunk."""
        data = self._pending + chunk if self._pending else chunk
        if b"\r" in data:
            # A chunk ending in \r may be the first half of \r\n: keep it for the next one.
            held = data.endswith(b"\r")
            if held:
                data = data[:-1]
            data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
            if held:
                data += b"\r"
        *blocks, self._pending = data.split(b"\n\n")
        return [event for block in blocks if (event := _event(block)) is not None]

    def flush(self) -> list[Event]:
        """The last event, when the stream ended without a blank line after it."""
        rest, self._pending = self._pending.rstrip(b"\r"), b""
        event = _event(rest.replace(b"\r\n", b"\n").replace(b"\r", b"\n"))
        return [event] if event is not None else []


async def aiter_sse(chunks: AsyncIterator[bytes]) -> AsyncIterator[Event]:
    """The SSE events of a stream of byte chunks (e.g. ``httpx2.Response.aiter_bytes()``)."""
    decoder = SSEDecoder()
    async for chunk in chunks:
        for event in decoder.feed(chunk):
            yield event
    for event in decoder.flush():
        yield event


def _event(block: bytes) -> Event | None:
    name: bytes | None = None
    data: list[bytes] = []
    for line in block.split(b"\n"):
        if line.startswith(b"data:"):
            value = line[5:]
            data.append(value[1:] if value.startswith(b" ") else value)
        elif line.startswith(b"event:"):
            name = line[6:].strip() or None
        # Anything else (comments, id:, retry:, stray lines) carries nothing we use.
    if not data and name is None:
        return None
    return name, b"\n".join(data)
