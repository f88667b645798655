"""SVG snapshots of replay (issue 13): mid-job, the checkpoint panel, the fork dialog and
the diff view (``--snapshot-update`` on this file alone to accept changes).

Deterministic like ``test_snapshots.py`` (the snap project, a given job id, timestamps
from a counter, a fixed clock, no animation), and ids too: checkpoint, run and forked
job ids come from a counter instead of ``os.urandom``.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from types import SimpleNamespace

import pytest

from tests.workbench.helpers import copy_project, fast_snap, make_app
from tests.workbench.test_stored_jobs import finished
from workbench.screens.diff import DiffScreen
from workbench.screens.fork import ForkScreen
from workbench.widgets.checkpoint_panel import CheckpointPanel

WIDE, LARGE = (120, 36), (160, 42)


@pytest.fixture
def fixed_ids(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every id made by ``runtime.model.new_id`` from a counter (the same each run)."""
    counter = itertools.count(1)
    monkeypatch.setattr(
        "runtime.model.os", SimpleNamespace(urandom=lambda n: next(counter).to_bytes(n, "big"))
    )


def replay_app(tmp_path: Path, clock):
    project = copy_project("snap", tmp_path)
    return make_app(
        project,
        expert="lead",
        query="Survey the lake",
        providers=fast_snap(project),
        clock=clock,
        job_id="job-snapshot",
    )


async def at_step(app, pilot, step: int) -> None:
    await app.wait_until(lambda: finished(app))
    await pilot.press("f8")
    await app.wait_until(lambda: app.replay.active)
    app.replay.go_to_step(step)
    panel = app.query_one(CheckpointPanel)
    await app.wait_until(lambda: panel.key is not None)
    app.clear_notifications()
    await pilot.pause()


def test_replay_mid_job(snap_compare, tmp_path: Path, fixed_time, fixed_ids) -> None:
    app = replay_app(tmp_path, fixed_time)

    async def mid_job(pilot) -> None:
        await at_step(app, pilot, 3)

    assert snap_compare(app, terminal_size=WIDE, run_before=mid_job)


def test_checkpoint_panel(snap_compare, tmp_path: Path, fixed_time, fixed_ids) -> None:
    app = replay_app(tmp_path, fixed_time)

    async def waiting(pilot) -> None:
        await at_step(app, pilot, 4)
        await pilot.press("t")  # a tool call made, its result not back yet
        panel = app.query_one(CheckpointPanel)
        await app.wait_until(lambda: panel.key is not None and bool(panel.key[2]))
        panel.focus()
        await pilot.pause()

    assert snap_compare(app, terminal_size=LARGE, run_before=waiting)


def test_fork_dialog(snap_compare, tmp_path: Path, fixed_time, fixed_ids) -> None:
    app = replay_app(tmp_path, fixed_time)

    async def dialog(pilot) -> None:
        await at_step(app, pilot, 4)
        await pilot.press("f")
        await app.wait_until(lambda: isinstance(app.screen, ForkScreen))
        await pilot.press(*"Go north only")
        await pilot.pause()

    assert snap_compare(app, terminal_size=WIDE, run_before=dialog)


def test_diff_view_after_a_fork(snap_compare, tmp_path: Path, fixed_time, fixed_ids) -> None:
    app = replay_app(tmp_path, fixed_time)

    async def diffed(pilot) -> None:
        await at_step(app, pilot, 4)
        await pilot.press("f")
        await app.wait_until(lambda: isinstance(app.screen, ForkScreen))
        await pilot.press(*"Go north only", "enter")
        await app.wait_until(
            lambda: isinstance(app.screen, DiffScreen) and app.screen.diff is not None
        )
        app.clear_notifications()
        await pilot.pause()

    assert snap_compare(app, terminal_size=WIDE, run_before=diffed)
