"""The screenshots of replay, fork and diff (see :mod:`workbench.screenshots`).

Each function puts the finished demo job in one state: replay mid-job, the checkpoint
panel focused on an Expert waiting for a call, the fork dialog, and the diff view that
opens when the fork ends. :data:`FIXED_IDS` makes ids (checkpoints, the fork's job) come
from a counter, so the pictures are the same every time.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import SimpleNamespace
from typing import Any
from unittest import mock

__all__ = ["REPLAY_SHOTS", "fixed_ids"]


@contextmanager
def fixed_ids() -> Iterator[None]:
    """``runtime.model.new_id`` from a counter instead of ``os.urandom``."""
    counter = itertools.count(1)
    fake_os = SimpleNamespace(urandom=lambda n: next(counter).to_bytes(n, "big"))
    with mock.patch("runtime.model.os", fake_os):
        yield


async def _replay_at(app: Any, pilot: Any, step: int) -> None:
    from workbench.widgets.checkpoint_panel import CheckpointPanel

    await pilot.press("enter")
    await app.wait_until(lambda: not app.bridge.running and app.state == "completed")
    await pilot.press("f8")
    await app.wait_until(lambda: app.replay.active)
    app.replay.go_to_step(step)
    panel = app.query_one(CheckpointPanel)
    await app.wait_until(lambda: panel.key is not None)
    app.clear_notifications()
    await pilot.pause()


async def _mid_job(app: Any, pilot: Any) -> None:
    await _replay_at(app, pilot, 3)


async def _checkpoint(app: Any, pilot: Any) -> None:
    from workbench.widgets.checkpoint_panel import CheckpointPanel

    await _replay_at(app, pilot, 3)
    await pilot.press("t")  # a tool call made, its result not back yet
    panel = app.query_one(CheckpointPanel)
    await app.wait_until(lambda: panel.key is not None and panel.key[1] >= 0)
    panel.focus()
    await pilot.pause()


async def _fork_dialog(app: Any, pilot: Any) -> None:
    from workbench.screens.fork import ForkScreen

    await _replay_at(app, pilot, 3)
    await pilot.press("f")
    await app.wait_until(lambda: isinstance(app.screen, ForkScreen))
    await pilot.press(*"Prefer quiet neighbourhoods")
    await pilot.pause()


async def _diff(app: Any, pilot: Any) -> None:
    from workbench.screens.diff import DiffScreen

    await _fork_dialog(app, pilot)
    await pilot.press("enter")
    await app.wait_until(lambda: isinstance(app.screen, DiffScreen) and app.screen.diff is not None)
    app.clear_notifications()
    await pilot.pause()


#: name -> (size, Expert, rules to hold, what to do before the picture), as SHOTS.
REPLAY_SHOTS: dict[str, tuple[tuple[int, int], str, None, Callable[..., Any]]] = {
    "21-replay-mid-job": ((120, 36), "coordinator", None, _mid_job),
    "22-checkpoint-panel": ((160, 42), "coordinator", None, _checkpoint),
    "23-fork-dialog": ((120, 36), "coordinator", None, _fork_dialog),
    "24-diff-view": ((120, 36), "coordinator", None, _diff),
}
