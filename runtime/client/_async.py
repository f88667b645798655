"""The asyncio client: :class:`PerstackClient` and its ``jobs``."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx2

from runtime.client import _routes as routes
from runtime.client._abort import abortable, cancelled_by_caller
from runtime.client._async_stream import AsyncJobStream
from runtime.client._models import ApplicationInfo, FileInfo, Job, JobPage
from runtime.client._results import Result
from runtime.client._transport import (
    Call,
    ClientConfig,
    abort_error,
    error_of,
    normalize_base_url,
    result_of,
)

__all__ = ["AsyncJobs", "PerstackClient"]


class PerstackClient:
    """An asyncio client of the Perstack Execution API.

    Args:
        base_url: the server, e.g. ``http://127.0.0.1:8080`` (``/api/v1`` is added).
        api_key: sent as ``Authorization: Bearer <key>``; never shown in reprs or errors.
        timeout: seconds for connecting and for each read (``None``: no limit). A stream
            whose server stays silent this long (no event, no keep-alive) reconnects.
        transport: an ``httpx2`` async transport (e.g. ``httpx2.MockTransport`` in tests).
        stream_retries: how many times in a row a stream reconnects before it fails.
        stream_backoff: the first pause before a reconnection, doubling after each failure.

    Use it as ``async with PerstackClient(...) as client:`` or call :meth:`aclose`.
    """

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None = None,
        timeout: float | None = 30.0,
        transport: httpx2.AsyncBaseTransport | None = None,
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
        self._http = httpx2.AsyncClient(
            base_url=self._config.base_url,
            headers=self._config.headers(),
            timeout=self._config.httpx_timeout(),
            transport=transport,
        )
        #: The job routes: ``start``, ``get``, ``list``, ``continue_``, ``cancel``, ...
        self.jobs = AsyncJobs(self._http, self._config)

    @property
    def base_url(self) -> str:
        """The server's base URL (without ``/api/v1``)."""
        return self._config.base_url

    async def application(self, *, signal: asyncio.Event | None = None) -> Result[ApplicationInfo]:
        """The key's application (``GET /application``): its id and its Experts."""
        return await self.jobs._send(routes.get_application(), signal)

    async def aclose(self) -> None:
        """Close the connections."""
        await self._http.aclose()

    async def __aenter__(self) -> PerstackClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        key = "***" if self._config.api_key else None
        return f"PerstackClient(base_url={self.base_url!r}, api_key={key})"


class AsyncJobs:
    """The job routes of :class:`PerstackClient` (``client.jobs``).

    Every method returns a :class:`Result` and never raises for ``http``, ``network``,
    ``timeout``, ``validation`` or ``abort`` failures (wrong arguments raise
    ``ValueError``). Each takes an optional ``signal`` (an ``asyncio.Event``): setting it
    aborts the call, which then returns an ``abort`` error.

    Cancelling the task that awaits a call (``task.cancel()``, ``asyncio.timeout``) is
    not an abort: the ``CancelledError`` propagates, as asyncio requires. A
    ``CancelledError`` that does not come from cancelling the caller's task gives an
    ``abort`` result.
    """

    def __init__(self, http: httpx2.AsyncClient, config: ClientConfig) -> None:
        self._http = http
        self._config = config

    async def _request(self, call: Call) -> Result[Any]:
        try:
            response = await self._http.request(call.method, call.path, **call.request_kwargs())
        except Exception as exc:
            error = error_of(exc, self._config.api_key)
            if error is None:
                raise
            return Result.failure(error)
        return result_of(call, response, self._config.api_key)

    async def _send(self, call: Call, signal: asyncio.Event | None) -> Result[Any]:
        try:
            aborted, result = await abortable(self._request(call), signal)
        except asyncio.CancelledError:
            if cancelled_by_caller():
                raise
            return Result.failure(abort_error())
        return Result.failure(abort_error()) if aborted else result

    async def start(
        self,
        *,
        application_id: str,
        expert_key: str,
        query: str,
        provider: str | None = None,
        model: str | None = None,
        signal: asyncio.Event | None = None,
    ) -> Result[Job]:
        """Start a job (``POST /jobs``); its data is the new :class:`Job`."""
        call = routes.start_job(application_id, expert_key, query, provider, model)
        return await self._send(call, signal)

    async def get(self, job_id: str, *, signal: asyncio.Event | None = None) -> Result[Job]:
        """A job (``GET /jobs/{job_id}``)."""
        return await self._send(routes.get_job(job_id), signal)

    async def list(
        self,
        *,
        application_id: str | None = None,
        status: str | None = None,
        take: int | None = None,
        skip: int | None = None,
        signal: asyncio.Event | None = None,
    ) -> Result[JobPage]:
        """A page of jobs, newest first (``GET /jobs``); ``None`` filters are not sent."""
        return await self._send(routes.list_jobs(application_id, status, take, skip), signal)

    async def continue_(
        self,
        job_id: str,
        *,
        query: str | None = None,
        interactive_tool_call_result: dict[str, Any] | None = None,
        signal: asyncio.Event | None = None,
    ) -> Result[Job]:
        """Continue a stopped job with a new ``query`` or the result of the interactive
        tool call it stopped on (``{"toolCallId", "toolName", "skillName", "text"}``);
        exactly one of the two. A running job gives an ``http`` 409 error."""
        call = routes.continue_job(job_id, query, interactive_tool_call_result)
        return await self._send(call, signal)

    async def cancel(self, job_id: str, *, signal: asyncio.Event | None = None) -> Result[Job]:
        """Cancel a job (``POST /jobs/{job_id}/cancel``)."""
        return await self._send(routes.cancel_job(job_id), signal)

    async def checkpoints(
        self, job_id: str, *, signal: asyncio.Event | None = None
    ) -> Result[list[dict[str, Any]]]:
        """A job's checkpoints, as the JSON objects the server sends."""
        return await self._send(routes.list_checkpoints(job_id), signal)

    async def checkpoint(
        self, job_id: str, checkpoint_id: str, *, signal: asyncio.Event | None = None
    ) -> Result[dict[str, Any]]:
        """One checkpoint of a job, as the JSON object the server sends."""
        return await self._send(routes.get_checkpoint(job_id, checkpoint_id), signal)

    async def files(
        self, job_id: str, *, signal: asyncio.Event | None = None
    ) -> Result[list[FileInfo]]:
        """The files of a job's workspace."""
        return await self._send(routes.list_files(job_id), signal)

    async def file(
        self, job_id: str, path: str, *, signal: asyncio.Event | None = None
    ) -> Result[bytes]:
        """The content of one file of a job's workspace (``path`` relative, ``/``-separated)."""
        return await self._send(routes.get_file(job_id, path), signal)

    def stream(
        self,
        job_id: str,
        *,
        last_event_id: str | None = None,
        signal: asyncio.Event | None = None,
        raise_on_error: bool = False,
    ) -> AsyncJobStream:
        """The events of a job, as they happen; see :class:`AsyncJobStream`."""
        routes.stream_path(job_id)  # checks the id now rather than at the first event
        return AsyncJobStream(
            self._http, self._config, job_id,
            last_event_id=last_event_id, signal=signal, raise_on_error=raise_on_error,
        )  # fmt: skip
