"""The create-expert report in a pane of its own (``create-expert-report.md``, rendered)."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Label, Markdown

__all__ = ["ReportScreen"]


class ReportScreen(ModalScreen[None]):
    """The report; Esc or q closes it (the file stays).

    Args:
        markdown: The report.
        where: Where it was written, as shown to the user.
    """

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q", "close", "Close")]

    DEFAULT_CSS = """
    ReportScreen {
        align: center middle;
        & > #report {
            width: 110;
            max-width: 96%;
            height: 92%;
            background: $surface;
            border: round $accent;
            border-title-color: $text;
        }
        & #report-body { height: 1fr; padding: 0 1; }
        & #report-hint { color: $text-muted; padding: 0 1; }
    }
    """

    def __init__(self, markdown: str, where: str) -> None:
        super().__init__()
        self.markdown = markdown
        self.where = where

    def compose(self) -> ComposeResult:
        with Vertical(id="report") as frame:
            frame.border_title = "create-expert report"
            with VerticalScroll(id="report-body"):
                yield Markdown(self.markdown, id="report-markdown")
            yield Label(f"Esc: close · kept in {self.where}", id="report-hint", markup=False)

    def on_mount(self) -> None:
        self.query_one("#report-body").focus()

    def action_close(self) -> None:
        self.dismiss(None)
