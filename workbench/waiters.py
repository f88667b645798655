"""Await a condition on the app's state instead of sleeping (tests, the benchmarks)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

__all__ = ["StateWaiters"]


class StateWaiters:
    """Futures resolved when their predicate holds, checked at every state change.

    Args:
        set_interval: The app's ``set_interval``, for the slow re-check.
    """

    def __init__(self, set_interval: Callable[..., Any]) -> None:
        self._set_interval = set_interval
        self._waiters: list[tuple[Callable[[], bool], asyncio.Future[None]]] = []

    async def wait_until(self, predicate: Callable[[], bool], timeout: float = 30.0) -> None:
        """Return once ``predicate()`` holds."""
        if predicate():
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append((predicate, future))
        # State changes wake waiters at once; a slow re-check covers state that changes
        # without telling the app (a screen's worker finishing, a timer-driven repaint).
        recheck = self._set_interval(0.1, self.check, name="wait_until")
        try:
            await asyncio.wait_for(future, timeout)
        finally:
            recheck.stop()

    def check(self) -> None:
        """Wake the waiters whose condition now holds."""
        for entry in list(self._waiters):
            predicate, future = entry
            if future.done():
                self._waiters.remove(entry)
            elif predicate():
                future.set_result(None)
                self._waiters.remove(entry)
