"""Live events from the workers to the API server, through the shared storage.

Each attempt of each part of a job (one activity on one worker) is a *producer*: it
appends its events, one whole line each, exactly as ``perstack run`` prints them, to a
segment of its own. The API server is the only reader: it gathers the segments' new
lines into the job's one stream (``server/streams/<jobId>.jsonl``, whose line numbers are
the SSE ids) in the order it finds them, so ids never change once sent. A producer's
lines keep their order; producers are taken oldest first, so a part that follows another
comes after it.

On the filesystem (every machine mounts the same volume)::

    <root>/server/relay/<jobId>/<producer>.jsonl     a producer's events, appended

(in a bucket, chunk objects: :mod:`runtime.distributed.bucket`). Beside the stream, in the
server's own folder, ``<jobId>.cursor.json`` says how far the server has read: it is
replaced after each batch the server appends to the stream and holds the stream's length
then, so a server killed between the two cuts the stream back and reads the batch again:
no event is lost or doubled. The cursor lives with the stream it describes. Once a job's run has stopped and its events
are all in the stream, its segments are removed.

A producer's segments also tell the next attempt of the same part where the part had got
to: the last checkpoint it announced (see :meth:`FileRelay.announced_checkpoint`).
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO, Protocol

import orjson

from runtime.storage.atomic import write_replace

__all__ = [
    "EventRelay",
    "FileRelay",
    "RelayWriter",
    "StreamSequencer",
    "producer_name",
    "relay_for",
    "scope_key",
]

_SUFFIX = ".jsonl"


def scope_key(workflow_id: str, workflow_run_id: str, activity_id: str) -> str:
    """A short name for one part of a job, the same in each of its attempts."""
    text = f"{workflow_id}/{workflow_run_id}/{activity_id}"
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def producer_name(scope: str, attempt: int) -> str:
    """The segment name of ``attempt`` of part ``scope``: it sorts by creation time."""
    return f"{time.time_ns():020d}-{scope}-{attempt:04d}"


def _scope_and_attempt(producer: str) -> tuple[str, int]:
    _, scope, attempt = producer.split("-")
    return scope, int(attempt)


class RelayWriter(Protocol):
    """A producer's segment, open for appending."""

    def write(self, line: bytes) -> None:
        """Append one event (its JSON, without the newline)."""

    def close(self) -> None:
        """No more events from this producer."""


class EventRelay(Protocol):
    """Where producers put events and the server finds them (one job at a time)."""

    def writer(self, job_id: str, producer: str) -> RelayWriter:
        """A new segment for ``producer``."""

    def producers(self, job_id: str, fresh: bool = False) -> list[str]:
        """The job's segments, oldest first (``fresh``: as they are now, never from a
        listing shared with other jobs' polls a moment ago)."""

    def read(self, job_id: str, producer: str, offset: int) -> bytes:
        """A segment's bytes from ``offset`` on (maybe ending in a partial line)."""

    def read_back(self, job_id: str, producer: str) -> Iterator[bytes]:
        """A segment in pieces of whole lines (but for a partial last one), the last piece
        first: what a later attempt reads to find where an earlier one had got to."""

    def remove(self, job_id: str, producers: list[str]) -> None:
        """Remove read segments."""


class _FileWriter:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        # Unbuffered: each event is one write of a whole line, so the reader (or a crash)
        # sees whole lines, and at worst a partial last one.
        self._file: BinaryIO = open(path, "ab", buffering=0)  # noqa: SIM115 - closed by close()

    def write(self, line: bytes) -> None:
        self._file.write(line + b"\n")

    def close(self) -> None:
        self._file.close()


