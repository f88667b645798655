"""SVG snapshots of the workbench with issue 7 wired in: the main screen in each bundled
theme, and the perstack.toml editor showing problems inside the app
(``--snapshot-update`` to accept changes)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.workbench.helpers import copy_project, fast_snap, make_app
from workbench.theming import config_dir, save_theme_name
from workbench.widgets.config_pane import ConfigPane
from workbench.widgets.notice import Notice

WIDE = (120, 36)
THEMES = ["perstack-dark", "perstack-light", "perstack-high-contrast"]


def finished(app) -> bool:
    return not app.bridge.running and app.state not in ("ready", "running", "stopping")


@pytest.mark.parametrize("theme", THEMES)
def test_finished_run_in_each_theme(snap_compare, tmp_path: Path, fixed_time, theme: str) -> None:
    save_theme_name(theme, config_dir() / "workbench.toml")
    project = copy_project("snap", tmp_path)
    app = make_app(
        project,
        expert="lead",
        query="Survey the lake",
        providers=fast_snap(project),
        clock=fixed_time,
        job_id="job-snapshot",
    )

    async def done(pilot) -> None:
        await app.wait_until(lambda: finished(app))
        await pilot.pause()

    assert snap_compare(app, terminal_size=WIDE, run_before=done)


def test_editor_with_problems_in_the_app(snap_compare, tmp_path: Path, fixed_time) -> None:
    project = copy_project("snap", tmp_path)
    config = project / "perstack.toml"
    # Two problems: a string where a number belongs, and a delegate that does not exist.
    config.write_text(
        config.read_text()
        .replace('model = "scripted-snap"', 'model = "scripted-snap"\nmaxSteps = "ten"')
        .replace('delegates = ["scout", "scribe"]', 'delegates = ["scout", "nobody"]')
    )
    app = make_app(project, expert="lead", clock=fixed_time)

    async def problems_shown(pilot) -> None:
        editor = app.query_one(ConfigPane)
        while len(editor.diagnostics) != 2 or editor.validation_pending:
            await pilot.pause()
        # The banner names the file by its path, which is under this test's tmp_path.
        app.query_one(Notice).hide()
        await pilot.pause()

    assert snap_compare(app, terminal_size=WIDE, run_before=problems_shown)
