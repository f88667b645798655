"""The interactive-tool dialog: the tool and its arguments, and the user's answer.

The run stopped with ``stoppedByInteractiveTool``; the answer resumes it the way
``perstack run … --continue -i`` does. Escape leaves the question pending (answer later
from the command palette).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static

from workbench.detail_text import pretty_json

if TYPE_CHECKING:
    from runtime.model import ToolCall

__all__ = ["AnswerScreen"]


class AnswerScreen(ModalScreen[str | None]):
    """Dismissed with the answer, or ``None`` when put off."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "later", "Answer later")]

    DEFAULT_CSS = """
    AnswerScreen {
        align: center middle;
        & > #answer {
            width: 76;
            max-width: 95%;
            height: auto;
            max-height: 90%;
            padding: 1 2;
            background: $surface;
            border: round $warning;
            border-title-color: $text;
        }
        & #answer-tool { text-style: bold; color: $warning; }
        & #answer-args { margin: 1 0; padding: 0 1; background: $boost; max-height: 16; }
        & #answer-hint { color: $text-muted; margin-top: 1; }
    }
    """

    def __init__(self, expert_key: str, call: ToolCall) -> None:
        super().__init__()
        self.expert_key = expert_key
        self.call = call

    def compose(self) -> ComposeResult:
        with Vertical(id="answer") as frame:
            frame.border_title = "The Expert asks you"
            yield Label(
                f"{self.expert_key} called {self.call.tool_name} ({self.call.skill_name})",
                id="answer-tool",
                markup=False,
            )
            yield Static(pretty_json(self.call.args), id="answer-args", markup=False)
            yield Input(placeholder="Your answer", id="answer-input")
            yield Label("Enter: send the answer and resume · Esc: answer later", id="answer-hint")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if event.value.strip():
            self.dismiss(event.value.strip())

    def action_later(self) -> None:
        """Close without answering; the job stays stopped on the question."""
        self.dismiss(None)
