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
        """Draw these (only the parts that changed are repainted; before the column is
        composed, they are kept and drawn once it is)."""
        changed = [
            head != self.label,
            (status, figures) != (self.status, self.figures),
            steps != self.steps,
            answer != self.answer,
        ]
        self.label, self.status, self.figures = head, status, figures
        self.steps, self.answer = steps, answer
        self._paint(changed)

    def on_mount(self) -> None:
        self._paint([True] * 4)

    def _paint(self, changed: list[bool]) -> None:
        parts = self.query(Static)
        if len(parts) < 4:
            return  # not composed yet: on_mount paints
        if changed[0]:
            parts[0].update(self.label)
        if changed[1]:
            parts[1].update(f"{_STATUS_MARKS.get(self.status, '·')} {self.status}\n{self.figures}")
        if changed[2]:
            width = max(8, self.content_region.width or 30)
            parts[2].update("\n".join(_fit(text, width) for text in self.steps))
        if changed[3]:
            parts[3].update(self.answer)

    def on_resize(self) -> None:
        self._paint([False, False, True, False])


def _fit(text: str, width: int) -> str:
    text = " ".join(text.split()) if "\n" in text else text
    return text if len(text) <= width else text[: width - 1] + "…"
