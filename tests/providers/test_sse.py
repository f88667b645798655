"""Server-sent events decoded from raw byte chunks, however the network splits them."""

from __future__ import annotations

import pytest

from runtime.providers._sse import SSEDecoder, aiter_sse

STREAM = (
    b"event: message_start\ndata: {\"a\":1}\n\n"
    b": a comment line\n"
    b"event: ping\ndata: {}\n\n"
    b"data: first line\ndata:second line\n\n"
    b"id: 7\nretry: 1000\n\n"  # neither data nor a name: no event
    b"data: [DONE]\n\n"
)
EVENTS = [
    (b"message_start", b'{"a":1}'),
    (b"ping", b"{}"),
    (None, b"first line\nsecond line"),
    (None, b"[DONE]"),
]


def decode(chunks: list[bytes]) -> list[tuple[bytes | None, bytes]]:
    decoder = SSEDecoder()
    events = [event for chunk in chunks for event in decoder.feed(chunk)]
    return events + decoder.flush()


def test_a_whole_stream_in_one_chunk() -> None:
    assert decode([STREAM]) == EVENTS


@pytest.mark.parametrize("size", [1, 2, 3, 7, 64])
def test_any_split_into_chunks_gives_the_same_events(size: int) -> None:
    chunks = [STREAM[i : i + size] for i in range(0, len(STREAM), size)]
    assert decode(chunks) == EVENTS


@pytest.mark.parametrize("newline", [b"\r\n", b"\r"])
def test_crlf_and_cr_line_ends_split_anywhere(newline: bytes) -> None:
    stream = STREAM.replace(b"\n", newline)
    assert decode([stream]) == EVENTS
    # Byte by byte, so a \r\n pair is split across two chunks.
    assert decode([stream[i : i + 1] for i in range(len(stream))]) == EVENTS


def test_a_last_event_without_a_blank_line_is_flushed() -> None:
    assert decode([b"event: message_stop\ndata: {}"]) == [(b"message_stop", b"{}")]
    assert decode([b"data: x\r"]) == [(None, b"x")]
    assert decode([b""]) == []


async def test_aiter_sse_reads_an_async_stream_of_chunks() -> None:
    async def chunks():  # noqa: ANN202 - a throwaway async generator
        for i in range(0, len(STREAM), 5):
            yield STREAM[i : i + 5]

    assert [event async for event in aiter_sse(chunks())] == EVENTS
