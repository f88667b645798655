"""The embedded executor: jobs run inside the server process, on the bundled runtime.

Jobs run on one thread of their own, with its own asyncio loop, as in the workbench: a job
whose model answers instantly seldom awaits anything that suspends, and on the server's
loop it would hold up every request. Each job works in its own workspace folder and is
stored in the usual job storage, so ``perstack log`` reads the server's jobs too.

Stopping the server cancels the running jobs: the runtime unwinds (skills close, files
stay whole) and their records stay ``running``; the next start resumes them from their
last checkpoint.
"""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import Future
from typing import Any

from runtime.errors import PerstackError
from runtime.model import InteractiveToolCallResult, now_ms
from runtime.server.channels import JobChannel
from runtime.server.executor_base import ExecutorBase, JobConflict, UnknownExpert
from runtime.server.records import ApiJob, ServerRecords, job_status_of
from runtime.server.settings import Application, ServeSettings

__all__ = ["EmbeddedExecutor", "JobConflict", "UnknownExpert"]


class EmbeddedExecutor(ExecutorBase):
    """Starts, continues and cancels jobs; hands their events to the server's streams.

    Args:
        settings: The applications and the storage root.
        records: The server's job records and event streams.
    """

    def __init__(self, settings: ServeSettings, records: ServerRecords) -> None:
        super().__init__(settings, records)
        self._tasks: dict[str, Future[Any]] = {}
        self._cancelled: set[str] = set()
        self._jobs_loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._jobs_loop.run_forever, name="perstack-jobs")

    # --- life cycle -----------------------------------------------------------------------

    async def start(self) -> None:
        """Start the jobs thread and resume the jobs a previous server left running."""
        self._open()
        self._thread.start()
        for job in self.records.all_jobs():
            if job.status == "running":
                self._resume_interrupted(job)

    async def shutdown(self) -> None:
        """Cancel every running job and wait until each has unwound."""
        self.begin_stop()
        futures = list(self._tasks.values())
        for future in futures:
            self._jobs_loop.call_soon_threadsafe(future.cancel)
        for future in futures:
            try:
                await asyncio.wrap_future(future)
            except (asyncio.CancelledError, Exception):  # noqa: S110 - each job logs its own end
                pass
        self._jobs_loop.call_soon_threadsafe(self._jobs_loop.stop)
        await asyncio.to_thread(self._thread.join, 10)

    # --- what the routes call ---------------------------------------------------------------

    def is_running(self, job_id: str) -> bool:
        return job_id in self._tasks

    async def start_job(
        self,
        application: Application,
        expert_key: str,
        query: str,
        provider: str | None = None,
        model: str | None = None,
    ) -> ApiJob:
        """Start a new job; returns its record (``running``).

        Raises:
            UnknownExpert: no such Expert in the application's ``perstack.toml``.
            PerstackError: the ``perstack.toml`` does not load.
        """
        job, setting = self._new_job(application, expert_key, query, provider, model)
        self.records.save(job)
        self._spawn(job, setting, None)
        return job

    async def continue_job(
        self,
        job: ApiJob,
        application: Application,
        query: str | None = None,
        answer: InteractiveToolCallResult | None = None,
    ) -> ApiJob:
        """Continue a stopped job with a follow-up query or an interactive answer.

        Raises:
            JobConflict: the job is running.
        """
        checkpoint, query, answer, setting = self._continuation(job, application, query, answer)
        job.status, job.updatedAt, job.error = "running", now_ms(), None
        self.records.save(job)
        self._spawn(job, setting, checkpoint)
        return job

    async def cancel(self, job: ApiJob) -> ApiJob:
        """Cancel the job's run; it stops cleanly and stays resumable."""
        future = self._tasks.get(job.id)
        if future is not None:
            self._cancelled.add(job.id)
            self._jobs_loop.call_soon_threadsafe(future.cancel)
        return job

    # --- running -----------------------------------------------------------------------------

    def _spawn(self, job: ApiJob, setting: Any, checkpoint: Any) -> None:
        """Run the job on the jobs thread."""
        channel = self._channel(job.id)
        coroutine = self._run(job, setting, checkpoint, channel)
        future = asyncio.run_coroutine_threadsafe(coroutine, self._jobs_loop)
        self._tasks[job.id] = future

    async def _run(self, job: ApiJob, setting: Any, checkpoint: Any, channel: JobChannel) -> None:
        from runtime.engine.api import run

        stream = self.records.open_stream(job.id)

        def on_event(event: Any, data: bytes) -> None:
            stream.write(data + b"\n")
            channel.append(data)

        status, error = "running", None
        try:
            final = await run(
                setting, storage=self._storage, checkpoint=checkpoint, raw_event_listener=on_event
            )
            status = job_status_of(final.status)
        except asyncio.CancelledError:
            # Cancelled by the user: the job stops, resumable. Server shutdown: it stays
            # `running`, and the next start resumes it.
            status = "cancelled" if job.id in self._cancelled else "running"
            self._cancelled.discard(job.id)
        except PerstackError as exc:
            status, error = "stoppedByError", str(exc)
        except Exception as exc:  # a bug: the client gets one line, never a traceback
            status, error = "stoppedByError", f"{type(exc).__name__}: {exc}"
        finally:
            stream.close()
            self._settle(job, status, error)
            # Not running any more before anyone hears it stopped: a continue that follows
            # at once must not find it running.
            self._tasks.pop(job.id, None)
            channel.finish(status, error)

    def _resume_interrupted(self, job: ApiJob) -> None:
        """A job the last server left running: go on from its last checkpoint."""
        application = self.settings.applications.get(job.applicationId)
        if application is None:
            return
        self.records.repair_stream(job.id)
        checkpoint = self._storage.latest_checkpoint(job.id)
        config = self._config(application, job.provider, job.model)
        if checkpoint is not None and checkpoint.status != "proceeding":
            self._settle(job, job_status_of(checkpoint.status), None)
            return
        query = job.query if checkpoint is None else None
        try:
            setting = self._setting(job, config, query=query, checkpoint=checkpoint)
        except PerstackError as exc:  # e.g. its Expert is gone from perstack.toml
            self._settle(job, "stoppedByError", str(exc))
            return
        self._spawn(job, setting, checkpoint)
