"""The live panel under the timeline: the text streaming right now, as it arrives.

The timeline shows one line per row; this panel shows the end of the row that is
streaming (the model's reasoning or its final answer) over a few wrapped lines, and what
the run is waiting for otherwise.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual.widgets import Static

from workbench.formatting import one_line

if TYPE_CHECKING:
    from runtime.views.activity import ActivityRow

__all__ = ["StreamPanel"]

#: Characters of streamed text kept: enough to fill the panel at any width.
_TAIL = 600


class StreamPanel(Static):
    """Shown while a run is in progress."""

    DEFAULT_CSS = """
    StreamPanel {
        height: 3;
        padding: 0 1;
        background: $boost;
        color: $text-muted;
        display: none;
        &.-active { display: block; }
    }
    """

    def show_row(self, row: ActivityRow | None, running: bool) -> None:
        """Show ``row``'s streaming text, or the run's state when nothing streams."""
        self.set_class(running, "-active")
        if not running:
            return
        if row is None:
            self.update(Text("Waiting for the model…", style="italic"), layout=False)
            return
        action = "is thinking" if row.kind == "reasoning" else "is answering"
        text = one_line(row.text)
        if len(text) > _TAIL:
            text = "…" + text[-_TAIL:]
        self.update(Text.assemble((f"{row.expert_key} {action}: ", "bold"), text), layout=False)
