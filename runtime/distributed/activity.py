"""The ``perstack.run`` activity: one part of a job, on this worker.

The activity itself lives on the worker's event loop (Temporal's), where it only waits and
heartbeats. The part runs on the worker's jobs thread, an event loop of its own, as in
the embedded executor: a job whose model answers instantly seldom awaits anything that
suspends, and on Temporal's loop it would hold up the worker's polls and heartbeats.

A cancel (the job's workflow was cancelled) cancels the part's run, which unwinds like
Ctrl+C in ``perstack run``: skills close, files stay whole, the job stays resumable. A
worker shutting down gives its parts back to Temporal at once (as failures it retries on
another worker), rather than leaving them to the heartbeat timeout.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from temporalio import activity
from temporalio.exceptions import ApplicationError

from runtime.distributed.contracts import RUN_ACTIVITY, Outcome, Scope
from runtime.distributed.relay import EventRelay, announced_checkpoint, producer_name, scope_key
from runtime.distributed.workspaces import WorkspaceSync
from runtime.errors import PerstackError
from runtime.storage.records import StorageError

__all__ = ["JobActivities", "WorkerHost"]


@dataclass
class WorkerHost:
    """What a worker runs jobs with.

    Attributes:
        identity: The worker's name (in Temporal's history and in ``retry`` events).
        applications: Application name -> its ``perstack.toml``.
        storage: The shared job storage.
        relay: Where events go (see :mod:`runtime.distributed.relay`).
        workspaces: The shared copies of the workspaces.
        local_root: Where this worker keeps its own copy of each job's workspace.
        jobs_loop: The event loop of the jobs thread.
    """

    identity: str
    applications: dict[str, Path]
    storage: Any
    relay: EventRelay
    workspaces: WorkspaceSync
    local_root: Path
    jobs_loop: asyncio.AbstractEventLoop
    #: job id -> how many of its parts run here now.
    _active: dict[str, int] = field(default_factory=dict)

    def local_workspace(self, job_id: str) -> Path:
        path = self.local_root / job_id
        path.mkdir(parents=True, exist_ok=True)
        return path

    def enter(self, job_id: str) -> Path:
        """A part of the job begins here: its folder, brought up to date."""
        self._active[job_id] = self._active.get(job_id, 0) + 1
        try:
            local = self.local_workspace(job_id)
            self.workspaces.pull(job_id, local)
        except BaseException:
            self.leave(job_id, False)
            raise
        return local

    def leave(self, job_id: str, stopped: bool) -> None:
        """A part of the job ended here. Once the job's run (or delegate) has stopped and
        no other part of it runs here, its folder goes: the shared copy has it all."""
        left = self._active[job_id] = self._active[job_id] - 1
        if left == 0:
            del self._active[job_id]
            if stopped:
                self.workspaces.forget(job_id)
                shutil.rmtree(self.local_root / job_id, ignore_errors=True)

    def config(self, application: str, provider: str | None, model: str | None) -> Any:
        """The application's ``perstack.toml`` with the job's overrides."""
        from runtime.config import load_config, with_overrides

        path = self.applications.get(application)
        if path is None:
            known = ", ".join(sorted(self.applications)) or "none"
            raise PerstackError(
                f"application {application} is not known to worker {self.identity} "
                f"(it knows: {known}); start it with the same --config or --serve-config "
                "as the server"
            )
        return with_overrides(load_config(path), provider=provider, model=model)


class JobActivities:
    """The worker's activities (bound to its :class:`WorkerHost`).

    Args:
        host: The worker.
    """

    def __init__(self, host: WorkerHost) -> None:
        self.host = host

    @activity.defn(name=RUN_ACTIVITY)
    async def run(self, scope: Scope) -> Outcome:
        """Run one part of a job to its outcome (see :class:`ScopeRun`)."""
        info = activity.info()
        part = scope_key(info.workflow_id, info.workflow_run_id, info.activity_id)
        producer = producer_name(part, info.attempt)
        beating = asyncio.create_task(_heartbeat(min(0.5, scope.job.heartbeat_timeout / 4)))
        holder: dict[str, asyncio.Task[Outcome]] = {}

        async def on_jobs_thread() -> Outcome:
            task = asyncio.current_task()
            assert task is not None
            holder["task"] = task  # type: ignore[assignment]
            return await self._execute(scope, info.attempt, part, producer)

        future = asyncio.run_coroutine_threadsafe(on_jobs_thread(), self.host.jobs_loop)
        done = asyncio.wrap_future(future)
        try:
            return await asyncio.shield(done)
        except asyncio.CancelledError:
            task = holder.get("task")
            if task is not None:
                self.host.jobs_loop.call_soon_threadsafe(task.cancel)
            else:
                future.cancel()
            with suppress(BaseException):
                await done  # the run unwinds: skills close, files stay whole
            if activity.is_worker_shutdown():
                raise ApplicationError(
                    f"worker {self.host.identity} stopped; another worker takes the job over"
                ) from None
            raise
        except StorageError as exc:  # away for a moment: Temporal tries the part again
            raise ApplicationError(str(exc), type="StorageError") from None
        except PerstackError as exc:
            raise ApplicationError(str(exc), type="PerstackError", non_retryable=True) from None
        finally:
            beating.cancel()

    async def _execute(self, scope: Scope, attempt: int, part: str, producer: str) -> Outcome:
        """The part, on the jobs thread."""
        from runtime.distributed.scopes import ScopeRun
        from runtime.engine.api import job_runner, settings_from_config

        host, job = self.host, scope.job
        config = host.config(job.application, job.provider, job.model)
        local, last = await self._restore(job.job_id, attempt, part)
        stopped = False
        writer = host.relay.writer(job.job_id, producer)
        try:
            setting = settings_from_config(
                config, job.expert_key, None, env=os.environ, workspace=local, job_id=job.job_id
            )
            sync = lambda: host.workspaces.push(job.job_id, local)  # noqa: E731
            async with job_runner(
                setting,
                storage=_SyncedStorage(host.storage, sync),
                raw_event_listener=lambda _event, data: writer.write(data),
                hand_off_parallel=True,
            ) as runner:
                outcome = await ScopeRun(runner, scope, host.identity).run(attempt, last)
            sync()
            stopped = outcome.kind == "stopped"
            return outcome
        finally:
            writer.close()
            host.leave(job.job_id, stopped)


    async def _restore(self, job_id: str, attempt: int, part: str) -> tuple[Path, Any]:
        """The part's folder brought up to date and, for a later attempt, the checkpoint an
        earlier one got to: read at once (a takeover waits for both)."""
        host = self.host

        def last_checkpoint() -> Any:
            found = announced_checkpoint(host.relay, job_id, part, attempt)
            return host.storage.retrieve_checkpoint(job_id, found) if found else None

        finding = None
        if attempt > 1:  # on a thread of its own, from now on
            finding = asyncio.get_running_loop().run_in_executor(None, last_checkpoint)
        try:
            local = host.enter(job_id)  # on the jobs thread, as every sync of the job's folder
        except BaseException:
            if finding is not None:
                with suppress(BaseException):
                    await finding
            raise
        try:
            return local, (await finding if finding is not None else None)
        except BaseException:
            host.leave(job_id, False)
            raise


async def _heartbeat(every: float) -> None:
    """Tell Temporal this worker still runs the part (and hear of a cancel)."""
    while True:
        activity.heartbeat()
        await asyncio.sleep(every)


class _SyncedStorage:
    """The job storage, syncing the workspace before each checkpoint is stored: a worker
    that resumes from a checkpoint finds the files the job had written by then."""

    def __init__(self, storage: Any, sync: Any) -> None:
        self._storage = storage
        self._sync = sync

    def store_checkpoint(self, checkpoint: Any) -> None:
        self._sync()
        self._storage.store_checkpoint(checkpoint)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._storage, name)
