"""The query input: what to ask the selected Expert, or a follow-up on the job.

Enter posts :class:`QueryBar.Submitted`; the app decides whether that starts a new job or
continues the one on screen, and says which in the prompt (:meth:`QueryBar.set_mode`).
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.message import Message
from textual.widgets import Input, Label

__all__ = ["QueryBar"]


class QueryBar(Horizontal):
    """A prompt label and the query input."""

    DEFAULT_CSS = """
    QueryBar {
        height: 1;
        background: $boost;
        & #query-prompt { padding: 0 1; color: $primary; text-style: bold; width: auto; }
        & Input { width: 1fr; }
        & #query-hint { padding: 0 1; color: $text-muted; width: auto; }
    }
    """

    class Submitted(Message):
        """Enter was pressed on a non-empty query."""

        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

    def __init__(self, *, value: str = "", id: str | None = None) -> None:
        super().__init__(id=id)
        self._initial = value
        #: What Enter does now, as the prompt says it (``Ask``, ``Follow-up`` …).
        self.mode = "Ask"

    def compose(self) -> ComposeResult:
        yield Label("Ask", id="query-prompt")
        yield Input(value=self._initial, compact=True, id="query-input")
        yield Label("Enter: run", id="query-hint")

    @property
    def input(self) -> Input:
        """The text field."""
        return self.query_one("#query-input", Input)

    @property
    def text(self) -> str:
        """The query as typed, trimmed."""
        return self.input.value.strip()

    def set_mode(self, prompt: str, placeholder: str, hint: str) -> None:
        """Say what Enter will do: ``Ask`` for a new job, ``Follow-up`` to continue one."""
        self.mode = prompt
        self.query_one("#query-prompt", Label).update(prompt)
        self.query_one("#query-hint", Label).update(hint)
        self.input.placeholder = placeholder

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id != "query-input":
            return
        event.stop()
        if event.value.strip():
            self.post_message(self.Submitted(event.value.strip()))
