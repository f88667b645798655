"""SVG snapshots of the compare view: a comparison part way and a finished one, at fixed
sizes (``--snapshot-update`` on this file alone to accept changes).

The columns come from :mod:`workbench.compare_samples`: three runs recorded one after the
other with the scripted provider, event timestamps from a counter (``fixed_time``), fixed
job ids, the app's clock fixed and animations off, so the pictures never change by chance.
"""

from __future__ import annotations

from pathlib import Path

from tests.workbench.helpers import make_app
from workbench.compare_samples import (
    SAMPLE_QUERY,
    record_sample,
    show_finished,
    show_live,
    write_project,
)
from workbench.screens.compare import CompareScreen

WIDE = (150, 40)


def sample_app(tmp_path: Path, clock):
    project = write_project(tmp_path / "sample")
    return make_app(project, expert="writer", clock=clock), project


async def open_compare(app, pilot, project: Path, tmp_path: Path):
    app.query_one("#query-input").value = SAMPLE_QUERY
    await pilot.press("f10")
    await pilot.pause()
    assert isinstance(app.screen, CompareScreen)
    return app.screen, await record_sample(project, tmp_path / "sample-storage")


def test_compare_setup(snap_compare, tmp_path: Path, fixed_time) -> None:
    app, _ = sample_app(tmp_path, fixed_time)

    async def setup(pilot) -> None:
        app.query_one("#query-input").value = SAMPLE_QUERY
        await pilot.press("f10")
        await pilot.pause()
        app.screen.query_one("#model-2").value = "openai:gpt-4.1"

    assert snap_compare(app, terminal_size=(120, 30), run_before=setup)


def test_compare_live(snap_compare, tmp_path: Path, fixed_time) -> None:
    app, project = sample_app(tmp_path, fixed_time)

    async def live(pilot) -> None:
        screen, sample = await open_compare(app, pilot, project, tmp_path)
        show_live(screen, sample, [1.0, 0.55, 0.4])
        await pilot.pause()

    assert snap_compare(app, terminal_size=WIDE, run_before=live)


def test_compare_finished(snap_compare, tmp_path: Path, fixed_time) -> None:
    app, project = sample_app(tmp_path, fixed_time)

    async def finished(pilot) -> None:
        screen, sample = await open_compare(app, pilot, project, tmp_path)
        show_finished(screen, sample)
        await pilot.press("right")
        await pilot.pause()

    assert snap_compare(app, terminal_size=WIDE, run_before=finished)
