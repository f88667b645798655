"""The S3 client behind :class:`~runtime.storage.objectstore.ObjectStorage`.

Storage's interface is synchronous. obstore runs every request on its own async runtime
(Rust's tokio) and offers two doors into it: coroutines for an asyncio loop, and blocking
calls that release the GIL while they wait. We use the blocking calls, on a private pool of
threads (``perstack-s3-N``) shared by every store of the process:

* a synchronous call hands its request to the pool and waits. Nothing runs on the caller's
  event loop (no ``asyncio.run`` inside a running loop, no deadlock), so it works alike from
  plain code, from the engine's loop and from many threads at once;
* batches (a job's events, its checkpoints, every job record) run concurrently, at most
  :data:`MAX_CONCURRENCY` requests at a time;
* writes are *pipelined*: they are queued and the caller goes on; writes to one key keep
  their order, every read waits for the writes in flight, and :meth:`S3Client.flush`
  waits for all of them and raises the first failure.

Why not obstore's coroutines on a private asyncio loop: their results are handed back by a
tokio thread calling into Python, and one still doing so while the interpreter exits
aborts the process (seen here about once in 200 ``perstack run``s: SIGABRT from
``pyo3_async_runtimes::set_result`` during ``Py_FinalizeEx``). Pool threads are Python's
own: at exit the pool finishes its queue (every pipelined write is stored) before the
interpreter finalizes, and no foreign thread ever enters Python.

Each object is one atomic PUT, so a reader never sees half a document. Retries are
obstore's own (:class:`~obstore.store.RetryConfig`): connection errors, 5xx answers and
timeouts are retried with exponential backoff for up to ``PERSTACK_STORAGE_TIMEOUT``
seconds (60 by default); a call still waiting after :data:`SLOW_NOTICE_SECONDS` says so
once on stderr. What still fails becomes one :class:`StorageError` line.
"""

from __future__ import annotations

import atexit
import concurrent.futures
import itertools
import re
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

import obstore
from obstore.exceptions import AlreadyExistsError, BaseError, PreconditionError
from obstore.store import S3Store

from runtime.storage.records import StorageError, parse_s3_url

__all__ = ["Fetched", "S3Client"]

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


# --- the private pool ---------------------------------------------------------------------

_pool: concurrent.futures.ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()
_clients: weakref.WeakSet[S3Client] = weakref.WeakSet()


def _shared_pool() -> concurrent.futures.ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = concurrent.futures.ThreadPoolExecutor(MAX_CONCURRENCY, "perstack-s3")
            atexit.register(_report_failed_writes)
        return _pool


def _report_failed_writes() -> None:
    """At exit (the pool has finished its queue by then): say which writes failed."""
    for client in list(_clients):
        try:
            client.flush()
        except StorageError as error:
            client.on_warning(f"warning: {error}")


# --- the client ---------------------------------------------------------------------------


