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
import os
import threading
from concurrent.futures import Future
from typing import Any

from runtime.errors import PerstackError
from runtime.model import InteractiveToolCallResult, new_id, now_ms
from runtime.server.channels import JobChannel
from runtime.server.records import ApiJob, ServerRecords, job_status_of
from runtime.server.settings import Application, ServeSettings

__all__ = ["EmbeddedExecutor", "JobConflict", "UnknownExpert"]


class UnknownExpert(PerstackError):
    """The application has no such Expert."""


class JobConflict(PerstackError):
    """The job is running: it cannot be continued now."""


class EmbeddedExecutor:
    """Starts, continues and cancels jobs; hands their events to the server's streams.

    Args:
        settings: The applications and the storage root.
        records: The server's job records and event streams.
    """

    def __init__(self, settings: ServeSettings, records: ServerRecords) -> None:
        self.settings = settings
        self.records = records
        self.channels: dict[str, JobChannel] = {}
        self._tasks: dict[str, Future[Any]] = {}
        self._cancelled: set[str] = set()
        self._server_loop: asyncio.AbstractEventLoop | None = None
        self._jobs_loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._jobs_loop.run_forever, name="perstack-jobs")
        self._storage: Any = None
        #: Set when the server is stopping: streams end, no job starts.
        self.stopping = asyncio.Event()

    # --- life cycle -----------------------------------------------------------------------

    def start(self) -> None:
        """Start the jobs thread and resume the jobs a previous server left running."""
        from runtime.storage import FileStorage

        self._server_loop = asyncio.get_running_loop()
        self._storage = FileStorage(self.settings.storage_root)
        self._thread.start()
        for job in self.records.all_jobs():
            if job.status == "running":
                self._resume_interrupted(job)

    def begin_stop(self) -> None:
        """The server is stopping: end every stream now (clients reconnect later)."""
        self.stopping.set()
        for channel in self.channels.values():
            channel.wake()

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

    def start_job(
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
        config = self._config(application, provider, model)
        if expert_key not in config.experts:
            raise UnknownExpert(f'Expert "{expert_key}" is not defined in {application.name}')
        now = now_ms()
        job = ApiJob(
            id=new_id(),
            applicationId=application.name,
            expertKey=expert_key,
            status="running",
            createdAt=now,
            updatedAt=now,
            provider=provider,
            model=model,
            query=query,
        )
        setting = self._setting(job, config, query=query, checkpoint=None)
        self.records.save(job)
        self._spawn(job, setting, None)
        return job

    def continue_job(
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
        if self.is_running(job.id):
            raise JobConflict(f"Job {job.id} is running; wait for it to stop, or cancel it")
        checkpoint = self._storage.latest_checkpoint(job.id)
        if checkpoint is None and answer is None:
            # Stopped before its first step ended: it starts again from its own query.
            query = job.query
        elif checkpoint is None:
            raise PerstackError(f"Job {job.id} has no checkpoint to answer from")
        elif answer is None and checkpoint.status == "stoppedByInteractiveTool" and query:
            pending = checkpoint.pending_tool_calls or []
            if pending:  # a plain query answers the pending call, as `perstack run -i` does
                call = pending[0]
                answer = InteractiveToolCallResult(
                    tool_call_id=call.id, tool_name=call.tool_name,
                    skill_name=call.skill_name, text=query,
                )  # fmt: skip
        config = self._config(application, job.provider, job.model)
        setting = self._setting(job, config, query=query, checkpoint=checkpoint, answer=answer)
        job.status, job.updatedAt, job.error = "running", now_ms(), None
        self.records.save(job)
        self._spawn(job, setting, checkpoint)
        return job

    def cancel(self, job: ApiJob) -> ApiJob:
        """Cancel the job's run; it stops cleanly and stays resumable."""
        future = self._tasks.get(job.id)
        if future is not None:
            self._cancelled.add(job.id)
            self._jobs_loop.call_soon_threadsafe(future.cancel)
        return job

    # --- running -----------------------------------------------------------------------------

    def _config(self, application: Application, provider: str | None, model: str | None) -> Any:
        from runtime.config import load_config, with_overrides

        return with_overrides(load_config(application.config_path), provider=provider, model=model)

    def _channel(self, job_id: str) -> JobChannel:
        channel = self.channels.get(job_id)
        if channel is None:
            assert self._server_loop is not None
            channel = JobChannel(self._server_loop, self.records.read_events(job_id))
            self.channels[job_id] = channel
        else:
            channel.restart()
        return channel

    def _setting(
        self,
        job: ApiJob,
        config: Any,
        *,
        query: str | None,
        checkpoint: Any,
        answer: InteractiveToolCallResult | None = None,
    ) -> Any:
        """The run's settings; raises (one line) before anything is recorded as running."""
        from runtime.engine.api import settings_from_config

        return settings_from_config(
            config,
            checkpoint.expert.key if checkpoint is not None else job.expertKey,
            query,
            env=os.environ,
            workspace=self.records.workspace(job.id),
            job_id=job.id,
            interactive_answer=answer,
        )

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

    def _settle(self, job: ApiJob, status: str, error: str | None) -> None:
        stored = self._storage.retrieve_job(job.id)
        if stored is not None:
            job.totalSteps = stored.total_steps
            job.usage = stored.usage.to_json_dict()
        job.status, job.error, job.updatedAt = status, error, now_ms()
        self.records.save(job)

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
