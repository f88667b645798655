"""SVG snapshots of the perstack.toml editor showing problems, in each bundled theme
(``--snapshot-update`` to accept changes)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.workbench.editor_apps import EditorApp, config_home, wait_until  # noqa: F401
from tests.workbench.toml_samples import SMALL_CONFIG
from workbench.theming import config_dir, save_theme_name

pytestmark = pytest.mark.usefixtures("config_home")

# Two problems: a string where a number belongs, and a delegate that does not exist.
BROKEN = SMALL_CONFIG.replace(
    'model = "scripted-test"', 'model = "scripted-test"\nmaxSteps = "ten"'
).replace('"Read the notes."', '"Read the notes."\ndelegates = ["nobody"]')


@pytest.mark.parametrize("theme", ["perstack-dark", "perstack-light", "perstack-high-contrast"])
def test_editor_with_problems(snap_compare, tmp_path: Path, theme: str) -> None:
    path = tmp_path / "perstack.toml"
    path.write_text(BROKEN)
    save_theme_name(theme, config_dir() / "workbench.toml")
    app = EditorApp(path)

    async def problems_shown(pilot) -> None:
        await wait_until(pilot, lambda: len(app.editor.diagnostics) == 2)
        app.editor.goto_line(app.editor.diagnostics[0].line)
        await pilot.pause()

    assert snap_compare(app, terminal_size=(80, 24), run_before=problems_shown)
