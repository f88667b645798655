"""The header: project, Expert picker, model, and the run's status line.

The status reads like ``● running · step 12 · 3.4k tokens · $0.0412 · 7.2s``; the app updates it
after every batch of events and once a second while a run is active.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.message import Message
from textual.widgets import Label, Select

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["HeaderBar"]


class HeaderBar(Horizontal):
    """One line at the top of the screen."""

    DEFAULT_CSS = """
    HeaderBar {
        dock: top;
        height: 1;
        background: $panel;
        & Label { padding: 0 1; width: auto; }
        & #brand { color: $primary; text-style: bold; }
        & #project { color: $text-muted; }
        & Select { width: 24; }
        & #model { color: $text-muted; }
        & #auto-rerun { display: none; color: $accent; text-style: bold; }
        & #auto-rerun.-on { display: block; }
        & #status { width: 1fr; content-align: right middle; }
    }
    """

    class ExpertChosen(Message):
        """Another Expert was picked."""

        def __init__(self, expert_key: str) -> None:
            super().__init__()
            self.expert_key = expert_key

    def __init__(
        self,
        project: str,
        experts: Sequence[str],
        expert: str | None,
        model: str,
        *,
        id: str | None = None,
    ) -> None:
        super().__init__(id=id)
        self._project = project
        self._experts = list(experts)
        self._expert = expert
        self._model = model

    def compose(self) -> ComposeResult:
        yield Label("perstack", id="brand")
        yield Label(self._project, id="project")
        yield Select(
            [(key, key) for key in self._experts],
            value=self._expert if self._expert in self._experts else Select.NULL,
            prompt="no Experts",
            allow_blank=not self._experts,
            compact=True,
            id="expert",
        )
        yield Label(self._model, id="model")
        yield Label("↻ auto re-run", id="auto-rerun")
        yield Label("", id="status")

    @property
    def expert(self) -> str | None:
        """The Expert picked."""
        value = self.query_one("#expert", Select).value
        return value if isinstance(value, str) else None

    def pick(self, expert_key: str) -> None:
        """Select ``expert_key`` (when it is defined)."""
        if expert_key in self._experts:
            self.query_one("#expert", Select).value = expert_key

    def set_experts(self, experts: Sequence[str], model: str) -> None:
        """The file was reloaded: offer its Experts (keeping the pick when it still
        exists) and show its model."""
        experts = list(experts)
        if experts == self._experts and model == self._model:
            return
        self.query_one("#model", Label).update(model)
        if not experts:  # the picker cannot be emptied (it allows no blank); runs say why
            return
        current = self.expert
        self._experts, self._model = experts, model
        select = self.query_one("#expert", Select)
        pick = current if current in experts else (experts[0] if experts else None)
        with select.prevent(Select.Changed):
            select.set_options([(key, key) for key in experts])
            if pick is not None:
                select.value = pick
        if pick != current and pick is not None:
            self.post_message(self.ExpertChosen(pick))

    def show_auto_rerun(self, enabled: bool) -> None:
        """Show whether auto re-run is on."""
        self.query_one("#auto-rerun", Label).set_class(enabled, "-on")

    def open_picker(self) -> None:
        """Focus the picker and open its list."""
        select = self.query_one("#expert", Select)
        select.focus()
        select.expanded = True

    def set_status(self, text: Text | str) -> None:
        """Replace the status line."""
        # The status has a fixed width: no layout pass (it runs after every batch).
        self.query_one("#status", Label).update(text, layout=False)

    def on_select_changed(self, event: Select.Changed) -> None:
        event.stop()
        if isinstance(event.value, str):
            self.post_message(self.ExpertChosen(event.value))
