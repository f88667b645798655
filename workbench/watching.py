"""Watching a few files with watchfiles, in batches, from an asyncio task.

Both hot reloads of the workbench (``perstack.toml`` with its ``.env`` files, and user
theme files) watch *directories* rather than files: editors save by writing a temporary
file and renaming it over the old one, which a watch on the file itself would lose.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path

__all__ = ["DirectoryWatch", "DEFAULT_STEP_MS"]

#: How long watchfiles waits for another change before handing over a batch. Saves that
#: follow each other closer than this coalesce into one batch.
DEFAULT_STEP_MS = 50
#: The longest a batch keeps growing while changes keep coming.
DEFAULT_DEBOUNCE_MS = 800


class DirectoryWatch:
    """Calls ``on_change`` with each batch of changed paths that ``accept`` lets through.

    ``on_change`` runs in the watch task; changes made while it runs are buffered by
    watchfiles and come as the next batch, so a slow reload never overlaps another.

    Attributes:
        ready: Set once the operating system watches the directories: a change made
            after it is seen (tests wait for it instead of sleeping).
    """

    def __init__(
        self,
        directories: Iterable[Path],
        accept: Callable[[Path], bool],
        on_change: Callable[[set[Path]], Awaitable[None]],
        *,
        step_ms: int = DEFAULT_STEP_MS,
        debounce_ms: int = DEFAULT_DEBOUNCE_MS,
    ) -> None:
        self.directories = sorted({Path(d) for d in directories})
        self._accept = accept
        self._on_change = on_change
        self._step_ms = step_ms
        self._debounce_ms = debounce_ms
        self._task: asyncio.Task[None] | None = None
        self.ready = asyncio.Event()

    @property
    def running(self) -> bool:
        """Whether the watch task is alive."""
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        """Start watching (in the running event loop); a no-op when already running."""
        if self.running:
            return
        self.ready = asyncio.Event()
        self._task = asyncio.get_running_loop().create_task(self._run(), name="perstack-watch")

    async def stop(self) -> None:
        """Stop watching and wait for the task to end."""
        task, self._task = self._task, None
        if task is None:
            return
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    async def restart(self, directories: Iterable[Path]) -> None:
        """Watch other directories (e.g. after ``envPath`` changed)."""
        await self.stop()
        self.directories = sorted({Path(d) for d in directories})
        self.start()

    async def _run(self) -> None:
        from watchfiles import awatch

        directories = [d for d in self.directories if d.is_dir()]
        if not directories:
            self.ready.set()
            return
        changes = awatch(
            *directories,
            watch_filter=lambda _change, path: self._accept(Path(path)),
            step=self._step_ms,
            debounce=self._debounce_ms,
            recursive=False,
        )
        # The generator's first step creates the OS watch synchronously, in this same task
        # step, before it first awaits; a callback queued now runs only after that step,
        # so `ready` never comes before the watch exists.
        asyncio.get_running_loop().call_soon(self.ready.set)
        async for batch in changes:
            await self._on_change({Path(path) for _change, path in batch})
