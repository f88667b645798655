"""A divider between two panes that the mouse can drag.

A vertical splitter is one column wide (``│``), between side-by-side panes; a horizontal
one is one row high (``─``), between stacked panes, and may carry a title. Pressing the
mouse on it captures the mouse; every move then posts :class:`Splitter.Dragged` with
where the pointer is on the screen, and the release posts :class:`Splitter.Released`.
Whoever owns the layout (:class:`~workbench.panes.PaneControl`) turns the position into
a pane size: the splitter knows nothing of the panes on either side.
"""

from __future__ import annotations

from typing import Literal

from rich.text import Text
from textual import events
from textual.geometry import Offset
from textual.message import Message
from textual.widget import Widget

__all__ = ["Splitter"]


class Splitter(Widget):
    """A draggable divider.

    Args:
        orientation: ``vertical`` (a column between panes side by side) or ``horizontal``.
        title: Shown on a horizontal splitter's line.
    """

    DEFAULT_CSS = """
    Splitter {
        color: $panel-lighten-2;
        background: $surface;
        &.-vertical { width: 1; height: 1fr; }
        &.-horizontal { height: 1; width: 1fr; background: $panel; color: $text-muted; }
        &:hover, &.-dragging { color: $accent; }
    }
    """

    class Dragged(Message):
        """The splitter was dragged to ``position`` (screen coordinates)."""

        def __init__(self, splitter: Splitter, position: Offset) -> None:
            super().__init__()
            self.splitter = splitter
            self.position = position

        @property
        def control(self) -> Splitter:
            return self.splitter

    class Released(Message):
        """The drag ended (the new size can be kept)."""

        def __init__(self, splitter: Splitter) -> None:
            super().__init__()
            self.splitter = splitter

        @property
        def control(self) -> Splitter:
            return self.splitter

    def __init__(
        self,
        orientation: Literal["vertical", "horizontal"] = "vertical",
        *,
        title: str = "",
        id: str | None = None,
    ) -> None:
        super().__init__(id=id, classes=f"-{orientation}")
        self.orientation = orientation
        self.title = title
        self.dragging = False

    def set_title(self, title: str) -> None:
        """Change the title on a horizontal splitter's line."""
        if title != self.title:
            self.title = title
            self.refresh()

    def render(self) -> Text:
        if self.orientation == "vertical":
            return Text("\n".join("│" * self.size.width for _ in range(self.size.height)))
        title = f" {self.title} " if self.title else ""
        return Text("─" + title + "─" * max(0, self.size.width - len(title) - 1), no_wrap=True)

    def on_mouse_down(self, event: events.MouseDown) -> None:
        self.capture_mouse()
        self.dragging = True
        self.add_class("-dragging")
        event.stop()

    def on_mouse_move(self, event: events.MouseMove) -> None:
        if self.dragging:
            self.post_message(self.Dragged(self, event.screen_offset))
            event.stop()

    def on_mouse_up(self, event: events.MouseUp) -> None:
        if self.dragging:
            self.dragging = False
            self.remove_class("-dragging")
            self.release_mouse()
            self.post_message(self.Released(self))
            event.stop()
