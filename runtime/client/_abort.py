"""Aborting an asyncio call with a signal, without breaking cancellation semantics."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

__all__ = ["abortable", "cancelled_by_caller"]

T = TypeVar("T")


async def abortable(coro: Coroutine[Any, Any, T], signal: asyncio.Event | None) -> tuple[bool, T]:
    """Run ``coro``; ``(True, None)`` when ``signal`` is set first (``coro`` is cancelled).

    ``coro`` runs in a task of its own, so that its connection is opened and closed in one
    task whichever way it ends; cancelling the caller cancels it too, and re-raises.
    """
    if signal is None:
        return False, await coro
    if signal.is_set():
        coro.close()
        return True, None  # type: ignore[return-value]
    task = asyncio.ensure_future(coro)
    waiter = asyncio.ensure_future(signal.wait())
    try:
        done, _ = await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
    except asyncio.CancelledError:
        task.cancel()
        waiter.cancel()
        await asyncio.wait({task})  # let it close its connection, as a TaskGroup would
        raise
    waiter.cancel()
    if task in done:
        return False, task.result()
    task.cancel()
    await asyncio.wait({task})
    return True, None  # type: ignore[return-value]


def cancelled_by_caller() -> bool:
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0
