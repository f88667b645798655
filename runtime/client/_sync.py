"""The blocking client: :class:`SyncPerstackClient`, the twin of ``PerstackClient``."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx2

from runtime.client import _routes as routes
from runtime.client._models import (
    ApplicationInfo,
    FileInfo,
    Job,
    JobPage,
    StreamCompletion,
    StreamErrorFrame,
)
from runtime.client._results import ClientError, PerstackClientError, Result
from runtime.client._sse import SSEDecoder
from runtime.client._stream import (
    StreamInvalid,
    StreamState,
    backoff_delay,
    gave_up,
    is_retryable_status,
)
from runtime.client._transport import (
    Call,
    ClientConfig,
    abort_error,
    error_of,
    http_error,
    normalize_base_url,
    result_of,
)
from runtime.events import BaseEvent

__all__ = ["SyncJobStream", "SyncJobs", "SyncPerstackClient"]


class SyncPerstackClient:
    """A blocking client of the Perstack Execution API, built on ``httpx2.Client``.

    The same arguments and methods as :class:`~runtime.client.PerstackClient` (``transport``
    is an ``httpx2`` sync transport); use ``with SyncPerstackClient(...) as client:`` or
    call :meth:`close`. The ``signal`` of a call is a ``threading.Event``; a blocking
    client can only look at it between reads (before the request, between stream lines),
    so setting it does not interrupt a read already waiting on the server.
    """

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None = None,
        timeout: float | None = 30.0,
        transport: httpx2.BaseTransport | None = None,
        stream_retries: int = 5,
        stream_backoff: float = 0.25,
    ) -> None:
        self._config = ClientConfig(
            base_url=normalize_base_url(base_url),
            api_key=api_key,
            timeout=timeout,
            stream_retries=stream_retries,
            stream_backoff=stream_backoff,
        )
        self._http = httpx2.Client(
            base_url=self._config.base_url,
            headers=self._config.headers(),
            timeout=self._config.httpx_timeout(),
            transport=transport,
        )
        #: The job routes: ``start``, ``get``, ``list``, ``continue_``, ``cancel``, ...
        self.jobs = SyncJobs(self._http, self._config)

    @property
    def base_url(self) -> str:
        """The server's base URL (without ``/api/v1``)."""
        return self._config.base_url

    def application(self, *, signal: threading.Event | None = None) -> Result[ApplicationInfo]:
        """The key's application (``GET /application``): its id and its Experts."""
        return self.jobs._send(routes.get_application(), signal)

    def close(self) -> None:
        """Close the connections."""
        self._http.close()

    def __enter__(self) -> SyncPerstackClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        key = "***" if self._config.api_key else None
        return f"SyncPerstackClient(base_url={self.base_url!r}, api_key={key})"


class SyncJobs:
    """The job routes of :class:`SyncPerstackClient`; see ``AsyncJobs`` for each method.

    Every method returns a :class:`Result` and never raises for ``http``, ``network``,
    ``timeout``, ``validation`` or ``abort`` failures.
    """

    def __init__(self, http: httpx2.Client, config: ClientConfig) -> None:
        self._http = http
        self._config = config

    def _send(self, call: Call, signal: threading.Event | None) -> Result[Any]:
        if signal is not None and signal.is_set():
            return Result.failure(abort_error())
        try:
            response = self._http.request(call.method, call.path, **call.request_kwargs())
        except Exception as exc:
            error = error_of(exc, self._config.api_key)
            if error is None:
                raise
            return Result.failure(error)
        if signal is not None and signal.is_set():
            return Result.failure(abort_error())
        return result_of(call, response, self._config.api_key)

    def start(
        self,
        *,
        application_id: str,
        expert_key: str,
        query: str,
        provider: str | None = None,
        model: str | None = None,
        signal: threading.Event | None = None,
    ) -> Result[Job]:
        """Start a job (``POST /jobs``); its data is the new :class:`Job`."""
        call = routes.start_job(application_id, expert_key, query, provider, model)
        return self._send(call, signal)

    def get(self, job_id: str, *, signal: threading.Event | None = None) -> Result[Job]:
        """A job (``GET /jobs/{job_id}``)."""
        return self._send(routes.get_job(job_id), signal)

    def list(
        self,
        *,
        application_id: str | None = None,
        status: str | None = None,
        take: int | None = None,
        skip: int | None = None,
        signal: threading.Event | None = None,
    ) -> Result[JobPage]:
        """A page of jobs, newest first (``GET /jobs``); ``None`` filters are not sent."""
        return self._send(routes.list_jobs(application_id, status, take, skip), signal)

    def continue_(
        self,
        job_id: str,
        *,
        query: str | None = None,
        interactive_tool_call_result: dict[str, Any] | None = None,
        signal: threading.Event | None = None,
    ) -> Result[Job]:
        """Continue a stopped job with a ``query`` or an interactive tool call's result."""
        return self._send(routes.continue_job(job_id, query, interactive_tool_call_result), signal)

    def cancel(self, job_id: str, *, signal: threading.Event | None = None) -> Result[Job]:
        """Cancel a job (``POST /jobs/{job_id}/cancel``)."""
        return self._send(routes.cancel_job(job_id), signal)

    def checkpoints(
        self, job_id: str, *, signal: threading.Event | None = None
    ) -> Result[list[dict[str, Any]]]:
        """A job's checkpoints, as the JSON objects the server sends."""
        return self._send(routes.list_checkpoints(job_id), signal)

    def checkpoint(
        self, job_id: str, checkpoint_id: str, *, signal: threading.Event | None = None
    ) -> Result[dict[str, Any]]:
        """One checkpoint of a job, as the JSON object the server sends."""
        return self._send(routes.get_checkpoint(job_id, checkpoint_id), signal)

    def files(
        self, job_id: str, *, signal: threading.Event | None = None
    ) -> Result[list[FileInfo]]:
        """The files of a job's workspace."""
        return self._send(routes.list_files(job_id), signal)

    def file(
        self, job_id: str, path: str, *, signal: threading.Event | None = None
    ) -> Result[bytes]:
        """The content of one file of a job's workspace."""
        return self._send(routes.get_file(job_id, path), signal)

    def stream(
        self,
        job_id: str,
        *,
        last_event_id: str | None = None,
        signal: threading.Event | None = None,
        raise_on_error: bool = False,
    ) -> SyncJobStream:
        """The events of a job, as they happen; see :class:`SyncJobStream`."""
        routes.stream_path(job_id)
        return SyncJobStream(
            self._http, self._config, job_id,
            last_event_id=last_event_id, signal=signal, raise_on_error=raise_on_error,
        )  # fmt: skip


