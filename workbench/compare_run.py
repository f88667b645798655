"""Runs a comparison for the workbench's compare view, off the UI thread.

The comparison is :func:`runtime.compare.run_comparison`, exactly as ``perstack
compare`` runs it, inside a Textual thread worker with its own asyncio loop (for the same
reason as :mod:`workbench.bridge`: instant models seldom suspend, and on the UI's loop
they would starve key presses). Each run's events go to its column's
:class:`~runtime.views.comparison_live.LiveRun` right there, under a lock; the view reads
the columns a few times a second (:meth:`CompareRunner.read`), so four runs streaming
thousands of events cost the UI a handful of repaints a second, never one per event.
When the comparison ends, ``on_done`` gets it (or the error that stopped it) on the UI
thread.

The runs stay in this process (``run_comparison``'s default), unlike ``perstack
compare``'s worker processes (:mod:`runtime.compare.processes`): those are forks, and
forking a process with threads running (Textual's, this worker's) could leave a lock held
forever in the child. The view's budgets are met in-process (docs/performance.md).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from runtime.views.comparison_live import LiveRun

if TYPE_CHECKING:
    from textual.app import App

    from runtime.compare import CompareRequest
    from runtime.events import BaseEvent
    from runtime.views.comparison import Comparison, RunFigures

__all__ = ["CompareRunner"]

T = TypeVar("T")


class CompareRunner:
    """One comparison in a worker thread.

    Args:
        app: The app (its workers and its thread).
        request: What to compare.
        on_done: Called on the UI thread with the comparison, or with the error (one
            line) that stopped it before it could end.

    Attributes:
        runs: The columns' figures (the planned runs, updated as each starts and ends).
        live: Each column's :class:`LiveRun`.
    """

    def __init__(
        self,
        app: App[Any],
        request: CompareRequest,
        on_done: Callable[[Comparison | str], None],
    ) -> None:
        self.app = app
        self.request = request
        self.on_done = on_done
        self.runs: list[RunFigures] = request.planned_runs()
        self.live = [LiveRun(request.prices) for _ in self.runs]
        self.running = False
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[Any] | None = None

    def start(self) -> None:
        """Start the comparison in a worker thread."""
        import sys

        # As for a single run (workbench.bridge): the runs' thread hands the GIL back to
        # the UI's within half a millisecond, so a key press never waits long for it.
        sys.setswitchinterval(0.0005)
        self.running = True
        self.app.run_worker(
            self._work, name="compare", group="compare", thread=True, exit_on_error=False
        )

    def stop(self) -> None:
        """Cancel every run still going (each job stays resumable)."""
        loop, task = self._loop, self._task
        if loop is not None and task is not None:
            loop.call_soon_threadsafe(task.cancel)

    def read(self, reader: Callable[[list[LiveRun], list[RunFigures]], T]) -> T:
        """Call ``reader`` with the columns while no event changes them."""
        with self._lock:
            return reader(self.live, self.runs)

    # --- worker thread ------------------------------------------------------------------

    def _on_event(self, index: int, event: BaseEvent) -> None:
        with self._lock:
            self.live[index].feed(event)

    def _on_update(self, index: int, figures: RunFigures) -> None:
        with self._lock:
            self.runs[index] = figures

    def _work(self) -> None:
        loop = self._loop = asyncio.new_event_loop()
        result: Comparison | str
        try:
            result = loop.run_until_complete(self._guarded())
        except Exception as error:  # noqa: BLE001 - shown in the view, never a crash
            result = f"{type(error).__name__}: {error}"
        finally:
            loop.close()
            self._loop = None
        self.app.call_from_thread(self._finished, result)

    async def _guarded(self) -> Comparison | str:
        from runtime.compare import run_comparison

        self._task = asyncio.current_task()
        try:
            return await run_comparison(
                self.request, on_event=self._on_event, on_update=self._on_update, runs=self.runs
            )
        except asyncio.CancelledError:
            return "Stopped: every run still going was cancelled (each job stays resumable)."

    def _finished(self, result: Comparison | str) -> None:
        self.running = False
        self.on_done(result)
