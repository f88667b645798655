"""The Temporal executor: ``perstack serve --engine temporal`` hands jobs to workers.

A job is a workflow whose id is the job id (see :mod:`runtime.distributed.workflows`);
``perstack worker`` processes on any machine run it. The server keeps what it keeps under
the embedded executor (the API's records, each job's stream) and follows each running
job: it gathers the events the workers relay into the job's stream and its SSE channel
(:class:`runtime.distributed.relay.StreamSequencer`), and waits on the workflow's result to
record how the run stopped.

The server holds no job: stopping it leaves the jobs running on the workers, and the next
start follows them again (their streams go on with the next event id). A job whose
workflow Temporal no longer knows (a dev server's state is lost when it stops) is handed
to it again from its last checkpoint.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from typing import Any

from runtime.distributed.contracts import JOB_WORKFLOW, JobStart, Outcome
from runtime.distributed.relay import EventRelay, StreamSequencer, relay_for
from runtime.errors import PerstackError
from runtime.model import InteractiveToolCallResult, now_ms
from runtime.server.channels import JobChannel
from runtime.server.executor_base import ExecutorBase, JobConflict, ServiceUnavailable
from runtime.server.records import ApiJob, ServerRecords, job_status_of
from runtime.server.settings import Application, ServeSettings
from runtime.storage.records import StorageError

__all__ = ["RELAY_POLL_SECONDS", "TemporalExecutor"]

#: How often the server looks for new events of the jobs it follows.
RELAY_POLL_SECONDS = 0.05
#: How long to wait before asking Temporal again after it could not be reached.
_RECONNECT_SECONDS = 1.0


class TemporalExecutor(ExecutorBase):
    """Starts, continues and cancels jobs as Temporal workflows; follows their events.

    Args:
        settings: The applications, the storage root and ``settings.temporal``.
        records: The server's job records and event streams.
    """

    def __init__(self, settings: ServeSettings, records: ServerRecords) -> None:
        super().__init__(settings, records)
        assert settings.temporal is not None
        self.options = settings.temporal
        self._client: Any = None
        self._relay: EventRelay | None = None
        self._follows: dict[str, asyncio.Task[None]] = {}

    # --- life cycle -----------------------------------------------------------------------

    async def prepare(self) -> None:
        """Reach Temporal (a one-line error when it cannot be)."""
        if self._client is None:
            from runtime.distributed.worker import connect

            identity = f"perstack-serve@{socket.gethostname()}:{os.getpid()}"
            self._client = await connect(self.options.address, self.options.namespace, identity)

    async def start(self) -> None:
        """Follow the jobs that are running on the workers."""
        await self.prepare()
        self._open()
        # Beside the job store: a folder every machine mounts, or the bucket.
        # Following many jobs, one listing of the bucket's relay serves every poll of a
        # round (not one request per job per poll).
        self._relay = relay_for(self._storage, shared_listing=RELAY_POLL_SECONDS * 0.8)
        for job in self.records.all_jobs():
            if job.status == "running":
                self._follow(job, None)

    async def shutdown(self) -> None:
        """Stop following (the jobs go on running on the workers)."""
        self.begin_stop()
        tasks = list(self._follows.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # --- what the routes call ---------------------------------------------------------------

    def is_running(self, job_id: str) -> bool:
        return job_id in self._follows

    async def start_job(
        self,
        application: Application,
        expert_key: str,
        query: str,
        provider: str | None = None,
        model: str | None = None,
    ) -> ApiJob:
        """Start a new job's workflow; returns its record (``running``).

        Raises:
            UnknownExpert: no such Expert in the application's ``perstack.toml``.
            PerstackError: the ``perstack.toml`` does not load.
            ServiceUnavailable: Temporal cannot be reached.
        """
        job, _ = self._new_job(application, expert_key, query, provider, model)
        start = self._job_start(job, query=query)
        handle = await self._start_workflow(start)
        self.records.save(job)
        self._follow(job, handle)
        return job

    async def continue_job(
        self,
        job: ApiJob,
        application: Application,
        query: str | None = None,
        answer: InteractiveToolCallResult | None = None,
    ) -> ApiJob:
        """Continue a stopped job (a new run of its workflow).

        Raises:
            JobConflict: the job is running.
            ServiceUnavailable: Temporal cannot be reached.
        """
        checkpoint, query, answer, _ = self._continuation(job, application, query, answer)
        start = self._job_start(job, query=query, answer=answer, checkpoint=checkpoint)
        handle = await self._start_workflow(start)
        job.status, job.updatedAt, job.error = "running", now_ms(), None
        self.records.save(job)
        self._follow(job, handle)
        return job

    async def cancel(self, job: ApiJob) -> ApiJob:
        """Cancel the job's workflow: its run unwinds on its worker and stays resumable."""
        from temporalio.service import RPCError

        if self.is_running(job.id):
            with contextlib.suppress(RPCError):  # it stopped meanwhile: nothing to cancel
                await self._client.get_workflow_handle(job.id).cancel()
        return job

    # --- Temporal ---------------------------------------------------------------------------

    def _job_start(
        self,
        job: ApiJob,
        *,
        query: str | None,
        answer: InteractiveToolCallResult | None = None,
        checkpoint: Any = None,
    ) -> JobStart:
        return JobStart(
            job_id=job.id,
            application=job.applicationId,
            expert_key=job.expertKey,
            provider=job.provider,
            model=job.model,
            query=query,
            answer=answer.to_json_dict() if answer is not None else None,
            checkpoint_id=checkpoint.id if checkpoint is not None else None,
            heartbeat_timeout=self.options.heartbeat_timeout,
        )

    async def _start_workflow(self, start: JobStart) -> Any:
        from temporalio.common import WorkflowIDConflictPolicy
        from temporalio.exceptions import WorkflowAlreadyStartedError
        from temporalio.service import RPCError

        try:
            return await self._client.start_workflow(
                JOB_WORKFLOW,
                start,
                id=start.job_id,
                task_queue=self.options.task_queue,
                result_type=Outcome,
                id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
            )
        except WorkflowAlreadyStartedError:
            raise JobConflict(f"Job {start.job_id} is running; wait for it to stop") from None
        except RPCError as exc:
            raise ServiceUnavailable(f"Temporal is not reachable: {exc.message}") from None

    # --- following a job ----------------------------------------------------------------------

    def _follow(self, job: ApiJob, handle: Any) -> None:
        # The sequencer first: it may cut a batch off the stream that it then reads again.
        assert self._relay is not None
        sequencer = StreamSequencer(self._relay, job.id, self.records.stream_path(job.id))
        channel = self._channel(job.id)
        task = asyncio.get_running_loop().create_task(
            self._follow_run(job, handle, sequencer, channel)
        )
        self._follows[job.id] = task

    async def _follow_run(
        self, job: ApiJob, handle: Any, sequencer: StreamSequencer, channel: JobChannel
    ) -> None:
        result = asyncio.ensure_future(self._result(job, handle))

        async def relay(final: bool = False) -> bool:
            try:  # off the event loop: a bucket answers in milliseconds, not microseconds
                lines = await asyncio.to_thread(sequencer.poll, final)
            except (OSError, StorageError):  # the shared storage is away for a moment
                return False
            for line in lines:
                channel.append(line)
            return True

        try:
            while not result.done():
                await relay()
                await asyncio.wait({result}, timeout=RELAY_POLL_SECONDS)
            while not await relay(final=True):  # every producer has stopped: all the rest
                await asyncio.sleep(_RECONNECT_SECONDS)
            status, error = result.result()
        except asyncio.CancelledError:  # the server is stopping: the job runs on
            result.cancel()
            sequencer.close()
            self._follows.pop(job.id, None)
            raise
        self._settle(job, status, error)
        # Left behind if this fails: harmless, the cursor says they are read.
        with contextlib.suppress(OSError, StorageError):
            await asyncio.to_thread(sequencer.finish)
        # Not running any more before anyone hears it stopped: a continue that follows at
        # once must not find it running.
        self._follows.pop(job.id, None)
        channel.finish(status, error)

    async def _result(self, job: ApiJob, handle: Any) -> tuple[str, str | None]:
        """How the job's workflow ended: ``(API status, error)``."""
        from temporalio.client import WorkflowFailureError
        from temporalio.exceptions import CancelledError
        from temporalio.service import RPCError, RPCStatusCode

        while True:
            if handle is None:
                handle = self._client.get_workflow_handle(job.id, result_type=Outcome)
            try:
                outcome: Outcome = await handle.result()
            except WorkflowFailureError as failure:
                if isinstance(failure.cause, CancelledError):
                    return "cancelled", None
                return "stoppedByError", _failure_message(failure.cause)
            except RPCError as exc:
                if exc.status == RPCStatusCode.NOT_FOUND:
                    handle = await self._hand_over_again(job)
                    if handle is None:
                        stored = self.records.load(job.id) or job
                        return stored.status, stored.error
                    continue
                await asyncio.sleep(_RECONNECT_SECONDS)  # Temporal is away: ask again
                continue
            except Exception as exc:  # a bug: the client gets one line, never a traceback
                return "stoppedByError", f"{type(exc).__name__}: {exc}"
            return job_status_of(outcome.status), None

    async def _hand_over_again(self, job: ApiJob) -> Any:
        """Temporal lost the job's workflow: start it again from the last checkpoint (as
        the embedded executor resumes the jobs a stopped server left running)."""
        checkpoint = self._storage.latest_checkpoint(job.id)
        if checkpoint is not None and checkpoint.status != "proceeding":
            self._settle(job, job_status_of(checkpoint.status), None)
            return None
        query = job.query if checkpoint is None else None
        try:
            return await self._start_workflow(
                self._job_start(job, query=query, checkpoint=checkpoint)
            )
        except PerstackError as exc:
            self._settle(job, "stoppedByError", str(exc))
            return None


def _failure_message(error: Any) -> str:
    """One line for the client: the innermost cause of a workflow's failure."""
    from temporalio.exceptions import ApplicationError, TimeoutError

    while getattr(error, "cause", None) is not None and not isinstance(error, ApplicationError):
        error = error.cause
    if isinstance(error, ApplicationError):
        if error.type == "PerstackError" or not error.type:
            return error.message
        return f"{error.type}: {error.message}"
    if isinstance(error, TimeoutError):
        return f"the job's worker stopped answering ({error.message})"
    return str(getattr(error, "message", None) or error)
