"""One column of the compare view: a model's run, its figures, its aligned steps, its answer.

The screen tells each column what to show (:meth:`CompareColumn.show`): the column only
draws. Rows of the compact timeline are the comparison's aligned rows, so row *k* of
every column is the same row of the alignment (a blank where that run took no step).
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.reactive import reactive
from textual.widgets import Static

__all__ = ["CompareColumn"]

_STATUS_MARKS = {
    "pending": "○",
    "running": "●",
    "completed": "✓",
    "failed": "✗",
    "stoppedByError": "✗",
    "stoppedByMaxSteps": "■",
    "stoppedByExceededMaxSteps": "■",
    "stoppedByInteractiveTool": "?",
}


class CompareColumn(Vertical):
    """A run's column (see the module docstring).

    Attributes:
        selected: The column the keys act on (Enter opens its job).
    """

    DEFAULT_CSS = """
    CompareColumn {
        width: 1fr;
        height: 1fr;
        border: round $panel;
        padding: 0 1;
        &.-selected { border: round $accent; }
        & > .column-head { text-style: bold; color: $text; height: 2; }
        & > .column-figures { color: $text-muted; height: 3; border-bottom: solid $panel; }
        & > .column-steps { height: 1fr; color: $text; }
        & > .column-answer { height: 6; border-top: solid $panel; color: $text; }
    }
    """

    selected: reactive[bool] = reactive(False)

    def __init__(self, label: str, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.label = label
        #: What the column shows now (for tests): status, figures, step lines, answer.
        self.status = "pending"
        self.figures = ""
        self.steps: list[str] = []
        self.answer = ""

    def compose(self) -> ComposeResult:
        yield Static(self.label, classes="column-head", markup=False)
        yield Static("", classes="column-figures", markup=False)
        yield Static("", classes="column-steps", markup=False)
        yield Static("", classes="column-answer", markup=False)

    def watch_selected(self, selected: bool) -> None:
        self.set_class(selected, "-selected")

    def show(
        self, *, head: str, status: str, figures: str, steps: list[str], answer: str
    ) -> None:
        """Draw these (only the parts that changed are repainted)."""
        parts = self.query(Static)
        if head != self.label:
            self.label = head
            parts[0].update(head)
        line = f"{_STATUS_MARKS.get(status, '·')} {status}\n{figures}"
        if (status, figures) != (self.status, self.figures):
            self.status, self.figures = status, figures
            parts[1].update(line)
        if steps != self.steps:
            self.steps = steps
            width = max(8, self.content_region.width or 30)
            parts[2].update("\n".join(_fit(text, width) for text in steps))
        if answer != self.answer:
            self.answer = answer
            parts[3].update(answer)


def _fit(text: str, width: int) -> str:
    text = " ".join(text.split()) if "\n" in text else text
    return text if len(text) <= width else text[: width - 1] + "…"
