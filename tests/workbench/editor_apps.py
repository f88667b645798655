"""Small apps mounting the editor, the theme manager and the hot reload, wired the way the
workbench wires them, and the waits the tests of issue 7 share."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from textual.app import App, ComposeResult
from textual.message import Message
from textual.pilot import Pilot

from workbench.reload import ConfigInvalid, ConfigReloaded, ConfigWatcher
from workbench.theme_manager import ThemeManager
from workbench.widgets.config_editor import DEFAULT_DEBOUNCE, ConfigEditor

#: Upper bound of every wait: far above anything a passing test needs, so a busy CI
#: machine never fails a test that would pass, and a broken one still ends.
WAIT_S = 20.0


@pytest.fixture
def config_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``XDG_CONFIG_HOME`` in ``tmp_path``: themes and settings never touch the home."""
    home = tmp_path / "config-home"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home))
    return home / "perstack"


class EditorApp(App[None]):
    """The editor on ``path``, the theme manager, and optionally the hot reload.

    Every message of interest is appended to :attr:`messages` in arrival order.
    """

    def __init__(
        self,
        path: Path,
        *,
        watch: bool = False,
        debounce: float = DEFAULT_DEBOUNCE,
        step_ms: int = 50,
    ) -> None:
        super().__init__()
        self.path = path
        self.watch = watch
        self.debounce = debounce
        self.step_ms = step_ms
        self.messages: list[Message] = []
        self.watcher: ConfigWatcher | None = None
        self.themes: ThemeManager | None = None

    def compose(self) -> ComposeResult:
        yield ConfigEditor(self.path, debounce=self.debounce, id="editor")

    async def on_mount(self) -> None:
        assert os.environ.get("XDG_CONFIG_HOME"), "use the config_home fixture"
        self.query_one(ConfigEditor).text_area.cursor_blink = False
        self.themes = ThemeManager(self)
        self.themes.install()
        if self.watch:
            self.watcher = ConfigWatcher(
                self, self.path, cwd=self.path.parent, step_ms=self.step_ms
            )
            await self.watcher.start()

    async def on_unmount(self) -> None:
        if self.watcher is not None:
            await self.watcher.stop()

    @property
    def editor(self) -> ConfigEditor:
        return self.query_one(ConfigEditor)

    def on_config_editor_saved(self, message: ConfigEditor.Saved) -> None:
        self.messages.append(message)
        if self.watcher is not None:
            self.run_worker(self.watcher.reload())

    def on_config_editor_diagnostics_changed(
        self, message: ConfigEditor.DiagnosticsChanged
    ) -> None:
        self.messages.append(message)

    def on_config_editor_external_change(self, message: ConfigEditor.ExternalChange) -> None:
        self.messages.append(message)

    def on_config_editor_loaded_from_disk(self, message: ConfigEditor.LoadedFromDisk) -> None:
        self.messages.append(message)

    def on_config_editor_modified_changed(self, message: ConfigEditor.ModifiedChanged) -> None:
        self.messages.append(message)

    def on_config_reloaded(self, message: ConfigReloaded) -> None:
        self.messages.append(message)
        self.editor.disk_changed(message.text)

    def on_config_invalid(self, message: ConfigInvalid) -> None:
        self.messages.append(message)
        if message.text is not None:
            self.editor.disk_changed(message.text)

    def of(self, kind: type[Any]) -> list[Any]:
        """The messages of one kind received so far."""
        return [message for message in self.messages if isinstance(message, kind)]


async def wait_until(
    pilot: Pilot[Any], condition: Callable[[], bool], timeout: float = WAIT_S
) -> None:
    """Let the app run until ``condition()`` holds (no fixed sleep: it polls the state)."""
    async with asyncio.timeout(timeout):
        while not condition():
            await pilot.pause()


async def wait_for(
    pilot: Pilot[Any], app: EditorApp, kind: type[Any], count: int = 1, timeout: float = WAIT_S
) -> Any:
    """The ``count``-th message of ``kind`` once it has arrived."""
    await wait_until(pilot, lambda: len(app.of(kind)) >= count, timeout)
    return app.of(kind)[count - 1]
