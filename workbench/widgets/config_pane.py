"""The ``perstack.toml`` pane: the file read-only, with line numbers.

The next workbench issue turns this pane into the editor (typing, diagnostics, save and
hot reload); until then it shows what the runs use.
"""

from __future__ import annotations

from pathlib import Path

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Label, TextArea

__all__ = ["ConfigPane"]


class ConfigPane(Vertical):
    """A title and a read-only :class:`~textual.widgets.TextArea` on the file."""

    DEFAULT_CSS = """
    ConfigPane {
        & > #config-title { width: 1fr; padding: 0 1; background: $panel; color: $text-muted; }
        & > TextArea { height: 1fr; border: none; padding: 0; scrollbar-size: 1 1; }
    }
    """

    def __init__(self, path: Path, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.path = path

    def compose(self) -> ComposeResult:
        yield Label(self.path.name, id="config-title")
        yield TextArea(
            self._read(),
            read_only=True,
            show_line_numbers=True,
            soft_wrap=False,
            id="config-text",
        )

    def reload(self) -> None:
        """Read the file again."""
        self.query_one(TextArea).load_text(self._read())

    def _read(self) -> str:
        try:
            return self.path.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as error:
            return f"# Cannot read {self.path}: {error}"
