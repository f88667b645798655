"""The editor's find bar: Ctrl+F opens it, Enter / Shift+Enter go to the next / previous
match, Escape closes it. Matching ignores case unless the query has a capital letter.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.message import Message
from textual.widgets import Input, Label

__all__ = ["FindBar", "find_match", "count_matches"]


def _fold(text: str, query: str) -> tuple[str, str]:
    # "Smart case", as in most editors: a capital letter in the query means case matters.
    if query != query.lower():
        return text, query
    return text.lower(), query.lower()


def find_match(text: str, query: str, offset: int, backwards: bool = False) -> int | None:
    """The index of the next match of ``query`` at or after ``offset`` (before it when
    ``backwards``), wrapping around the end; None when there is none."""
    if not query:
        return None
    haystack, needle = _fold(text, query)
    if backwards:
        index = haystack.rfind(needle, 0, max(offset, 0))
        return index if index >= 0 else _none_if_negative(haystack.rfind(needle))
    index = haystack.find(needle, offset)
    return index if index >= 0 else _none_if_negative(haystack.find(needle))


def _none_if_negative(index: int) -> int | None:
    return index if index >= 0 else None


def count_matches(text: str, query: str, before: int) -> tuple[int, int]:
    """``(number of the match starting at before, total)``, e.g. ``(3, 12)``; 1-based."""
    if not query:
        return 0, 0
    haystack, needle = _fold(text, query)
    return haystack.count(needle, 0, before) + 1, haystack.count(needle)


class FindBar(Horizontal):
    """A one-line bar over the editor; hidden until :meth:`open`.

    It only asks: the editor searches and answers with :meth:`show_count`.
    """

    DEFAULT_CSS = """
    FindBar {
        display: none;
        height: 1;
        background: $panel;
        &.-open { display: block; }
        & > Label { padding: 0 1; color: $text-muted; }
        & > Input { width: 1fr; height: 1; border: none; padding: 0; background: $surface; }
        & > #find-count { min-width: 9; text-align: right; }
    }
    """

    BINDINGS = [
        Binding("escape", "close", "Close find", show=False),
        Binding("shift+enter,up", "previous", "Previous match", show=False),
        Binding("down", "next", "Next match", show=False),
    ]

    class Search(Message):
        """Find ``query``: ``step`` 0 from the current match (typing), 1 next, -1 previous."""

        def __init__(self, query: str, step: int) -> None:
            super().__init__()
            self.query = query
            self.step = step

    class Closed(Message):
        """The bar was closed (the editor takes the focus back)."""

    def compose(self) -> ComposeResult:
        yield Label("Find")
        yield Input(placeholder="text to find", id="find-input", select_on_focus=True)
        yield Label("", id="find-count")

    @property
    def is_open(self) -> bool:
        """Whether the bar is shown."""
        return self.has_class("-open")

    @property
    def query_text(self) -> str:
        """What is being searched for."""
        return self.query_one(Input).value

    def open(self, initial: str = "") -> None:
        """Show the bar with the cursor in it; ``initial`` (e.g. the selection) prefills it."""
        field = self.query_one(Input)
        if initial and "\n" not in initial:
            field.value = initial
        self.add_class("-open")
        field.focus()

    def show_count(self, current: int, total: int) -> None:
        """Show ``current/total`` (``no matches`` when total is 0 and there is a query)."""
        label = self.query_one("#find-count", Label)
        if total:
            label.update(f"{current}/{total}")
        else:
            label.update("no matches" if self.query_text else "")

    def action_close(self) -> None:
        """Hide the bar."""
        self.remove_class("-open")
        self.post_message(self.Closed())

    def action_next(self) -> None:
        """Go to the next match."""
        self.post_message(self.Search(self.query_text, 1))

    def action_previous(self) -> None:
        """Go to the previous match."""
        self.post_message(self.Search(self.query_text, -1))

    def _on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        self.post_message(self.Search(event.value, 0))

    def _on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.post_message(self.Search(event.value, 1))
