"""The change create-expert proposes to ``perstack.toml``, as a diff to accept or reject.

Dismissed with ``True`` (accept: the file is written, with a backup) or ``False``
(reject: the file stays byte for byte as it is).
"""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, ScrollableContainer, Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Label, Static

__all__ = ["ProposalScreen", "diff_content"]

_LINE_STYLES = (
    ("+++", "$text-muted"),
    ("---", "$text-muted"),
    ("@@", "$text-accent"),
    ("+", "$text-success"),
    ("-", "$text-error"),
)


def diff_content(diff: str) -> Content:
    """A unified diff, added lines in the success colour and removed ones in the error's."""
    parts: list[tuple[str, str] | str] = []
    for line in diff.splitlines(keepends=True):
        style = next((style for prefix, style in _LINE_STYLES if line.startswith(prefix)), "")
        parts.append((line, style) if style else line)
    return Content.assemble(*parts)


class ProposalScreen(ModalScreen[bool]):
    """Shows the diff; ``a`` accepts, ``r`` or Esc rejects.

    Args:
        file_name: The file the change is for.
        summary: One line on what the change is and how testing went.
        diff: The unified diff.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a,y", "accept", "Accept"),
        Binding("r,n,escape", "reject", "Reject"),
    ]

    DEFAULT_CSS = """
    ProposalScreen {
        align: center middle;
        & > #proposal {
            width: 110;
            max-width: 96%;
            height: 90%;
            padding: 0 1;
            background: $surface;
            border: round $accent;
            border-title-color: $text;
        }
        & #proposal-summary { margin: 1 0; text-style: bold; }
        & #proposal-diff { height: 1fr; background: $boost; padding: 0 1; }
        /* Long lines scroll sideways: a wrapped line would read as a line of its own. */
        & #proposal-diff > Static { width: auto; text-wrap: nowrap; }
        & #proposal-buttons { height: auto; margin-top: 1; align-horizontal: right; }
        & #proposal-buttons Button { margin-left: 2; }
        & #proposal-hint { color: $text-muted; }
    }
    """

    def __init__(self, file_name: str, summary: str, diff: str) -> None:
        super().__init__()
        self.file_name = file_name
        self.summary = summary
        self.diff = diff

    def compose(self) -> ComposeResult:
        with Vertical(id="proposal") as frame:
            frame.border_title = f"Proposed change to {self.file_name}"
            yield Label(self.summary, id="proposal-summary", markup=False)
            with ScrollableContainer(id="proposal-diff"):
                yield Static(diff_content(self.diff), markup=False)
            with Horizontal(id="proposal-buttons"):
                yield Label(
                    f"a: accept and write {self.file_name} (a backup is kept) · r / Esc: reject",
                    id="proposal-hint",
                )
                yield Button("Accept", variant="success", id="proposal-accept")
                yield Button("Reject", variant="error", id="proposal-reject")

    def on_mount(self) -> None:
        self.query_one("#proposal-diff").focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(event.button.id == "proposal-accept")

    def action_accept(self) -> None:
        self.dismiss(True)

    def action_reject(self) -> None:
        self.dismiss(False)
