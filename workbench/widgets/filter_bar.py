"""The log filter bar: ``perstack log``'s ``--filter`` and ``--step``, plus quick toggles.

The expression and the step range are parsed by :mod:`runtime.views.filtering` (the grammar of
``perstack log``) as you type. A valid change posts :class:`FilterBar.Changed`; an invalid
one is marked at its position, under the field, and the last valid filter stays applied,
so the timeline never goes blank while you type.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.reactive import reactive
from textual.widgets import Input, Label, Static

from runtime.views.filtering import FilterSyntaxError, parse_filter, parse_step_range

if TYPE_CHECKING:
    from textual import events

    from runtime.views.filtering import FilterExpr, StepRange

__all__ = ["FilterBar", "ToggleChip"]

_EXPRESSION_HINT = 'e.g. .toolCalls[].toolName == "readTextFile"'


class ToggleChip(Static, can_focus=False):
    """A word that is on or off; a click flips it."""

    DEFAULT_CSS = """
    ToggleChip {
        width: auto;
        padding: 0 1;
        color: $text-muted;
        &.-on { background: $primary; color: $text; text-style: bold; }
        &:hover { background: $boost; }
    }
    """

    value: reactive[bool] = reactive(False)

    class Toggled(Message):
        """The chip was clicked."""

        def __init__(self, chip: ToggleChip) -> None:
            super().__init__()
            self.chip = chip

    def watch_value(self, value: bool) -> None:
        self.set_class(value, "-on")

    def on_click(self, event: events.Click) -> None:
        event.stop()
        self.post_message(self.Toggled(self))


class FilterBar(Vertical):
    """Filter expression, step range, quick toggles and the match count."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "leave", "Back to timeline", show=False),
    ]

    DEFAULT_CSS = """
    FilterBar {
        height: auto;
        background: $panel;
        & > Horizontal { height: 1; }
        & Label { padding: 0 1; color: $text-muted; }
        & Input { width: 1fr; }
        & #filter-steps { width: 10; }
        & Input.-invalid { color: $error; text-style: underline; }
        & #filter-count { width: 15; content-align: right middle; }
        & #filter-problem { display: none; color: $error; height: 1; }
        &.-invalid #filter-problem { display: block; }
    }
    """

    class Changed(Message):
        """A valid filter was entered (or a toggle flipped)."""

        def __init__(
            self,
            expression: FilterExpr | None,
            steps: StepRange | None,
            errors: bool,
            tools: bool,
            delegations: bool,
        ) -> None:
            super().__init__()
            self.expression = expression
            self.steps = steps
            self.errors = errors
            self.tools = tools
            self.delegations = delegations

    class Invalid(Message):
        """The text of a field does not parse; the previous filter stays applied."""

        def __init__(self, field: str, error: FilterSyntaxError) -> None:
            super().__init__()
            self.field = field
            self.error = error

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.expression: FilterExpr | None = None
        self.steps: StepRange | None = None
        self.problem: FilterSyntaxError | None = None

    def compose(self) -> ComposeResult:
        with Horizontal():
            yield Label("Filter", id="filter-label")
            yield Input(placeholder=_EXPRESSION_HINT, compact=True, id="filter-expression")
            yield Label("Step", id="step-label")
            yield Input(placeholder="e.g. 3-7", compact=True, id="filter-steps")
            yield ToggleChip("errors", id="toggle-errors")
            yield ToggleChip("tools", id="toggle-tools")
            yield ToggleChip("delegations", id="toggle-delegations")
            yield Label("", id="filter-count")
        yield Static("", id="filter-problem", markup=False)

    # --- state ---------------------------------------------------------------------------

    def toggle(self, name: str) -> None:
        """Flip the ``errors``, ``tools`` or ``delegations`` toggle."""
        chip = self.query_one(f"#toggle-{name}", ToggleChip)
        chip.value = not chip.value
        self._post_changed()

    def toggled(self, name: str) -> bool:
        """Whether a toggle is on."""
        return self.query_one(f"#toggle-{name}", ToggleChip).value

    def set_count(self, shown: int, total: int) -> None:
        """Show how many rows pass the filter."""
        text = f"{total} rows" if shown == total else f"{shown} of {total}"
        self.query_one("#filter-count", Label).update(text, layout=False)  # fixed width

    def clear(self) -> None:
        """Empty both fields and turn the toggles off."""
        for chip in self.query(ToggleChip):
            chip.value = False
        self.query_one("#filter-expression", Input).value = ""
        self.query_one("#filter-steps", Input).value = ""

    # --- events --------------------------------------------------------------------------

    def on_toggle_chip_toggled(self, event: ToggleChip.Toggled) -> None:
        event.stop()
        event.chip.value = not event.chip.value
        self._post_changed()

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id not in ("filter-expression", "filter-steps"):
            return
        event.stop()
        field = "expression" if event.input.id == "filter-expression" else "steps"
        text = event.value
        try:
            if field == "expression":
                self.expression = parse_filter(text) if text.strip() else None
            else:
                self.steps = parse_step_range(text) if text.strip() else None
        except FilterSyntaxError as error:
            event.input.add_class("-invalid")
            self._show_problem(event.input, error)
            self.post_message(self.Invalid(field, error))
            return
        event.input.remove_class("-invalid")
        if not self.query("Input.-invalid"):
            self.problem = None
            self.remove_class("-invalid")
        self._post_changed()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id in ("filter-expression", "filter-steps"):
            event.stop()
            self.action_leave()

    def action_leave(self) -> None:
        """Give the keyboard back to the timeline."""
        self.app.set_focus(self.app.query_one("#timeline"))

    def _post_changed(self) -> None:
        self.post_message(
            self.Changed(
                self.expression,
                self.steps,
                self.toggled("errors"),
                self.toggled("tools"),
                self.toggled("delegations"),
            )
        )

    def _show_problem(self, field: Input, error: FilterSyntaxError) -> None:
        self.problem = error
        self.add_class("-invalid")
        column = max(0, field.content_region.x - self.content_region.x + error.position)
        self.query_one("#filter-problem", Static).update(
            problem_line(str(error), column, self.content_region.width)
        )


def problem_line(message: str, column: int, width: int) -> str:
    """A caret under ``column`` and the problem: after the caret if it fits, else before.

    The field is right above, so ``Invalid filter expression: <text> (<problem>)`` is
    shortened to ``<problem>``.
    """
    if " (" in message and message.endswith(")"):
        message = message[message.index(" (") + 2 : -1]
    if column + 2 + len(message) <= width or column < 20:
        return " " * column + "^ " + message
    room = column - 1
    if len(message) > room:
        message = "…" + message[len(message) - room + 1 :]
    return " " * (room - len(message)) + message + " ^"