class SyncJobStream:
    """A job's event stream, as a normal iterator: the same behaviour as
    ``AsyncJobStream`` (reconnection with ``Last-Event-ID``, :attr:`result`,
    :attr:`completion`, :attr:`errors`), read in the calling thread. Use ``with`` (or
    :meth:`close`) to close the connection when leaving the loop early.
    """

    def __init__(
        self,
        http: httpx2.Client,
        config: ClientConfig,
        job_id: str,
        *,
        last_event_id: str | None,
        signal: threading.Event | None,
        raise_on_error: bool,
    ) -> None:
        self._http = http
        self._config = config
        self._state = StreamState(job_id, last_event_id)
        self._signal = signal
        self._raise_on_error = raise_on_error
        self._events: Iterator[BaseEvent] | None = None

    @property
    def result(self) -> Result[StreamCompletion] | None:
        """How the stream ended (``None`` while it runs)."""
        return self._state.result

    @property
    def completion(self) -> StreamCompletion | None:
        """The ``complete`` frame (the job's final status), once received."""
        return self._state.completion

    @property
    def errors(self) -> list[StreamErrorFrame]:
        """The server's ``error`` frames received so far."""
        return list(self._state.errors)

    @property
    def last_event_id(self) -> str | None:
        """The id of the last event received."""
        return self._state.last_event_id

    @property
    def reconnects(self) -> int:
        """How many times the stream reconnected."""
        return self._state.reconnects

    def __iter__(self) -> SyncJobStream:
        return self

    def __next__(self) -> BaseEvent:
        if self._events is None:
            self._events = self._run()
        return next(self._events)

    def close(self) -> None:
        """Stop reading (closes the connection)."""
        events, self._events = self._events, iter(())
        if events is not None:
            events.close()  # type: ignore[attr-defined]
        if self._state.result is None:
            self._state.result = Result.failure(abort_error("the stream was closed"))

    def __enter__(self) -> SyncJobStream:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _aborted(self) -> bool:
        return self._signal is not None and self._signal.is_set()

    def _run(self) -> Iterator[BaseEvent]:
        result = yield from self._read()
        self._state.result = result
        if self._raise_on_error and result.error is not None:
            raise PerstackClientError(result.error)

    def _read(self) -> Iterator[BaseEvent]:  # returns its Result through StopIteration
        state, config = self._state, self._config
        path = routes.stream_path(state.job_id)
        failures = 0
        while True:
            if self._aborted():
                return Result.failure(abort_error("the stream was aborted"))
            try:
                with self._http.stream("GET", path, headers=state.headers()) as response:
                    if not response.is_success:
                        response.read()
                        failure = http_error(response, config.api_key)
                        if not is_retryable_status(response.status_code):
                            return Result.failure(failure)
                    else:
                        decoder = SSEDecoder()
                        for line in response.iter_lines():
                            if self._aborted():
                                return Result.failure(abort_error("the stream was aborted"))
                            frame = decoder.feed(line)
                            if frame is None:
                                continue
                            event = state.handle(frame)
                            if event is not None:
                                failures = 0  # a new event: the stream moves on, count anew
                                yield event
                            if state.completion is not None:
                                return Result.success(state.completion)
                        failure = ClientError(
                            type="network", message="the stream ended before its complete frame"
                        )
            except StreamInvalid as exc:
                return Result.failure(exc.error)
            except Exception as exc:
                error = error_of(exc, config.api_key)
                if error is None:
                    raise
                failure = error
            failures += 1
            if failures > config.stream_retries:
                return Result.failure(gave_up(failure, config.stream_retries))
            state.reconnects += 1
            time.sleep(backoff_delay(config.stream_backoff, failures))
