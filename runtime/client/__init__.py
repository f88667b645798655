"""A Python client of the Perstack Execution API (``/api/v1``).

::

    from runtime.client import PerstackClient

    async with PerstackClient("http://127.0.0.1:8080", api_key=key) as client:
        started = await client.jobs.start(application_id="default", expert_key="writer",
                                          query="Write a haiku")
        if not started.ok:
            print(started.error.type, started.error.message)
            return
        async with client.jobs.stream(started.data.id) as stream:
            async for event in stream:      # typed runtime.events, full histories
                print(event.type)
        print(stream.result)                # Result[StreamCompletion] or the error

Every call returns a :class:`Result`: ``ok`` with ``data``, or not ``ok`` with an
``error`` (:class:`ClientError`) whose ``type`` is ``http``, ``network``, ``timeout``,
``validation`` or ``abort``; calls do not raise for those. :class:`SyncPerstackClient`
is the blocking twin. The client needs only ``httpx2`` and the runtime's event models.
"""

from __future__ import annotations

from runtime.client._async import AsyncJobs, PerstackClient
from runtime.client._async_stream import AsyncJobStream
from runtime.client._models import (
    ApplicationInfo,
    ExpertInfo,
    FileInfo,
    Job,
    JobPage,
    JobStatus,
    StreamCompletion,
    StreamErrorFrame,
    Usage,
)
from runtime.client._results import ClientError, ErrorType, PerstackClientError, Result
from runtime.client._sync import SyncJobs, SyncJobStream, SyncPerstackClient

__all__ = [
    "ApplicationInfo",
    "AsyncJobStream",
    "AsyncJobs",
    "ClientError",
    "ErrorType",
    "ExpertInfo",
    "FileInfo",
    "Job",
    "JobPage",
    "JobStatus",
    "PerstackClient",
    "PerstackClientError",
    "Result",
    "StreamCompletion",
    "StreamErrorFrame",
    "SyncJobStream",
    "SyncJobs",
    "SyncPerstackClient",
    "Usage",
]
