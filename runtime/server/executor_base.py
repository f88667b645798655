"""What every executor of the Execution API shares: the routes see only this.

An executor starts, continues and cancels jobs and keeps one :class:`JobChannel` per job
it follows, which the SSE streams read. The embedded executor runs jobs in the server's
process (``executor.py``); the Temporal one hands them to workers (``temporal.py``). Both
keep the same records, streams and job storage, so the API, the events and the client are
the same under either.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

from runtime.errors import PerstackError
from runtime.model import InteractiveToolCallResult, new_id, now_ms
from runtime.server.channels import JobChannel
from runtime.server.records import ApiJob, ServerRecords
from runtime.server.settings import Application, ServeSettings

__all__ = ["ExecutorBase", "JobConflict", "ServiceUnavailable", "UnknownExpert"]


class UnknownExpert(PerstackError):
    """The application has no such Expert."""


class JobConflict(PerstackError):
    """The job is running: it cannot be continued now."""


class ServiceUnavailable(PerstackError):
    """What the executor hands jobs to (Temporal) cannot be reached now."""


class ExecutorBase:
    """The records, channels and request checks every executor has.

    Args:
        settings: The applications and the storage root.
        records: The server's job records and event streams.
    """

    def __init__(self, settings: ServeSettings, records: ServerRecords) -> None:
        self.settings = settings
        self.records = records
        self.channels: dict[str, JobChannel] = {}
        self._server_loop: asyncio.AbstractEventLoop | None = None
        self._storage: Any = None
        #: Set when the server is stopping: streams end, no job starts.
        self.stopping = asyncio.Event()

    async def prepare(self) -> None:
        """Before the server listens: reach what the executor needs (raises one line)."""

    def _open(self) -> None:
        self._server_loop = asyncio.get_running_loop()
        self._storage = self.settings.open_storage()

    def begin_stop(self) -> None:
        """The server is stopping: end every stream now (clients reconnect later)."""
        self.stopping.set()
        for channel in self.channels.values():
            channel.wake()

    def is_running(self, job_id: str) -> bool:  # pragma: no cover - each executor's own
        raise NotImplementedError

    # --- checks before anything is recorded -----------------------------------------------

    def _config(self, application: Application, provider: str | None, model: str | None) -> Any:
        from runtime.config import load_config, with_overrides

        return with_overrides(load_config(application.config_path), provider=provider, model=model)

    def _new_job(
        self,
        application: Application,
        expert_key: str,
        query: str,
        provider: str | None,
        model: str | None,
    ) -> tuple[ApiJob, Any]:
        """A new job's record (``running``, not saved yet) and the settings of its run.

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
        return job, self._setting(job, config, query=query, checkpoint=None)

    def _continuation(
        self,
        job: ApiJob,
        application: Application,
        query: str | None,
        answer: InteractiveToolCallResult | None,
    ) -> tuple[Any, str | None, InteractiveToolCallResult | None, Any]:
        """Where a continue goes on from: ``(checkpoint, query, answer, settings)``.

        Raises:
            JobConflict: the job is running.
            PerstackError: nothing to answer from, or settings that do not build.
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
        return checkpoint, query, answer, setting

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

    # --- following a job -------------------------------------------------------------------

    def _channel(self, job_id: str) -> JobChannel:
        channel = self.channels.get(job_id)
        if channel is None:
            assert self._server_loop is not None
            channel = JobChannel(self._server_loop, self.records.read_events(job_id))
            self.channels[job_id] = channel
        else:
            channel.restart()
        return channel

    def _settle(self, job: ApiJob, status: str, error: str | None) -> None:
        """Record how the job's run stopped (its steps and usage from the job storage)."""
        stored = self._storage.retrieve_job(job.id)
        if stored is not None:
            job.totalSteps = stored.total_steps
            job.usage = stored.usage.to_json_dict()
        job.status, job.error, job.updatedAt = status, error, now_ms()
        self.records.save(job)
