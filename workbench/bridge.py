"""Runs a job for the workbench and hands its events to the UI in batches.

The run goes through ``runtime.cli.run.prepare_run`` and ``runtime.engine.api.run``, exactly as
``perstack run`` does, inside a Textual *thread* worker with its own asyncio loop. A
thread rather than a task on the UI's loop: a zero-latency job (the scripted provider,
in-process tools) seldom awaits anything that suspends, and on the UI's loop it would
starve key presses and repaints until it ends.

The runtime thread only appends (slim) events to a buffer under a lock; a timer on the
UI loop drains it and posts one :class:`RunBridge.Events` message per batch, so 10,000
events arriving in a burst cost the UI a few dozen messages, never 10,000. The pace
depends on what the last batch held, because each batch costs the UI one repaint and
the repaint's cost depends on what changed:

* only streamed text (a row growing in place, a line or two to repaint): the next batch
  follows after ``flush_interval``, so text streams smoothly;
* steps (rows added: the timeline scrolls and repaints every line): ``step_interval``,
  fast enough to watch and slow enough that repaints leave the run its CPU;
* a burst (``burst_size`` events or more): ``burst_interval``.

Stopping cancels the run's task: the runtime unwinds (skills close, files stay whole) and
the job stays resumable, as after Ctrl+C in ``perstack run``.
"""

from __future__ import annotations

import asyncio
import sys
import threading
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from textual.message import Message

from runtime.errors import ConfigError, PerstackError
from runtime.views.activity import slim_event

if TYPE_CHECKING:
    from textual.app import App
    from textual.timer import Timer

    from runtime.cli.run import RunOptions
    from runtime.events import BaseEvent
    from runtime.model import Checkpoint
    from runtime.providers.base import Provider
    from runtime.settings import RunSetting
    from runtime.skills.calls import ElicitationAnswer, ElicitationQuestion

__all__ = ["RunBridge", "ProviderFactory", "JobStarter"]

#: Seconds a thread may hold the GIL while another waits (Python's default: 0.005).
_SWITCH_INTERVAL = 0.0005
#: Events that only add text to a row already on screen.
_TEXT_DELTAS = frozenset({"streamReasoning", "streamRunResult"})
#: Builds the provider of a run instead of ``[provider]`` (tests, the benchmark).
ProviderFactory = Callable[["RunSetting"], "Provider"]
#: Prepares a job of more than one run: ``on_event -> (job id, coordinator, coroutine)``.
JobStarter = Callable[[Callable[["BaseEvent"], None]], tuple[str, str, Awaitable[Any]]]


