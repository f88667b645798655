"""The relay and the workspaces' shared copies in an S3-compatible bucket.

With ``PERSTACK_STORAGE_URL=s3://bucket/prefix`` the server and the workers share nothing
but the bucket (and Temporal): no folder is mounted anywhere. Beside the jobs::

    server/relay/<jobId>/<producer>/<n>.jsonl    a producer's events, chunk n (whole lines)
    jobs/<jobId>/workspace/manifest.json         the workspace's shared copy (see
    jobs/<jobId>/workspace/blobs/<sha256>        :mod:`runtime.storage.workspace`)

**Events.** An object cannot be appended to, so a producer writes its lines in chunks: a
line that carries a checkpoint goes out at once with those before it (the next attempt of
the part must find the checkpoint announced), the others at most :data:`CHUNK_SECONDS`
later. Each chunk is one PUT of whole lines, numbered in order, so a reader never sees half
an event, and a killed worker loses at most the lines it had not sent yet (of the step
that runs again). Offsets are bytes into the concatenated chunks, as in a file.

**Workspaces.** Each worker sends the manifest only its own changes (files written,
changed or removed since its last sync), merged into the manifest as it is in the bucket
by a compare-and-swap (``If-Match``), so parallel delegates on different workers each add
their files and none drops another's. Bringing a folder up to date applies only what
changed in the manifest since: files the job never listed are left alone, and a file
listed before is removed only when the manifest dropped it and it did not change here.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from runtime.storage.atomic import TEMP_PREFIX
from runtime.storage.records import StorageError
from runtime.storage.workspace import (
    ManifestEntry,
    file_digest,
    manifest_bytes,
    parse_manifest,
    parse_removed,
)

__all__ = ["CHUNK_SECONDS", "DISCOVERY_SECONDS", "BucketWorkspaces", "ObjectRelay"]

#: At most this long between a line and the chunk that carries it.
CHUNK_SECONDS = 0.05
#: The server lists the relay at least this often while it reads on every job directly.
DISCOVERY_SECONDS = 0.25
_RESTORE_PREFIX = ".perstack-restore-"
#: Compare-and-swap attempts on a manifest before giving up (others keep winning).
_SWAP_ATTEMPTS = 20


def _relay_prefix(job_id: str) -> str:
    return f"server/relay/{job_id}/"


class _ChunkWriter:
    """A producer's chunks: lines gathered, sent in order by one PUT each."""

    def __init__(self, client: Any, prefix: str) -> None:
        self._client = client
        self._prefix = prefix
        self._lines: list[bytes] = []
        self._next = 0
        self._lock = threading.Lock()  # the buffer
        self._send_lock = threading.Lock()  # one chunk at a time, in order
        self._wake = threading.Condition(self._lock)
        self._closed = False
        #: when the oldest unsent line came.
        self._since = 0.0
        self._thread = threading.Thread(target=self._tick, name="relay-chunks", daemon=True)
        self._thread.start()

    def write(self, line: bytes) -> None:
        with self._lock:
            if not self._lines:
                self._since = time.monotonic()
            self._lines.append(line)
            self._wake.notify()
        if b'"checkpoint":' in line:
            self._send()  # announced before the part goes on (raises when the store fails)

    def _send(self) -> None:
        with self._send_lock:
            with self._lock:
                lines, self._lines = self._lines, []
            if not lines:
                return
            key = f"{self._prefix}{self._next:08d}.jsonl"
            try:
                self._client.result(self._client.put(key, b"\n".join(lines) + b"\n"), key)
            except BaseException:
                with self._lock:  # not sent: they go with the next chunk
                    self._lines[:0] = lines
                    self._since = time.monotonic()  # tried again a while later
                raise
            self._next += 1

    def _tick(self) -> None:
        """Send lines that have waited :data:`CHUNK_SECONDS` (counted from the oldest
        unsent one: lines a checkpoint's chunk took along start the count again, so
        steps quicker than that cost one chunk each, the checkpoint's)."""
        while True:
            with self._lock:
                while not self._closed:
                    if not self._lines:
                        self._wake.wait()
                        continue
                    due = self._since + CHUNK_SECONDS - time.monotonic()
                    if due <= 0:
                        break
                    self._wake.wait(due)  # gather what follows
                if self._closed:
                    return
            with contextlib.suppress(StorageError):  # the store is away: the lines wait
                self._send()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._wake.notify()
        self._thread.join()
        self._send()


