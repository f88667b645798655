"""The asyncio job event stream: :class:`AsyncJobStream`."""

from __future__ import annotations

import asyncio

import httpx2

from runtime.client import _routes as routes
from runtime.client._abort import abortable
from runtime.client._models import StreamCompletion, StreamErrorFrame
from runtime.client._results import ClientError, PerstackClientError, Result
from runtime.client._sse import SSEDecoder
from runtime.client._stream import (
    StreamInvalid,
    StreamState,
    backoff_delay,
    gave_up,
    is_retryable_status,
)
from runtime.client._transport import ClientConfig, abort_error, error_of, http_error
from runtime.events import BaseEvent

__all__ = ["AsyncJobStream"]

_END = object()


class AsyncJobStream:
    """A job's event stream: ``async for event in stream`` yields typed runtime events
    (``runtime.events``) with full message histories, in order, each once.

    A dropped connection (or a silent server, or a 5xx answer) reconnects with
    ``Last-Event-ID`` up to ``stream_retries`` times in a row, pausing ``stream_backoff``
    seconds (doubling); the compact events are rebuilt by one ``StreamRebuilder`` kept
    across reconnections. Iteration ends after the server's ``complete`` frame, or on a
    failure. It does not raise for a failure (unless opened with ``raise_on_error``,
    then :class:`PerstackClientError` is raised at the end): look at :attr:`result`, a
    :class:`Result` holding the :class:`StreamCompletion` or the error (``http`` for a
    4xx answer, ``network``/``timeout`` when the retries ran out, ``validation`` for a
    frame that broke the protocol, ``abort`` when ``signal`` was set). The server's
    ``error`` frames do not end the stream; they are collected in :attr:`errors`.

    Events are read ahead by a task of the stream's own, a few at a time; use
    ``async with`` (or :meth:`aclose`) to stop it when leaving the loop early.
    ``last_event_id`` starts after that event: the compact events that build on earlier
    ones then cannot be rebuilt and end the stream with a ``validation`` error.
    """

    def __init__(
        self,
        http: httpx2.AsyncClient,
        config: ClientConfig,
        job_id: str,
        *,
        last_event_id: str | None,
        signal: asyncio.Event | None,
        raise_on_error: bool,
    ) -> None:
        self._http = http
        self._config = config
        self._state = StreamState(job_id, last_event_id)
        self._signal = signal
        self._raise_on_error = raise_on_error
        self._queue: asyncio.Queue[object] = asyncio.Queue(maxsize=8)
        self._producer: asyncio.Task[None] | None = None
        self._finished = False
        self._crash: BaseException | None = None

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

    def __aiter__(self) -> AsyncJobStream:
        return self

    async def __anext__(self) -> BaseEvent:
        if self._finished:
            raise StopAsyncIteration
        if self._producer is None:
            self._producer = asyncio.ensure_future(self._produce())
        item = await self._queue.get()
        if item is _END:
            self._finished = True
            if self._crash is not None:
                raise self._crash
            result = self._state.result
            if self._raise_on_error and result is not None and result.error is not None:
                raise PerstackClientError(result.error)
            raise StopAsyncIteration
        return item  # type: ignore[return-value]

    async def aclose(self) -> None:
        """Stop reading (closes the connection)."""
        self._finished = True
        producer, self._producer = self._producer, None
        if producer is not None and not producer.done():
            producer.cancel()
            await asyncio.wait({producer})
        if self._state.result is None:
            self._state.result = Result.failure(abort_error("the stream was closed"))

    async def __aenter__(self) -> AsyncJobStream:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def _produce(self) -> None:
        try:
            aborted, result = await abortable(self._run(), self._signal)
        except Exception as exc:  # a bug rather than a failure: raised by __anext__
            self._crash = exc
            result = Result.failure(ClientError(type="network", message=repr(exc)))
            aborted = False
        if aborted:
            result = Result.failure(abort_error("the stream was aborted"))
        self._state.result = result
        await self._queue.put(_END)

    async def _run(self) -> Result[StreamCompletion]:
        state, config = self._state, self._config
        path = routes.stream_path(state.job_id)
        failures = 0
        while True:
            try:
                async with self._http.stream("GET", path, headers=state.headers()) as response:
                    if not response.is_success:
                        await response.aread()
                        failure = http_error(response, config.api_key)
                        if not is_retryable_status(response.status_code):
                            return Result.failure(failure)
                    else:
                        decoder = SSEDecoder()
                        async for line in response.aiter_lines():
                            frame = decoder.feed(line)
                            if frame is None:
                                continue
                            event = state.handle(frame)
                            if event is not None:
                                failures = 0  # a new event: the stream moves on, count anew
                                await self._queue.put(event)
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
            await asyncio.sleep(backoff_delay(config.stream_backoff, failures))