class RunBridge:
    """Starts, stops and relays one run at a time for an app.

    Args:
        app: Receives :class:`Started`, :class:`Events` and :class:`Finished`.
        cwd: Where runs resolve the project (as ``perstack run`` run from there).
        flush_interval: Seconds before the next batch after one of streamed text only.
        step_interval: Seconds before the next batch after one with other events.
        burst_interval: Seconds before the next batch after a burst.
        burst_size: A batch this large means a burst.
        provider_factory: Overrides the provider (``None``: from ``perstack.toml``).
    """

    class Started(Message):
        """A run was prepared and starts (its events follow)."""

        def __init__(self, job_id: str, expert_key: str, resumed: Checkpoint | None) -> None:
            super().__init__()
            self.job_id = job_id
            self.expert_key = expert_key
            self.resumed = resumed

    class Events(Message):
        """A batch of events, in the order the runtime emitted them."""

        def __init__(self, events: list[BaseEvent]) -> None:
            super().__init__()
            self.events = events

    class Question(Message):
        """An MCP server asks the person something during a tool call; the call waits
        until ``reply`` is called with the answer (from the UI thread)."""

        def __init__(
            self, question: ElicitationQuestion, reply: Callable[[ElicitationAnswer], None]
        ) -> None:
            super().__init__()
            self.question = question
            self.reply = reply

    class Finished(Message):
        """The run ended: with a final checkpoint, cancelled, or with an error.

        ``result`` is what a job started with :meth:`RunBridge.start_job` returned.
        """

        def __init__(
            self,
            checkpoint: Checkpoint | None,
            *,
            cancelled: bool = False,
            error: str | None = None,
            result: Any = None,
        ) -> None:
            super().__init__()
            self.checkpoint = checkpoint
            self.cancelled = cancelled
            self.error = error
            self.result = result

    def __init__(
        self,
        app: App[Any],
        cwd: Any,
        *,
        flush_interval: float = 0.05,
        step_interval: float = 0.2,
        burst_interval: float = 0.25,
        burst_size: int = 100,
        provider_factory: ProviderFactory | None = None,
    ) -> None:
        self.app = app
        self.cwd = cwd
        self.flush_interval = flush_interval
        self.step_interval = step_interval
        self.burst_interval = burst_interval
        self.burst_size = burst_size
        self.provider_factory = provider_factory
        self._buffer: list[BaseEvent] = []
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[Any] | None = None
        self._stop_requested = False
        self._timer: Timer | None = None
        self._finished_posted = False
        self.running = False

    # --- UI side ----------------------------------------------------------------------

    def start(self, options: RunOptions) -> None:
        """Prepare and run ``options`` in a worker thread (one run at a time)."""
        self._begin(lambda: self._work(options))

    def start_job(self, prepare: JobStarter) -> None:
        """Run a job that is more than one run (``perstack create-expert``'s session).

        ``prepare(on_event)`` is called in the worker thread: it resolves what it needs
        (errors are reported like a run's) and returns the job's id, its coordinator and
        the coroutine that runs it, which hands its events to ``on_event``. What the
        coroutine returns arrives as :attr:`Finished.result`.
        """
        self._begin(lambda: self._work_job(prepare))

    def _begin(self, work: Callable[[], None]) -> None:
        """Run ``work`` in a worker thread, relaying what it buffers (one at a time)."""
        if self.running:
            raise RuntimeError("a run is already in progress")
        # The run thread makes thousands of small file writes; after each one it needs the
        # GIL back, and by default waits up to 5 ms for the UI thread to hand it over
        # (the "convoy effect"). A shorter switch interval keeps it from stalling.
        sys.setswitchinterval(_SWITCH_INTERVAL)
        self.running = True
        self._stop_requested = False
        self._finished_posted = False
        self._timer = self.app.set_timer(self.flush_interval, self._pace, name="run-bridge")
        self.app.run_worker(work, name="run", group="run", thread=True, exit_on_error=False)

    def stop(self) -> bool:
        """Cancel the run in progress; return whether there was one."""
        if not self.running:
            return False
        self._stop_requested = True
        loop, task = self._loop, self._task
        if loop is not None and task is not None:
            loop.call_soon_threadsafe(task.cancel)
        return True

    def detach(self) -> None:
        """The app closes: a local run is cancelled (it stays resumable)."""
        self.stop()

    def _flush(self) -> list[BaseEvent]:
        """Post the buffered events as one batch; return it."""
        with self._lock:
            if self._finished_posted:
                return []  # settle() hands them over, after Finished, in order
            batch, self._buffer = self._buffer, []
            if batch:
                self.app.post_message(self.Events(batch))
        return batch

    def _pace(self) -> None:
        if not self.running:
            return
        batch = self._flush()
        if len(batch) >= self.burst_size:
            delay = self.burst_interval
        elif any(event.type not in _TEXT_DELTAS for event in batch):
            delay = self.step_interval
        else:
            delay = self.flush_interval
        self._timer = self.app.set_timer(delay, self._pace, name="run-bridge")

    def settle(self) -> list[BaseEvent]:
        """End the relay after :class:`Finished` arrived; return the events still buffered.

        The app calls this first thing when it handles :class:`Finished`: every batch
        posted earlier is already handled, so applying these keeps the events in order.
        """
        if self._timer is not None:
            self._timer.stop()
            self._timer = None
        self.running = False
        with self._lock:
            batch, self._buffer = self._buffer, []
        return batch

    # --- worker thread --------------------------------------------------------------

    def _on_event(self, event: BaseEvent) -> None:
        slim = slim_event(event)  # keep no history: the buffer may hold many events
        with self._lock:
            self._buffer.append(slim)

    def _work(self, options: RunOptions) -> None:
        from runtime.cli.run import prepare_run

        try:
            prepared = prepare_run(options, cwd=self.cwd)
        except ConfigError as error:
            self._done(self.Finished(None, error="\n".join(error.problems)))
            return
        except PerstackError as error:
            self._done(self.Finished(None, error=str(error)))
            return
        self.app.post_message(
            self.Started(prepared.setting.job_id, prepared.setting.expert_key, prepared.checkpoint)
        )
        self._until_done(lambda: self._run(prepared))

    def _work_job(self, prepare: JobStarter) -> None:
        try:
            job_id, expert_key, work = prepare(self._on_event)
        except ConfigError as error:
            self._done(self.Finished(None, error="\n".join(error.problems)))
            return
        except PerstackError as error:
            self._done(self.Finished(None, error=str(error)))
            return
        self.app.post_message(self.Started(job_id, expert_key, None))
        self._until_done(lambda: work)

    def _until_done(self, work: Callable[[], Awaitable[Any]]) -> None:
        """Run ``work()`` on a loop of this thread; post how it finished."""
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            message = loop.run_until_complete(self._guard(work))
        finally:
            self._loop = self._task = None
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()
        self._done(message)

    async def _guard(self, work: Callable[[], Awaitable[Any]]) -> Finished:
        self._task = asyncio.current_task()
        awaitable = work()
        if self._stop_requested:
            if hasattr(awaitable, "close"):
                awaitable.close()  # never started: no "was never awaited" warning
            return self.Finished(None, cancelled=True)
        try:
            result = await awaitable
        except asyncio.CancelledError:
            return self.Finished(None, cancelled=True)
        except PerstackError as error:
            return self.Finished(None, error=str(error))
        except Exception as error:  # a bug or an unexpected failure: say so, keep the UI
            return self.Finished(None, error=f"{type(error).__name__}: {error}")
        if isinstance(result, RunBridge.Finished):
            return result
        return self.Finished(None, result=result)

    async def _run(self, prepared: Any) -> Finished:
        from runtime.engine.api import run

        provider = self.provider_factory(prepared.setting) if self.provider_factory else None
        final = await run(
            prepared.setting,
            self._on_event,
            storage=prepared.storage,
            checkpoint=prepared.checkpoint,
            provider=provider,
            locked_tools=prepared.locked_tools,
            elicitation_handler=self._ask,
        )
        return self.Finished(final)

    async def _ask(self, question: ElicitationQuestion) -> ElicitationAnswer:
        """Ask the person (in the UI) and wait for the answer (in the run's loop)."""
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[ElicitationAnswer] = loop.create_future()

        def reply(given: ElicitationAnswer) -> None:
            loop.call_soon_threadsafe(lambda: answer.done() or answer.set_result(given))

        self._flush()  # the row shows the question before the form opens
        self.app.post_message(self.Question(question, reply))
        return await answer

    def _done(self, message: Finished) -> None:
        # Not call_from_thread: it would block this thread on an app that may be closing.
        # Under the lock: no batch is posted after Finished (it would arrive after the
        # app has moved on, a dialog opened on the finished job, say).
        with self._lock:
            self._finished_posted = True
            self.app.post_message(message)
