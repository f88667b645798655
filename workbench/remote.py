"""The workbench driving a ``perstack serve``: ``perstack start --remote <url>``.

Jobs run on the server; the workbench starts, continues, cancels and lists them through
:mod:`runtime.client`, and puts their events on screen through the same
:class:`~workbench.bridge.RunBridge` messages as a local run, so the timeline, the tree,
the filters and the details are the ones local jobs get.

Each job's events are mirrored into a :class:`~runtime.storage.MemoryStorage` as they
arrive (compacted, as every store keeps them): the detail view reads the messages a step
sent from it, as it reads a local job's storage.

A follow-up streams the job again from its first event and skips what is already on
screen: the stream's histories are compact, and an event built on earlier ones can only
be rebuilt by a reader that saw them.

Closing the workbench leaves the server's jobs running (a client that goes away never
stops a job); Ctrl+T cancels the job on the server, which keeps it resumable.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from runtime.errors import PerstackError
from runtime.events import RunEvent
from workbench.bridge import RunBridge
from workbench.stored_jobs import JobSummary

if TYPE_CHECKING:
    from textual.app import App

    from runtime.cli.run import RunOptions
    from runtime.client import PerstackClient
    from runtime.model import Checkpoint
    from runtime.storage import MemoryStorage

__all__ = ["RemoteBridge", "RemoteTarget", "connect", "list_remote_jobs"]


@dataclass(frozen=True)
class RemoteTarget:
    """The server the workbench drives.

    Attributes:
        url: Its base URL.
        api_key: The key (from ``PERSTACK_API_KEY``); never shown.
        application_id: The application the key belongs to.
        experts: The Experts it can start, in file order.
    """

    url: str
    api_key: str | None
    application_id: str
    experts: tuple[str, ...]

    def __repr__(self) -> str:  # never the key
        return f"RemoteTarget({self.url!r}, {self.application_id!r})"


def connect(url: str, api_key: str | None, *, timeout: float = 10.0) -> RemoteTarget:
    """Ask the server which application ``api_key`` opens, and its Experts.

    Raises:
        PerstackError: The server cannot be reached, or refuses the key (one line).
    """
    from runtime.client import SyncPerstackClient

    with SyncPerstackClient(url, api_key=api_key, timeout=timeout) as client:
        answer = client.application()
    if not answer.ok:
        error = answer.error
        hint = ""
        if error.status == 401:
            hint = " (set PERSTACK_API_KEY to a key of the server's)"
        raise PerstackError(f"--remote {url}: {error.message}{hint}")
    info = answer.data
    return RemoteTarget(url, api_key, info.id, tuple(expert.key for expert in info.experts))


def list_remote_jobs(target: RemoteTarget, limit: int = 200) -> list[JobSummary]:
    """The server's newest ``limit`` jobs of the application, newest first.

    Raises:
        PerstackError: The server did not answer.
    """
    from runtime.client import SyncPerstackClient

    with SyncPerstackClient(target.url, api_key=target.api_key) as client:
        page = client.jobs.list(application_id=target.application_id, take=limit)
    if not page.ok:
        raise PerstackError(f"{target.url}: {page.error.message}")
    return [
        JobSummary(
            job_id=job.id,
            coordinator=job.expert_key,
            status=str(job.status),
            steps=job.total_steps,
            tokens=job.usage.total_tokens,
            started_at=job.created_at,
            query=str(job.raw.get("query") or ""),
        )
        for job in page.data.jobs
    ]


class RemoteBridge(RunBridge):
    """A :class:`RunBridge` whose runs happen on a server.

    Args:
        app: Receives :class:`RunBridge.Started`, ``Events`` and ``Finished``.
        target: The server.
        flush_interval: As for :class:`RunBridge`.
    """

    def __init__(self, app: App[Any], target: RemoteTarget, **kwargs: Any) -> None:
        super().__init__(app, None, **kwargs)
        self.target = target
        #: Each job's events so far, as a store (the detail view reads them).
        self.mirrors: dict[str, MemoryStorage] = {}
        #: The id of the last stream event seen, per job.
        self._seen: dict[str, int] = {}
        self._job_id: str | None = None
        self._client: PerstackClient | None = None

    def mirror(self, job_id: str | None) -> MemoryStorage | None:
        """The events of ``job_id`` received so far, as a store (``None``: none yet)."""
        return self.mirrors.get(job_id) if job_id is not None else None

    # --- UI side ----------------------------------------------------------------------

    def attach(self, job_id: str) -> None:
        """Put a server job on screen from its first event, following it while it runs."""
        self._begin(lambda: self._in_loop(self._attach(job_id)))

    def stop(self) -> bool:
        """Cancel the job on the server (it stays resumable); return whether one ran."""
        if not self.running:
            return False
        self._stop_requested = True
        loop = self._loop
        if loop is not None and self._job_id is not None:
            asyncio.run_coroutine_threadsafe(self._cancel(self._job_id), loop)
        return True

    def detach(self) -> None:
        """The app closes: stop following the job; it goes on on the server."""
        loop, task = self._loop, self._task
        if loop is not None and task is not None:
            loop.call_soon_threadsafe(task.cancel)

    # --- worker thread --------------------------------------------------------------

    def _work(self, options: RunOptions) -> None:
        self._in_loop(self._run_remote(options))

    def _in_loop(self, work: Any) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            message = loop.run_until_complete(self._guarded(work))
        finally:
            self._loop = self._task = None
            self._job_id = None
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()
        self._done(message)

    async def _guarded(self, work: Any) -> RunBridge.Finished:
        from runtime.client import PerstackClient

        self._task = asyncio.current_task()
        target = self.target
        try:
            async with PerstackClient(target.url, api_key=target.api_key) as client:
                self._client = client
                return await work
        except asyncio.CancelledError:  # the app closed: the job goes on on the server
            return self.Finished(None, cancelled=True)
        except PerstackError as error:
            return self.Finished(None, error=str(error))
        finally:
            self._client = None

    async def _run_remote(self, options: RunOptions) -> RunBridge.Finished:
        client = self._client
        assert client is not None
        if options.continue_job:
            answer = await client.jobs.continue_(options.continue_job, query=options.query)
        else:
            answer = await client.jobs.start(
                application_id=self.target.application_id,
                expert_key=options.expert_key,
                query=options.query,
                provider=options.provider,
                model=options.model,
            )
        if not answer.ok:
            return self.Finished(None, error=f"The server refused the run: {answer.error.message}")
        job = answer.data
        self._job_id = job.id
        self.app.post_message(self.Started(job.id, job.expert_key, None))
        if self._stop_requested:  # Ctrl+T before the server answered
            await self._cancel(job.id)
        return await self._follow(job.id)

    async def _attach(self, job_id: str) -> RunBridge.Finished:
        client = self._client
        assert client is not None
        answer = await client.jobs.get(job_id)
        if not answer.ok:
            return self.Finished(None, error=f"Job {job_id}: {answer.error.message}")
        self._job_id = job_id
        self._seen.pop(job_id, None)  # shown anew, from its first event
        self.mirrors.pop(job_id, None)
        self.app.post_message(self.Started(job_id, answer.data.expert_key, None))
        return await self._follow(job_id)

    async def _follow(self, job_id: str) -> RunBridge.Finished:
        """Relay the job's new events until its stream completes."""
        from runtime.storage import MemoryStorage

        client = self._client
        assert client is not None
        mirror = self.mirrors.setdefault(job_id, MemoryStorage(on_warning=lambda _: None))
        seen = self._seen.get(job_id, 0)
        last: Checkpoint | None = None
        number = 0
        async with client.jobs.stream(job_id) as stream:
            async for event in stream:
                # The stream's ids count its events from 1, and it is read from the first:
                # the n-th event is event n (``last_event_id`` runs ahead: it reads ahead).
                number += 1
                if number <= seen:
                    continue  # on screen already (a follow-up streams the job anew)
                seen = self._seen[job_id] = number
                if isinstance(event, RunEvent):
                    checkpoint = getattr(event, "checkpoint", None)
                    if checkpoint is not None:
                        mirror.store_checkpoint(checkpoint)
                        last = checkpoint
                    mirror.store_event(event)
                self._on_event(event)
        result = stream.result
        if result is None or not result.ok:
            problem = result.error.message if result is not None else "the stream stopped"
            return self.Finished(None, error=f"Lost the job's stream: {problem}")
        status = result.data.status
        if status == "cancelled":
            return self.Finished(None, cancelled=True)
        if last is None and status == "stoppedByError":
            errors = "; ".join(frame.message for frame in stream.errors)
            return self.Finished(None, error=errors or "The job stopped with an error.")
        return self.Finished(last)

    async def _cancel(self, job_id: str) -> None:
        client = self._client
        if client is not None:
            await client.jobs.cancel(job_id)
