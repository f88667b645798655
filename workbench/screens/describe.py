"""The "New Expert from a description" dialog: what create-expert should make or improve.

Dismissed with a :class:`CreateRequest` (Enter) or ``None`` (Esc). Nothing is written to
``perstack.toml`` by starting: the change is shown for acceptance when the session ends.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Select

__all__ = ["CreateRequest", "DescribeScreen"]


@dataclass(frozen=True)
class CreateRequest:
    """What to run ``perstack create-expert`` with.

    Attributes:
        description: What the Experts should do (or how to improve ``expert``).
        expert: Improve this Expert and its delegates (``None``: create new ones).
        max_iterations: The most rounds.
    """

    description: str
    expert: str | None = None
    max_iterations: int = 3


class DescribeScreen(ModalScreen[CreateRequest | None]):
    """Asks for the description, new or improve, and the most rounds.

    Args:
        experts: The project's Experts (each can be improved).
    """

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    DEFAULT_CSS = """
    DescribeScreen {
        align: center middle;
        & > #describe {
            width: 84;
            max-width: 95%;
            height: auto;
            padding: 1 2;
            background: $surface;
            border: round $accent;
            border-title-color: $text;
        }
        & .describe-label { color: $text-muted; margin-top: 1; }
        & #describe-options { height: auto; margin-top: 1; }
        & #describe-target { width: 1fr; }
        & #describe-rounds { width: 12; }
        & #describe-rounds-label { padding: 1 1 0 2; color: $text-muted; }
        & #describe-hint { color: $text-muted; margin-top: 1; }
    }
    """

    def __init__(self, experts: Sequence[str]) -> None:
        super().__init__()
        self.experts = list(experts)

    def compose(self) -> ComposeResult:
        targets = [("Create new Experts", "")] + [
            (f"Improve {key} and its delegates", key) for key in self.experts
        ]
        with Vertical(id="describe") as frame:
            frame.border_title = "New Expert from a description"
            yield Label("What should the Experts do?", classes="describe-label")
            yield Input(
                placeholder="e.g. Create a fitness assistant that delegates to a pro trainer",
                id="describe-input",
            )
            with Horizontal(id="describe-options"):
                yield Select(targets, value="", allow_blank=False, id="describe-target")
                yield Label("Rounds at most", id="describe-rounds-label")
                yield Input("3", type="integer", id="describe-rounds")
            yield Label(
                "Enter: design, test and iterate (a job on screen) · Esc: cancel\n"
                "perstack.toml changes only if you accept the proposed change at the end.",
                id="describe-hint",
            )

    def on_mount(self) -> None:
        self.query_one("#describe-input", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        description = self.query_one("#describe-input", Input).value.strip()
        if not description:
            self.notify("Describe the Experts first.", severity="warning")
            self.query_one("#describe-input", Input).focus()
            return
        rounds = self.query_one("#describe-rounds", Input).value.strip()
        if not rounds.isdigit() or int(rounds) < 1:
            self.notify("Rounds at most: a whole number, 1 or more.", severity="warning")
            return
        target = self.query_one("#describe-target", Select).value
        expert = target if isinstance(target, str) and target else None
        self.dismiss(CreateRequest(description, expert, int(rounds)))

    def action_cancel(self) -> None:
        self.dismiss(None)