class ObjectRelay:
    """The relay (:class:`~runtime.distributed.relay.EventRelay`) in a bucket.

    Args:
        storage: The job store (an :class:`~runtime.storage.objectstore.ObjectStorage`).
        shared_listing: When above 0 (the server, following many jobs), one ``LIST`` of
            every job's chunks serves all the jobs' polls for this many seconds, instead
            of one ``LIST`` per job per poll; and a producer whose last poll found new
            chunks is read on by its next chunks' names (chunks are numbered), without
            that listing, whose cost grows with the chunks it names (see
            :meth:`_discover`).
    """

    def __init__(self, storage: Any, *, shared_listing: float = 0.0) -> None:
        self._client = storage._client
        #: job id -> producer -> its chunks' (key, size), in order: what the listings and
        #: the reads of next chunks have found (chunks are never changed, only added).
        self._chunks: dict[str, dict[str, list[tuple[str, int]]]] = {}
        self._shared_listing = shared_listing
        #: job id -> its producers whose last read found something new.
        self._live: dict[str, set[str]] = {}
        #: job id -> when producers begun since were last listed for.
        self._discovered: dict[str, float] = {}
        self._listed_at = float("-inf")
        self._lock = threading.Lock()  # the listing, and what is known
        self._listing_lock = threading.Lock()  # one shared listing at a time

    def writer(self, job_id: str, producer: str) -> _ChunkWriter:
        return _ChunkWriter(self._client, f"{_relay_prefix(job_id)}{producer}/")

    def _merge(self, listed: dict[str, dict[str, list[tuple[str, int]]]], jobs: list[str]) -> None:
        """Take a listing of ``jobs`` in, keeping chunks found since it was made."""
        with self._lock:
            for job_id in jobs:
                known = self._chunks.get(job_id, {})
                merged = listed.get(job_id, {})
                for producer, chunks in known.items():
                    if producer in merged and len(chunks) > len(merged[producer]):
                        merged[producer] = chunks
                self._chunks[job_id] = merged

    def producers(self, job_id: str, fresh: bool = False) -> list[str]:
        if fresh or self._shared_listing <= 0:
            listed = _chunks_of(self._client.list(_relay_prefix(job_id)))
            self._merge(listed, [job_id])
        elif self._live.get(job_id):
            self._discover(job_id)
        else:
            with self._listing_lock:
                if time.monotonic() - self._listed_at >= self._shared_listing:
                    listed = _chunks_of(self._client.list("server/relay/"))
                    self._listed_at = time.monotonic()
                    with self._lock:
                        jobs = list({*self._chunks, *listed})
                    self._merge(listed, jobs)
        with self._lock:
            return sorted(self._chunks.get(job_id, {}))

    def _discover(self, job_id: str) -> None:
        """A job whose producers are writing is read on without listing; now and then
        (:data:`DISCOVERY_SECONDS`) one ``LIST`` finds producers begun since: those whose
        names (creation times) sort after the oldest one writing, from its last chunk on."""
        now = time.monotonic()
        if now - self._discovered.get(job_id, float("-inf")) < DISCOVERY_SECONDS:
            return
        self._discovered[job_id] = now
        with self._lock:
            known = self._chunks.get(job_id, {})
            oldest = min(self._live.get(job_id) or (), default=None)
            if oldest is None or oldest not in known:
                return
            chunks = known[oldest]
            after = chunks[-1][0] if chunks else f"{_relay_prefix(job_id)}{oldest}/"
        listed = _chunks_of(self._client.list(_relay_prefix(job_id), after=after)).get(job_id, {})
        with self._lock:
            known = self._chunks.setdefault(job_id, {})
            for producer, found in listed.items():
                mine = known.setdefault(producer, [])
                for key, size in found:  # in order, numbered from 0: add what follows
                    if _chunk_index(key) == len(mine):
                        mine.append((key, size))

    def _known(self, job_id: str, producer: str) -> list[tuple[str, int]]:
        """The producer's chunks as known, listing the job first if it is not known yet."""
        with self._lock:
            chunks = self._chunks.get(job_id, {}).get(producer)
            if chunks is not None:
                return list(chunks)
        self.producers(job_id, fresh=True)
        with self._lock:
            return list(self._chunks.get(job_id, {}).get(producer) or ())

    def read(self, job_id: str, producer: str, offset: int) -> bytes:
        chunks = self._known(job_id, producer)
        wanted: list[tuple[str, int]] = []  # (key, bytes of it to skip)
        start = 0
        for key, size in chunks:
            if start + size > offset:
                wanted.append((key, max(0, offset - start)))
            start += size
        fetched = self._client.get_many([key for key, _ in wanted])
        parts = []
        for (_, skip), item in zip(wanted, fetched, strict=True):
            if item is None:
                return b"".join(parts)  # removed meanwhile (the run has stopped)
            parts.append(item.data[skip:])
        if self._shared_listing > 0:
            live = self._live.setdefault(job_id, set())
            if producer in live:  # it was writing: read its next chunks by their names
                parts += self._next_chunks(job_id, producer, len(chunks), offset - start)
            if any(parts):
                live.add(producer)
            else:
                live.discard(producer)
        return b"".join(parts)

    def _next_chunks(self, job_id: str, producer: str, index: int, skip: int) -> list[bytes]:
        """Chunks ``index``, ``index + 1``, … as far as they exist (``skip``: bytes of
        them already read)."""
        found = []
        while True:
            key = f"{_relay_prefix(job_id)}{producer}/{index:08d}.jsonl"
            item = self._client.get(key)
            if item is None:
                return found
            with self._lock:
                chunks = self._chunks.setdefault(job_id, {}).setdefault(producer, [])
                if len(chunks) == index:
                    chunks.append((key, len(item.data)))
            found.append(item.data[max(0, skip) :])
            skip -= len(item.data)
            index += 1

    def read_back(self, job_id: str, producer: str) -> Iterator[bytes]:
        """The segment's chunks, the last one first (two read at a time)."""
        chunks = self._known(job_id, producer)
        keys = [key for key, _ in reversed(chunks)]
        for at in range(0, len(keys), 2):
            for item in self._client.get_many(keys[at : at + 2]):
                if item is not None:
                    yield item.data

    def remove(self, job_id: str, producers: list[str]) -> None:
        with self._lock:
            chunks = self._chunks.pop(job_id, {})
        self._live.pop(job_id, None)
        self._discovered.pop(job_id, None)
        keys = [key for producer in producers for key, _ in chunks.get(producer, [])]
        self._client.delete(keys)


