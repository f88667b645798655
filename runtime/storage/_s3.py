"""The S3 client behind :class:`~runtime.storage.objectstore.ObjectStorage`.

Storage's interface is synchronous and obstore's efficient API is async, so every request
runs as a coroutine on one private asyncio loop that lives on a daemon thread of its own
(``perstack-s3``), shared by every store of the process:

* a synchronous call submits its coroutine there and waits for the answer. It never runs
  anything on the caller's event loop (no ``asyncio.run`` inside a running loop, no
  deadlock), so it works alike from plain code, from the engine's loop and from many
  threads at once;
* batches (a job's events, its checkpoints, every job record) run there concurrently, at
  most :data:`MAX_CONCURRENCY` requests at a time;
* writes are *pipelined*: they are submitted and the caller goes on; writes to one key keep
  their order, any read waits for the writes in flight, and :meth:`S3Client.flush` waits
  for all of them and raises the first failure.

Each object is one atomic PUT, so a reader never sees half a document. Retries are
obstore's own (:class:`~obstore.store.RetryConfig`): connection errors, 5xx answers and
timeouts are retried with exponential backoff for up to ``PERSTACK_STORAGE_TIMEOUT``
seconds (60 by default); a call still waiting after :data:`SLOW_NOTICE_SECONDS` says so
once on stderr. What still fails becomes one :class:`StorageError` line.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import re
import threading
import weakref
from collections.abc import Callable, Coroutine, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

import obstore
from obstore.exceptions import AlreadyExistsError, BaseError
from obstore.store import S3Store

from runtime.storage.locate import StorageError

__all__ = ["Fetched", "S3Client", "parse_s3_url"]

T = TypeVar("T")

#: Requests one store runs at once (a batch read, pipelined writes).
MAX_CONCURRENCY = 32
#: How long storage operations are retried before they fail (``PERSTACK_STORAGE_TIMEOUT``).
DEFAULT_TIMEOUT_SECONDS = 60.0
#: A call that has waited this long says once that the store is not answering.
SLOW_NOTICE_SECONDS = 2.0
#: Pipelined writes kept for :meth:`S3Client.flush` before settled ones are pruned.
_PRUNE_AT = 256
_TIMEOUT_ENV = "PERSTACK_STORAGE_TIMEOUT"
#: What obstore raises for a failed request (a missing bucket is a FileNotFoundError).
_FAILURES = (BaseError, FileNotFoundError)


def parse_s3_url(url: str) -> tuple[str, str]:
    """``(bucket, prefix)`` of ``s3://bucket/prefix``; the prefix has no leading or
    trailing ``/`` and may be empty.

    Raises:
        StorageError: not an ``s3://`` URL with a bucket.
    """
    scheme, _, rest = url.partition("://")
    bucket, _, prefix = rest.partition("/")
    if scheme != "s3" or not bucket:
        raise StorageError(f"PERSTACK_STORAGE_URL {url!r}: expected s3://bucket/prefix")
    return bucket, prefix.strip("/")


def _store(bucket: str, prefix: str, env: Mapping[str, str], timeout: float) -> S3Store:
    """An obstore ``S3Store`` configured from the standard AWS variables in ``env``."""
    config: dict[str, Any] = {}
    endpoint = env.get("AWS_ENDPOINT_URL_S3") or env.get("AWS_ENDPOINT_URL")
    names = {
        "access_key_id": "AWS_ACCESS_KEY_ID",
        "secret_access_key": "AWS_SECRET_ACCESS_KEY",
        "session_token": "AWS_SESSION_TOKEN",
    }
    for key, name in names.items():
        if env.get(name):
            config[key] = env[name]
    region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION")
    if region:
        config["region"] = region
    if endpoint:
        config["endpoint"] = endpoint
    client: dict[str, Any] = {
        # An endpoint of your own (MinIO, moto, a gateway) may speak plain HTTP.
        "allow_http": bool(endpoint and endpoint.startswith("http://")),
        "connect_timeout": timedelta(seconds=5),
        # Whole workspace files go through one request: only a stalled read fails it.
        "timeout": timedelta(minutes=10),
        "read_timeout": timedelta(seconds=30),
    }
    retry = {
        "max_retries": 20,
        "retry_timeout": timedelta(seconds=timeout),
        "backoff": {
            "init_backoff": timedelta(milliseconds=100),
            "max_backoff": timedelta(seconds=5),
            "base": 3,
        },
    }
    return S3Store(
        bucket,
        prefix=prefix or None,
        config=config,
        client_options=client,
        retry_config=retry,
    )


def _timeout(env: Mapping[str, str]) -> float:
    text = env.get(_TIMEOUT_ENV, "")
    if not text:
        return DEFAULT_TIMEOUT_SECONDS
    try:
        seconds = float(text)
    except ValueError:
        seconds = -1.0
    if not 0 < seconds <= 3600:
        raise StorageError(f"{_TIMEOUT_ENV}={text!r}: expected seconds between 0 and 3600")
    return seconds


def reason(error: BaseException) -> str:
    """One line saying why a request failed (obstore's messages span many lines)."""
    text = str(error)
    line = text.split("\n", 1)[0].split(": <?xml", 1)[0].strip()
    line = re.sub(r"^Generic \w+ error: ", "", line)
    code = re.search(r"<Code>([^<]+)</Code>", text)
    if code and code.group(1) not in line:
        line = f"{line} ({code.group(1)})"
    return line or type(error).__name__


@dataclass(frozen=True, slots=True)
class Fetched:
    """One object read: its bytes (maybe only the first ones), attributes and version."""

    data: bytes
    attributes: Mapping[str, str]
    etag: str | None
    last_modified_ns: int
    size: int


# --- the private loop ---------------------------------------------------------------------


class _Loop:
    """An asyncio loop on a daemon thread: where every store's requests run."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(
            target=self.loop.run_forever, name="perstack-s3", daemon=True
        )
        self.thread.start()

    def submit(self, coroutine: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        if threading.current_thread() is self.thread:
            coroutine.close()
            raise RuntimeError("a storage call was made from the storage loop itself")
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop)


_shared: _Loop | None = None
_shared_lock = threading.Lock()
_clients: weakref.WeakSet[S3Client] = weakref.WeakSet()


def _loop() -> _Loop:
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = _Loop()
            atexit.register(_flush_all)
        return _shared


def _flush_all() -> None:
    """At exit: no write submitted by this process is dropped."""
    for client in list(_clients):
        try:
            client.flush()
        except StorageError as error:
            client.on_warning(f"warning: {error}")


# --- the client ---------------------------------------------------------------------------


class S3Client:
    """Synchronous access to one bucket and prefix, over the private loop.

    Args:
        url: ``s3://bucket/prefix`` (named in errors).
        env: Where the AWS variables and ``PERSTACK_STORAGE_TIMEOUT`` are read.
        on_warning: Receives the one-line notice of a store that is slow to answer.
    """

    def __init__(self, url: str, env: Mapping[str, str], on_warning: Callable[[str], None]) -> None:
        bucket, prefix = parse_s3_url(url)
        self.url = url
        self.on_warning = on_warning
        self.timeout = _timeout(env)
        self.store = _store(bucket, prefix, env, self.timeout)
        self._loop = _loop()
        self._limit = asyncio.Semaphore(MAX_CONCURRENCY)
        #: key -> the last write submitted for it (touched on the loop's thread only).
        self._chains: dict[str, asyncio.Task[Any]] = {}
        self._pending: list[concurrent.futures.Future[Any]] = []
        self._pending_lock = threading.Lock()
        self._noticed = False
        _clients.add(self)

    # --- running coroutines ---------------------------------------------------------------

    def _wait(self, future: concurrent.futures.Future[T]) -> T:
        try:
            return future.result(SLOW_NOTICE_SECONDS)
        except concurrent.futures.TimeoutError:
            if not self._noticed:
                self._noticed = True
                self.on_warning(
                    f"warning: storage {self.url} is not answering; retrying for up to "
                    f"{self.timeout:g} s"
                )
            return future.result()

    def run(self, coroutine: Coroutine[Any, Any, T], what: str) -> T:
        """Run ``coroutine`` on the loop after the writes in flight; wait for its result.

        Raises:
            StorageError: the request failed after obstore's retries.
        """
        try:
            return self._wait(self._loop.submit(self._after_writes(coroutine)))
        except _FAILURES as error:
            raise StorageError(f"storage {self.url}: {what} failed: {reason(error)}") from None

    async def _after_writes(self, coroutine: Coroutine[Any, Any, T]) -> T:
        chains = [task for task in self._chains.values() if not task.done()]
        if chains:
            await asyncio.wait(chains)
        return await coroutine

    async def _limited(self, coroutine: Coroutine[Any, Any, T]) -> T:
        async with self._limit:
            return await coroutine

    # --- reading ----------------------------------------------------------------------------

    async def _get(self, key: str, head: int | None = None) -> Fetched | None:
        options: Any = {"range": (0, head)} if head else None
        try:
            result = await obstore.get_async(self.store, key, options=options)
            data = bytes(await result.bytes_async())
        except FileNotFoundError as error:
            if "NoSuchBucket" in str(error):
                raise
            return None
        meta = result.meta
        modified = meta["last_modified"]
        return Fetched(
            data,
            result.attributes,
            meta.get("e_tag"),
            int(modified.timestamp() * 1_000_000) * 1000,
            meta["size"],
        )

    def get(self, key: str, head: int | None = None) -> Fetched | None:
        """The object at ``key`` (its first ``head`` bytes only, when given), or ``None``."""
        return self.run(self._get(key, head), f"GET {key}")

    def get_many(self, keys: Sequence[str], head: int | None = None) -> list[Fetched | None]:
        """Several objects at once (``None`` for those missing), in the order of ``keys``."""
        if not keys:
            return []

        async def gather() -> list[Fetched | None]:
            return await asyncio.gather(*(self._limited(self._get(key, head)) for key in keys))

        return self.run(gather(), f"GET {keys[0]} and {len(keys) - 1} more")

    def get_soon(self, key: str) -> concurrent.futures.Future[Fetched | None]:
        """Start reading ``key``; the future's result is what :meth:`get` would return."""
        return self._loop.submit(self._limited(self._get(key)))

    def result(self, future: concurrent.futures.Future[T], what: str) -> T:
        """The result of a future from :meth:`get_soon`, with :meth:`run`'s errors."""
        try:
            return self._wait(future)
        except _FAILURES as error:
            raise StorageError(f"storage {self.url}: {what} failed: {reason(error)}") from None

    def list(self, prefix: str) -> list[dict[str, Any]]:
        """Every object under ``prefix`` (recursively), as obstore's ``ObjectMeta``."""

        async def collect() -> list[dict[str, Any]]:
            found: list[dict[str, Any]] = []
            async for chunk in obstore.list(self.store, prefix, chunk_size=1000):
                found.extend(chunk)  # type: ignore[arg-type]
            return found

        return self.run(collect(), f"LIST {prefix}")

    def list_dirs(self, prefixes: Sequence[str]) -> list[list[str]]:
        """The names of the "folders" directly under each prefix, sorted (one LIST each)."""

        async def one(prefix: str) -> list[str]:
            listed = await obstore.list_with_delimiter_async(self.store, prefix)
            return sorted(path.rstrip("/").rsplit("/", 1)[-1] for path in listed["common_prefixes"])

        async def gather() -> list[list[str]]:
            return await asyncio.gather(*(self._limited(one(prefix)) for prefix in prefixes))

        return self.run(gather(), f"LIST {prefixes[0] if prefixes else ''}")

    # --- writing ----------------------------------------------------------------------------

    def put(
        self, key: str, data: bytes, attributes: Mapping[str, str] | None = None
    ) -> concurrent.futures.Future[Any]:
        """Create or replace ``key`` (pipelined: see :meth:`flush`).

        Returns:
            A future of obstore's ``PutResult`` (``e_tag``, ``version``).
        """

        async def write() -> Any:
            return await obstore.put_async(
                self.store, key, data, attributes=dict(attributes or {}), use_multipart=False
            )

        return self._submit(key, write, f"PUT {key}")

    def put_new(self, names: Iterable[str], data: bytes) -> None:
        """Write ``data`` under the first of ``names`` that is free (pipelined).

        The PUT is conditional (``If-None-Match: *``), so two writers never clobber each
        other. A name found taken by the very same bytes is our own earlier attempt whose
        answer was lost (and retried): it is kept, not written twice.
        """
        candidates = iter(names)
        first = next(candidates)

        async def write() -> None:
            for name in (first, *candidates):
                try:
                    await obstore.put_async(
                        self.store, name, data, mode="create", use_multipart=False
                    )
                    return
                except AlreadyExistsError:
                    existing = await self._get(name)
                    if existing is not None and existing.data == data:
                        return
            raise StorageError(f"storage {self.url}: no free name for {first}")

        self._submit(first, write, f"PUT {first}")

    def delete(self, keys: Sequence[str]) -> None:
        """Delete these objects now (missing ones are fine)."""
        if keys:
            self.run(obstore.delete_async(self.store, list(keys)), f"DELETE {keys[0]}")

    def upload(self, key: str, path: Path) -> None:
        """Store the file at ``path`` under ``key`` now (multipart when it is large)."""
        self.run(obstore.put_async(self.store, key, path), f"PUT {key}")

    def upload_many(self, pairs: Sequence[tuple[str, Path]]) -> None:
        """Store several files at once."""

        async def gather() -> None:
            await asyncio.gather(
                *(self._limited(obstore.put_async(self.store, k, p)) for k, p in pairs)
            )

        if pairs:
            self.run(gather(), f"PUT {pairs[0][0]} and {len(pairs) - 1} more")

    def download_many(self, pairs: Sequence[tuple[str, Path]]) -> list[bool]:
        """Write each object to its local file (streamed); ``False`` for a missing one."""

        async def one(key: str, path: Path) -> bool:
            try:
                result = await obstore.get_async(self.store, key)
            except FileNotFoundError:
                return False
            with path.open("wb") as out:
                async for chunk in result.stream():
                    out.write(chunk)
            return True

        async def gather() -> list[bool]:
            return await asyncio.gather(*(self._limited(one(k, p)) for k, p in pairs))

        if not pairs:
            return []
        return self.run(gather(), f"GET {pairs[0][0]} and {len(pairs) - 1} more")

    def _submit(
        self, key: str, write: Callable[[], Coroutine[Any, Any, Any]], what: str
    ) -> concurrent.futures.Future[Any]:
        async def ordered() -> Any:
            previous = self._chains.get(key)
            current = asyncio.current_task()
            assert current is not None
            self._chains[key] = current
            try:
                if previous is not None and not previous.done():
                    await asyncio.wait([previous])  # its failure is reported on its own
                async with self._limit:
                    return await write()
            except _FAILURES as error:
                raise StorageError(f"storage {self.url}: {what} failed: {reason(error)}") from None
            finally:
                if self._chains.get(key) is current:
                    del self._chains[key]

        future = self._loop.submit(ordered())
        with self._pending_lock:
            self._pending.append(future)
            if len(self._pending) > _PRUNE_AT:
                self._pending = [f for f in self._pending if not _settled_ok(f)]
        return future

    def flush(self) -> None:
        """Wait until every write submitted so far is stored.

        Raises:
            StorageError: the first write that failed (after obstore's retries) since the
                last flush.
        """
        with self._pending_lock:
            pending, self._pending = self._pending, []
        if not pending:
            return
        waiting = self._loop.submit(_wait_all(pending))
        self._wait(waiting)
        for future in pending:
            error = None if future.cancelled() else future.exception()
            if error is not None:
                raise error


def _settled_ok(future: concurrent.futures.Future[Any]) -> bool:
    return future.done() and not future.cancelled() and future.exception() is None


async def _wait_all(futures: list[concurrent.futures.Future[Any]]) -> None:
    await asyncio.wait([asyncio.wrap_future(future) for future in futures])
