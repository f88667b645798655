"""A live job's events, handed from the jobs thread to the server's SSE streams.

The jobs thread appends each event line and pokes the server loop; every stream of the
job waits on the channel and sends what it has not sent yet. A stream is a cursor over
the same list, so a slow client never holds up the job or the other clients.
"""

from __future__ import annotations

import asyncio

__all__ = ["COALESCE_SECONDS", "JobChannel"]

#: How long a stream waits for more events before sending what it has.
COALESCE_SECONDS = 0.005


class JobChannel:
    """The event lines of one job (the whole job: earlier runs included) and its state.

    Args:
        loop: The server's event loop (where streams wait).
        lines: The job's stream so far (from its earlier runs).
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, lines: list[bytes]) -> None:
        self._loop = loop
        self.lines = lines
        self.running = True
        self.status = "running"
        self.error: str | None = None
        self._changed = asyncio.Event()
        self._poke_pending = False

    # --- from the jobs thread -----------------------------------------------------------

    def append(self, line: bytes) -> None:
        """A new event (called from the jobs thread)."""
        self.lines.append(line)
        # One wake-up at a time: events that come before the server loop gets to it are
        # sent in the same go (each wake-up is a cross-thread write to the loop's pipe).
        if not self._poke_pending:
            self._poke_pending = True
            self._loop.call_soon_threadsafe(self._poke_soon)

    def _poke_soon(self) -> None:
        # The streams go a few ms later, with what came meanwhile: every time the server's
        # thread runs, the job's thread waits for the GIL at its next file write, so one
        # send per few ms rather than per event keeps the job's steps fast.
        self._loop.call_later(COALESCE_SECONDS, self._poke)

    def _poke(self) -> None:
        self._poke_pending = False
        self._changed.set()

    def finish(self, status: str, error: str | None = None) -> None:
        """The run stopped (called from the jobs thread)."""

        def settle() -> None:
            self.status, self.error, self.running = status, error, False
            self._changed.set()

        self._loop.call_soon_threadsafe(settle)

    def restart(self) -> None:
        """A continue: the job runs again (called on the server loop)."""
        self.running, self.status, self.error = True, "running", None
        self._changed.set()

    # --- on the server loop -------------------------------------------------------------

    def wake(self) -> None:
        """Wake every stream waiting on this channel (the server is stopping)."""
        self._changed.set()

    async def wait(self, seen: int, timeout: float) -> bool:
        """Wait until there is more than ``seen`` lines or the run stops; ``False`` on
        timeout (time for a keep-alive)."""
        if len(self.lines) > seen or not self.running:
            return True
        self._changed.clear()
        try:
            await asyncio.wait_for(self._changed.wait(), timeout)
        except TimeoutError:
            return False
        return True

    async def wait_stopped(self) -> None:
        """Return once the run has stopped."""
        while self.running:
            self._changed.clear()
            if not self.running:
                break
            await self._changed.wait()