class FileRelay:
    """The relay in a folder every machine mounts (``<root>/server/relay``).

    Args:
        root: The storage root.
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(root) / "server" / "relay"

    def _dir(self, job_id: str) -> Path:
        return self.root / job_id

    def writer(self, job_id: str, producer: str) -> RelayWriter:
        return _FileWriter(self._dir(job_id) / f"{producer}{_SUFFIX}")

    def producers(self, job_id: str, fresh: bool = False) -> list[str]:
        try:
            names = os.listdir(self._dir(job_id))
        except FileNotFoundError:
            return []
        return sorted(name[: -len(_SUFFIX)] for name in names if name.endswith(_SUFFIX))

    def read(self, job_id: str, producer: str, offset: int) -> bytes:
        try:
            with open(self._dir(job_id) / f"{producer}{_SUFFIX}", "rb") as segment:
                segment.seek(offset)
                return segment.read()
        except FileNotFoundError:
            return b""

    def read_back(self, job_id: str, producer: str) -> Iterator[bytes]:
        yield self.read(job_id, producer, 0)

    def remove(self, job_id: str, producers: list[str]) -> None:
        directory = self._dir(job_id)
        for producer in producers:
            (directory / f"{producer}{_SUFFIX}").unlink(missing_ok=True)
        try:
            directory.rmdir()
        except OSError:
            pass  # a producer of a newer run has begun: its segment stays

    # --- for the next attempt of a part ---------------------------------------------

    def announced_checkpoint(self, job_id: str, scope: str, before_attempt: int) -> str | None:
        """The last checkpoint that an earlier attempt of part ``scope`` announced (its
        events carry each checkpoint right after it is stored), or ``None``."""
        return announced_checkpoint(self, job_id, scope, before_attempt)


def announced_checkpoint(
    relay: EventRelay, job_id: str, scope: str, before_attempt: int
) -> str | None:
    """See :meth:`FileRelay.announced_checkpoint` (for any :class:`EventRelay`).

    The latest earlier attempt that announced any checkpoint is read from its end: its last
    piece nearly always holds the checkpoint sought (each one is sent as it is stored)."""
    earlier = []
    for producer in relay.producers(job_id):
        name, attempt = _scope_and_attempt(producer)
        if name == scope and attempt < before_attempt:
            earlier.append((attempt, producer))
    for _, producer in sorted(earlier, reverse=True):
        for piece in relay.read_back(job_id, producer):
            for line in reversed(piece.split(b"\n")):
                if b'"checkpoint":' not in line:
                    continue
                try:
                    event = orjson.loads(line)
                except orjson.JSONDecodeError:
                    continue  # the partial last line of a killed producer
                checkpoint = event.get("checkpoint") if isinstance(event, dict) else None
                if isinstance(checkpoint, dict) and isinstance(checkpoint.get("id"), str):
                    return checkpoint["id"]
    return None


def relay_for(storage: Any, *, shared_listing: float = 0.0) -> EventRelay:
    """The relay beside a job store: a folder every machine mounts, or the bucket
    (``shared_listing``: see :class:`runtime.distributed.bucket.ObjectRelay`)."""
    from runtime.storage.filestore import FileStorage

    if isinstance(storage, FileStorage):
        return FileRelay(storage.root)
    from runtime.distributed.bucket import ObjectRelay

    return ObjectRelay(storage, shared_listing=shared_listing)


class StreamSequencer:
    """Gathers a job's segments into its stream, on the API server.

    Args:
        relay: The relay.
        job_id: The job.
        stream_path: The job's stream (``server/streams/<jobId>.jsonl``); its cursor is
            ``<jobId>.cursor.json`` beside it.
    """

    def __init__(self, relay: EventRelay, job_id: str, stream_path: Path) -> None:
        self.relay = relay
        self.job_id = job_id
        self.stream_path = stream_path
        self.cursor_path = stream_path.with_name(f"{job_id}.cursor.json")
        try:
            cursor = orjson.loads(self.cursor_path.read_bytes())
        except (FileNotFoundError, orjson.JSONDecodeError):
            cursor = {}
        self._offsets: dict[str, int] = dict(cursor.get("offsets", {}))
        stream_path.parent.mkdir(parents=True, exist_ok=True)
        self._stream = open(stream_path, "ab", buffering=0)  # noqa: SIM115 - closed by close()
        size = self._stream.seek(0, os.SEEK_END)
        expected = cursor.get("stream", size)
        if size > expected:
            # Killed after appending a batch but before saying so: read it again.
            self._stream.truncate(expected)
        self._length = min(size, expected)

    def poll(self, final: bool = False) -> list[bytes]:
        """Append the segments' new whole lines to the stream; return them (``final``:
        every producer has stopped, so nothing may be missed: the relay is listed anew)."""
        batch: list[bytes] = []
        offsets = dict(self._offsets)
        for producer in self.relay.producers(self.job_id, fresh=final):
            offset = offsets.get(producer, 0)
            data = self.relay.read(self.job_id, producer, offset)
            end = data.rfind(b"\n") + 1
            if end == 0:
                continue
            batch.extend(data[: end - 1].split(b"\n"))
            offsets[producer] = offset + end
        if not batch:
            return []
        chunk = b"\n".join(batch) + b"\n"
        self._stream.write(chunk)
        self._length += len(chunk)
        self._offsets = offsets
        self.save_cursor({"stream": self._length, "offsets": offsets})
        return batch

    def save_cursor(self, cursor: dict) -> None:
        """Replace the cursor (atomically): the stream's length, and each segment's offset."""
        write_replace(str(self.cursor_path.parent), self.cursor_path.name, orjson.dumps(cursor))

    def finish(self) -> None:
        """Every producer has stopped and its lines are in the stream: remove them."""
        try:
            self.relay.remove(self.job_id, self.relay.producers(self.job_id, fresh=True))
            self.cursor_path.unlink(missing_ok=True)
        finally:
            self.close()

    def close(self) -> None:
        self._stream.close()
