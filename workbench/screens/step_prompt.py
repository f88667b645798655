"""Replay's "go to step N" prompt."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label

__all__ = ["StepPrompt"]


class StepPrompt(ModalScreen[int | None]):
    """Dismissed with the step typed, or ``None``.

    Args:
        last_step: The job's last step (the prompt says the range).
    """

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    DEFAULT_CSS = """
    StepPrompt {
        align: center middle;
        & > Vertical {
            width: 40;
            height: auto;
            padding: 1 2;
            background: $surface;
            border: round $accent;
        }
        & #step-problem { color: $error; }
    }
    """

    def __init__(self, last_step: int) -> None:
        super().__init__()
        self.last_step = last_step

    def compose(self) -> ComposeResult:
        with Vertical() as frame:
            frame.border_title = "Go to step"
            yield Label(f"Step (1–{self.last_step}), then Enter")
            yield Input(type="integer", id="step-input")
            yield Label("", id="step-problem")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        try:
            step = int(event.value)
        except ValueError:
            self.query_one("#step-problem", Label).update("Type a step number.")
            return
        if not 1 <= step <= self.last_step:
            self.query_one("#step-problem", Label).update(f"Between 1 and {self.last_step}.")
            return
        self.dismiss(step)

    def action_cancel(self) -> None:
        self.dismiss(None)
