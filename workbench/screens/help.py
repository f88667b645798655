"""``?``: every key of the workbench and what it does."""

from __future__ import annotations

from typing import ClassVar

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from workbench.commands import ACTIONS, CONTEXT_KEYS

__all__ = ["HelpScreen", "help_table"]


def help_table() -> Table:
    """The keys, as a Rich table: global actions first, then per widget."""
    table = Table(box=None, expand=True, show_header=True, header_style="bold", pad_edge=False)
    table.add_column("Key", no_wrap=True, style="bold")
    table.add_column("Action")
    table.add_column("Where", style="dim")
    for item in ACTIONS:
        where = "anywhere" if item.global_ else "outside text fields"
        if item.keys == "enter":
            where = "timeline"
        table.add_row(item.key_display, f"{item.title}: {item.help}", where)
    for where, keys, what in CONTEXT_KEYS:
        table.add_row(keys, what, where.lower())
    return table


class HelpScreen(ModalScreen[None]):
    """The key table in a dialog."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,f1,question_mark", "dismiss", "Close"),
    ]

    DEFAULT_CSS = """
    HelpScreen {
        align: center middle;
        & > VerticalScroll {
            width: 96;
            max-width: 96%;
            height: auto;
            max-height: 90%;
            padding: 0 1;
            background: $surface;
            border: round $primary;
            border-title-color: $text;
            border-subtitle-color: $text-muted;
        }
    }
    """

    def compose(self) -> ComposeResult:
        with VerticalScroll() as frame:
            frame.border_title = "Perstack workbench: keys"
            frame.border_subtitle = "Esc close · Ctrl+P every action by name"
            yield Static(help_table())