class S3Client:
    """Synchronous access to one bucket and prefix, over the private pool.

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
        self._pool = _shared_pool()
        self._lock = threading.Lock()
        #: key -> the last write queued for it.
        self._chains: dict[str, concurrent.futures.Future[Any]] = {}
        #: writes not yet reported by flush().
        self._pending: list[concurrent.futures.Future[Any]] = []
        self._noticed = False
        self._answered = time.monotonic()
        _clients.add(self)

    # --- waiting ----------------------------------------------------------------------------

    def _wait_all(self, futures: Sequence[concurrent.futures.Future[Any]]) -> None:
        """Wait for ``futures``; say once that the store is not answering when no request
        at all has come back for :data:`SLOW_NOTICE_SECONDS` (a long queue of writes that
        keeps moving is not that)."""
        waiting: Any = futures
        started = time.monotonic()
        while True:
            _, waiting = concurrent.futures.wait(waiting, SLOW_NOTICE_SECONDS / 4)
            if not waiting:
                self._noticed = False  # it answered: say so again if it goes away again
                return
            silent = time.monotonic() - max(self._answered, started)
            if silent > SLOW_NOTICE_SECONDS and not self._noticed:
                self._noticed = True
                self.on_warning(
                    f"warning: storage {self.url} is not answering; retrying for up to "
                    f"{self.timeout:g} s"
                )

    def _submit_request(
        self, function: Callable[..., T], *args: Any
    ) -> concurrent.futures.Future[T]:
        def request() -> T:
            try:
                return function(*args)
            finally:  # an answer came back (obstore retries a store that gives none)
                self._answered = time.monotonic()

        return self._pool.submit(request)

    def result(self, future: concurrent.futures.Future[T], what: str) -> T:
        """The result of a queued request, its failure as one :class:`StorageError`."""
        self._wait_all([future])
        try:
            return future.result()
        except _FAILURES as error:
            raise StorageError(f"storage {self.url}: {what} failed: {reason(error)}") from None

    def _settle(self) -> None:
        """Wait for the writes in flight (a read must see them); their errors are flush's."""
        with self._lock:
            writes = [future for future in self._chains.values() if not future.done()]
        if writes:
            self._wait_all(writes)

    def _call(self, function: Callable[..., T], *args: Any, what: str) -> T:
        self._settle()
        return self.result(self._submit_request(function, *args), what)

    def _call_many(self, function: Callable[..., T], argsets: Sequence[tuple[Any, ...]],
                   what: str) -> list[T]:  # fmt: skip
        self._settle()
        futures = [self._submit_request(function, *args) for args in argsets]
        self._wait_all(futures)
        return [self.result(future, what) for future in futures]

    # --- reading ----------------------------------------------------------------------------

    def _get(self, key: str, head: int | None = None) -> Fetched | None:
        options: Any = {"range": (0, head)} if head else None
        try:
            result = obstore.get(self.store, key, options=options)
            data = bytes(result.bytes())
        except FileNotFoundError as error:
            if "NoSuchBucket" in str(error):
                raise
            return None
        except BaseError as error:
            if head and "InvalidRange" in str(error):  # an empty object has no first bytes
                return self._get(key)
            raise
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
        return self._call(self._get, key, head, what=f"GET {key}")

    def get_many(self, keys: Sequence[str], head: int | None = None) -> list[Fetched | None]:
        """Several objects at once (``None`` for those missing), in the order of ``keys``."""
        if not keys:
            return []
        what = f"GET {keys[0]}" + (f" and {len(keys) - 1} more" if len(keys) > 1 else "")
        return self._call_many(self._get, [(key, head) for key in keys], what)

    def get_soon(self, key: str) -> concurrent.futures.Future[Fetched | None]:
        """Start reading ``key`` (an object no write in flight touches); pass the future
        to :meth:`result` for what :meth:`get` would return."""
        return self._submit_request(self._get, key)

    def list(self, prefix: str, after: str | None = None) -> list[dict[str, Any]]:
        """Every object under ``prefix`` (recursively), as obstore's ``ObjectMeta``; with
        ``after``, only those whose keys sort after it (S3's ``start-after``)."""

        def collect() -> list[dict[str, Any]]:
            found: list[dict[str, Any]] = []
            listing = obstore.list(self.store, prefix, offset=after, chunk_size=1000)
            for chunk in listing:
                found.extend(chunk)  # type: ignore[arg-type]
            return found

        return self._call(collect, what=f"LIST {prefix}")

    def list_dirs(self, prefixes: Sequence[str]) -> list[list[str]]:
        """The names of the "folders" directly under each prefix, sorted (one LIST each)."""

        def one(prefix: str) -> list[str]:
            listed = obstore.list_with_delimiter(self.store, prefix)
            return sorted(path.rstrip("/").rsplit("/", 1)[-1] for path in listed["common_prefixes"])

        if not prefixes:
            return []
        return self._call_many(one, [(prefix,) for prefix in prefixes], f"LIST {prefixes[0]}")

    # --- writing ----------------------------------------------------------------------------

    def put(
        self, key: str, data: bytes, attributes: Mapping[str, str] | None = None
    ) -> concurrent.futures.Future[Any]:
        """Create or replace ``key`` (pipelined: see :meth:`flush`).

        Returns:
            A future of obstore's ``PutResult`` (``e_tag``, ``version``).
        """

        def write() -> Any:
            return obstore.put(
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

        def write() -> None:
            for name in itertools.chain((first,), candidates):
                try:
                    self._resent(obstore.put, self.store, name, data, mode="create",
                                 use_multipart=False)  # fmt: skip
                    return
                except AlreadyExistsError:
                    existing = self._get(name)
                    if existing is not None and existing.data == data:
                        return
            raise StorageError(f"storage {self.url}: no free name for {first}")

        self._submit(first, write, f"PUT {first}")

    def put_if(self, key: str, data: bytes, e_tag: str | None) -> bool:
        """Write ``key`` now, only if it is still the version ``e_tag`` names (``None``:
        only if there is none yet): a compare-and-swap for documents several machines
        update. ``False`` when another writer got there first (read it again).
        """

        def write() -> bool:
            mode: Any = {"e_tag": e_tag} if e_tag is not None else "create"
            try:
                self._resent(obstore.put, self.store, key, data, mode=mode, use_multipart=False)
            except (AlreadyExistsError, PreconditionError):
                return False
            return True

        return self._call(write, what=f"PUT {key}")

    def _resent(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Call ``function``, sending a conditional request again when the connection broke
        on its way. obstore retries only requests it may repeat blindly; a conditional PUT
        is safe to repeat too, since a first attempt that did land makes the repeat fail its
        condition, which the callers tell from a write of someone else."""
        deadline = time.monotonic() + self.timeout
        delay = 0.1
        while True:
            try:
                return function(*args, **kwargs)
            except BaseError as error:
                if "error sending request" not in str(error) or time.monotonic() > deadline:
                    raise
            time.sleep(delay)  # the store is away: back off as obstore does
            delay = min(delay * 3, 5.0)

    def delete(self, keys: Sequence[str]) -> None:
        """Delete these objects now (missing ones are fine)."""
        if keys:
            self._call(obstore.delete, self.store, list(keys), what=f"DELETE {keys[0]}")

    def upload_many(self, pairs: Sequence[tuple[str, Path]]) -> None:
        """Store local files now, at once (each multipart when it is large)."""
        if pairs:
            argsets = [(self.store, key, path) for key, path in pairs]
            self._call_many(obstore.put, argsets, f"PUT {pairs[0][0]}")

    def download_many(self, pairs: Sequence[tuple[str, Path]]) -> list[bool]:
        """Write objects to local files (streamed), at once; ``False`` for a missing one."""

        def one(key: str, path: Path) -> bool:
            try:
                result = obstore.get(self.store, key)
            except FileNotFoundError:
                return False
            with path.open("wb") as out:
                for chunk in result.stream():
                    out.write(chunk)
            return True

        if not pairs:
            return []
        return self._call_many(one, list(pairs), f"GET {pairs[0][0]}")

    def _submit(
        self, key: str, write: Callable[[], Any], what: str
    ) -> concurrent.futures.Future[Any]:
        def ordered(previous: concurrent.futures.Future[Any] | None) -> Any:
            if previous is not None:
                # Queued before us, so already running or ahead in the pool's queue.
                concurrent.futures.wait([previous])
            try:
                return write()
            except _FAILURES as error:
                raise StorageError(f"storage {self.url}: {what} failed: {reason(error)}") from None

        with self._lock:
            previous = self._chains.get(key)
            if previous is not None and previous.done():
                previous = None
            future = self._submit_request(ordered, previous)
            self._chains[key] = future
            self._pending.append(future)
            if len(self._pending) > _PRUNE_AT:
                self._pending = [f for f in self._pending if not _settled_ok(f)]
                self._chains = {k: f for k, f in self._chains.items() if not f.done()}
        return future

    def flush(self) -> None:
        """Wait until every write queued so far is stored.

        Raises:
            StorageError: the first write that failed (after obstore's retries) since the
                last flush.
        """
        with self._lock:
            pending, self._pending = self._pending, []
        if not pending:
            return
        self._wait_all(pending)
        with self._lock:
            self._chains = {k: f for k, f in self._chains.items() if not f.done()}
        for future in pending:
            error = None if future.cancelled() else future.exception()
            if error is not None:
                raise error


def _settled_ok(future: concurrent.futures.Future[Any]) -> bool:
    return future.done() and not future.cancelled() and future.exception() is None