def _chunk_index(key: str) -> int:
    name = key.rsplit("/", 1)[-1]
    return int(name.split(".", 1)[0]) if name[:1].isdigit() else -1


def _chunks_of(listed: list[dict[str, Any]]) -> dict[str, dict[str, list[tuple[str, int]]]]:
    """job id -> producer -> its chunks' ``(key, size)`` in order, from a listing."""
    found: dict[str, dict[str, list[tuple[str, int]]]] = {}
    for meta in listed:
        parts = meta["path"].split("/")
        if len(parts) == 5 and parts[:2] == ["server", "relay"] and parts[4].endswith(".jsonl"):
            chunks = found.setdefault(parts[2], {}).setdefault(parts[3], [])
            chunks.append((meta["path"], int(meta["size"])))
    for producers in found.values():
        for chunks in producers.values():
            chunks.sort()
    return found


#: A local file's size and modification time (ns): what tells that it changed here.
_Signature = tuple[int, int]


class BucketWorkspaces:
    """The workspaces' shared copies in the bucket
    (:class:`~runtime.distributed.workspaces.WorkspaceSync`), merged change by change.

    Args:
        storage: The job store (an :class:`~runtime.storage.objectstore.ObjectStorage`).
    """

    def __init__(self, storage: Any) -> None:
        self._blobs = storage._workspace_blobs()
        #: job id -> path -> (local signature, sha256) at the last sync.
        self._synced: dict[str, dict[str, tuple[_Signature, str]]] = {}

    def pull(self, job_id: str, local: Path) -> None:
        raw = self._blobs.read_manifest(job_id)
        remote = {} if raw is None else parse_manifest(raw, job_id)
        synced = self._synced.setdefault(job_id, {})
        here = _files(local)
        wanted: list[tuple[str, ManifestEntry]] = []
        for path, entry in remote.items():
            known = synced.get(path)
            if known is not None and known[1] == entry.sha256:
                continue  # unchanged there since the last sync
            signature = here.get(path)
            if signature is not None and signature[0] == entry.size:
                if file_digest(local / path) == entry.sha256:  # the same file already
                    synced[path] = (signature, entry.sha256)
                    continue
            wanted.append((path, entry))
        for path in [p for p in synced if p not in remote]:
            # Dropped from the shared copy: remove it here too, unless it changed here.
            if here.get(path) == synced[path][0]:
                (local / path).unlink(missing_ok=True)
            del synced[path]
        self._download(job_id, local, wanted, synced)

    def _download(
        self,
        job_id: str,
        local: Path,
        wanted: list[tuple[str, ManifestEntry]],
        synced: dict[str, tuple[_Signature, str]],
    ) -> None:
        temps = [(entry.sha256, _temp_beside(local / path)) for path, entry in wanted]
        try:
            self._blobs.download_blobs(job_id, temps)
            for (path, entry), (_, temp) in zip(wanted, temps, strict=True):
                if file_digest(temp) != entry.sha256:
                    raise StorageError(
                        f"workspace of job {job_id}: {path} does not match its stored hash"
                    )
                os.chmod(temp, entry.mode)
                os.utime(temp, ns=(entry.mtime_ns, entry.mtime_ns))
                os.replace(temp, local / path)  # whole, or not at all
                synced[path] = ((entry.size, entry.mtime_ns), entry.sha256)
        finally:
            for _, temp in temps:
                temp.unlink(missing_ok=True)

    def push(self, job_id: str, local: Path) -> None:
        synced = self._synced.setdefault(job_id, {})
        here = _files(local)
        changed: dict[str, ManifestEntry] = {}
        for path, signature in here.items():
            known = synced.get(path)
            if known is not None and known[0] == signature:
                continue
            mode = os.stat(local / path).st_mode & 0o777
            changed[path] = ManifestEntry(*signature, file_digest(local / path), mode)
        removed = [path for path in synced if path not in here]
        if not changed and not removed:
            return  # nothing to say: not even the manifest is read
        digests = {entry.sha256: path for path, entry in changed.items()}
        stored = self._blobs.list_blobs(job_id)
        missing = [
            (digest, local / path) for digest, path in digests.items() if digest not in stored
        ]
        self._blobs.upload_blobs(job_id, missing)
        self._merge(job_id, changed, removed)
        for path, entry in changed.items():
            synced[path] = ((entry.size, entry.mtime_ns), entry.sha256)
        for path in removed:
            del synced[path]

    def _merge(self, job_id: str, changed: dict[str, ManifestEntry], removed: list[str]) -> None:
        """Apply this worker's changes to the manifest as it is now in the bucket."""
        for _ in range(_SWAP_ATTEMPTS):
            raw, version = self._blobs.read_manifest_version(job_id)
            files = {} if raw is None else parse_manifest(raw, job_id)
            gone = {} if raw is None else parse_removed(raw, job_id)
            files.update(changed)
            for path in changed:
                gone.pop(path, None)
            for path in removed:
                entry = files.pop(path, None)
                if entry is not None:
                    gone[path] = entry.sha256
            data = manifest_bytes(files, gone)
            if self._blobs.replace_manifest(job_id, data, version):
                return
        raise StorageError(f"workspace of job {job_id}: the manifest kept changing; not synced")

    def forget(self, job_id: str) -> None:
        self._synced.pop(job_id, None)


def _files(root: Path) -> dict[str, _Signature]:
    """Every regular file under ``root`` (symlinks and temporary files left out)."""
    found: dict[str, _Signature] = {}
    for directory, _, names in os.walk(root):
        base = Path(directory).relative_to(root).as_posix()
        prefix = "" if base == "." else f"{base}/"
        for name in names:
            if name.startswith((_RESTORE_PREFIX, TEMP_PREFIX)):
                continue
            info = os.lstat(os.path.join(directory, name))
            if info.st_mode & 0o170000 == 0o100000:  # a regular file
                found[prefix + name] = (info.st_size, info.st_mtime_ns)
    return found


def _temp_beside(target: Path) -> Path:
    import tempfile

    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=_RESTORE_PREFIX, dir=target.parent)
    os.close(fd)
    return Path(name)
