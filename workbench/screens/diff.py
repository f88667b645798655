"""The diff view: two jobs side by side, their steps aligned (``perstack diff`` on screen).

Built on :func:`runtime.views.diff.diff_jobs`: each line is an aligned pair of steps (what
each side did, its tokens and time), runs of equal pairs folded into one line (Enter
unfolds or folds them), the first divergence marked ``▶`` and the view opening on it.
Above, each side's totals (status, steps, tool calls, tokens, wall time, lineage);
below, each side's final answer in full.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual import work
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Label, Static

from runtime.views.diff_text import describe_action, fold_label, pair_mark
from workbench.formatting import fit, format_duration, format_tokens

if TYPE_CHECKING:
    from textual.app import ComposeResult

    from runtime.views.diff import JobDiff
    from runtime.views.steps import JobStep, JobSteps
    from workbench.session import Session

__all__ = ["DiffScreen", "totals_text"]

_STYLES = {"=": "dim", "~": "yellow", "-": "red", "+": "green"}


def totals_text(side: str, steps: JobSteps) -> str:
    """One side's totals: id, status, steps, tool calls, tokens, time, lineage."""
    summary = steps.summary()
    tokens = summary["tokens"]
    lines = [
        f"{side}  {summary['jobId']}  {summary['coordinator'] or ''}",
        f"{summary['status']} · {summary['steps']} steps · {summary['toolCalls']} tool calls",
        f"{format_tokens(tokens['input']) or 0} in / {format_tokens(tokens['output']) or 0} out"
        f" · {format_duration(summary['durationMs'])}",
    ]
    forked = summary.get("forkedFrom")
    if forked:
        lines.append(f"forked from {forked.get('jobId')} at {forked.get('checkpointId')}")
    return "\n".join(lines)


class DiffScreen(Screen[None]):
    """Two jobs compared (each named as :func:`runtime.storage.sources.open_job` takes).

    Attributes:
        diff: The aligned jobs, once read (``None`` while reading).
        unfolded: First pair index of each folded run the user opened.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q", "close", "Close"),
        Binding("n", "difference(1)", "Next difference"),
        Binding("p", "difference(-1)", "Previous difference"),
    ]

    DEFAULT_CSS = """
    DiffScreen {
        background: $background;
        & #diff-title { background: $panel; width: 1fr; padding: 0 1; text-style: bold; }
        & #diff-totals { height: auto; }
        & .diff-side { width: 1fr; height: auto; padding: 0 1; background: $surface; margin: 0 0 1 0; }
        & #diff-pairs { height: 1fr; }
        & #diff-answers { height: 9; }
        & .diff-answer { width: 1fr; border-top: solid $primary 50%; padding: 0 1; border-title-color: $text; }
    }
    """

    def __init__(self, job_a: str, job_b: str, session: Session | None = None) -> None:
        super().__init__()
        self.job_a = job_a
        self.job_b = job_b
        self.session = session
        self.diff: JobDiff | None = None
        self.unfolded: set[int] = set()
        #: Each table line's pair indices (one, or a folded run).
        self.lines: list[range] = []

    def compose(self) -> ComposeResult:
        yield Label(f"Diff  A {self.job_a}  ·  B {self.job_b}", id="diff-title", markup=False)
        with Horizontal(id="diff-totals"):
            yield Static("Reading the jobs…", id="totals-a", classes="diff-side", markup=False)
            yield Static("", id="totals-b", classes="diff-side", markup=False)
        yield DataTable(id="diff-pairs", cursor_type="row", zebra_stripes=False)
        with Horizontal(id="diff-answers"):
            for side in ("a", "b"):
                with VerticalScroll(id=f"answer-{side}", classes="diff-answer") as box:
                    box.border_title = f"Final answer ({side.upper()})"
                    yield Static("", id=f"answer-text-{side}", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        self._read()

    @work(thread=True, exclusive=True, group="diff")
    def _read(self) -> None:
        from pathlib import Path

        from runtime.errors import PerstackError
        from runtime.storage.sources import open_job
        from runtime.views.diff import diff_jobs
        from runtime.views.steps import load_steps

        session = self.session
        cwd = session.cwd if session is not None else Path.cwd()
        root = session.storage_root() if session is not None else None
        try:
            sides = [
                load_steps(open_job(name, cwd=cwd, storage_root=root))
                for name in (self.job_a, self.job_b)
            ]
        except (PerstackError, OSError) as error:
            self.app.call_from_thread(self._failed, str(error))
            return
        self.app.call_from_thread(self._show, diff_jobs(*sides))

    def _failed(self, problem: str) -> None:
        if self.is_attached:
            self.query_one("#totals-a", Static).update(f"Cannot diff the jobs: {problem}")

    def _show(self, diff: JobDiff) -> None:
        if not self.is_attached:
            return
        self.diff = diff
        self.query_one("#totals-a", Static).update(totals_text("A", diff.a))
        self.query_one("#totals-b", Static).update(totals_text("B", diff.b))
        for side, steps in (("a", diff.a), ("b", diff.b)):
            answer = steps.final_answer
            self.query_one(f"#answer-text-{side}", Static).update(answer or "(none)")
        self._fill()
        self.query_one(DataTable).focus()
        getattr(self.app, "state_changed", lambda: None)()

    # --- the table ------------------------------------------------------------------------

    def _fill(self) -> None:
        from runtime.views.diff import fold_pairs

        diff = self.diff
        assert diff is not None
        table = self.query_one(DataTable)
        table.clear(columns=True)
        width = max(80, self.size.width)
        # Each of the 7 columns has a cell of padding either side; the scrollbar takes 1.
        side = max(20, (width - 2 - 2 * (5 + 6) - 7 * 2 - 2) // 2)
        table.add_column(" ", width=2, key="mark")
        for name in ("A", "B"):
            table.add_column(name, width=side, key=f"{name}-what")
            table.add_column("tok", width=5, key=f"{name}-tok")
            table.add_column("time", width=6, key=f"{name}-time")
        self.lines = []
        for span in fold_pairs(diff.pairs):
            if len(span) > 1 and span[0] not in self.unfolded:
                self.lines.append(span)
            else:
                self.lines.extend(range(i, i + 1) for i in span)
        for number, span in enumerate(self.lines):
            table.add_row(*self._cells(span, side), key=str(number))
        self._go_to_divergence()

    def _cells(self, span: range, side: int) -> list[Any]:
        diff = self.diff
        assert diff is not None
        pairs = diff.pairs
        if len(span) > 1:
            text = Text(f"… {fold_label(pairs, span)} · Enter unfolds", style="dim")
            return ["", text, "", "", "", "", ""]
        index = span[0]
        pair = pairs[index]
        mark = pair_mark(pair)
        style = _STYLES[mark]
        pointer = "▶" if index == diff.first_divergence else " "
        cells: list[Any] = [Text(f"{pointer}{mark}", style=f"bold {style}")]
        for step in (pair.a, pair.b):
            cells += _step_cells(step, pair.depth, side, style)
        return cells

    def _go_to_divergence(self) -> None:
        diff = self.diff
        if diff is None or diff.first_divergence is None:
            return
        line = self.line_of(diff.first_divergence)
        if line is not None:
            table = self.query_one(DataTable)
            table.move_cursor(row=line, animate=False, scroll=True)

    def line_of(self, pair_index: int) -> int | None:
        """The table line showing pair ``pair_index``."""
        return next((n for n, span in enumerate(self.lines) if pair_index in span), None)

    @property
    def cursor_pair(self) -> int | None:
        """The first pair of the line under the cursor."""
        row = self.query_one(DataTable).cursor_row
        return self.lines[row][0] if 0 <= row < len(self.lines) else None

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        span = self.lines[event.cursor_row]
        diff = self.diff
        if diff is None:
            return
        if len(span) > 1:
            self.unfolded.add(span[0])
        else:
            folded = next((s for s in self.unfolded if span[0] in _run_of(diff, s)), None)
            if folded is None:
                return
            self.unfolded.discard(folded)
        self._fill()
        line = self.line_of(span[0])
        if line is not None:
            self.query_one(DataTable).move_cursor(row=line, animate=False)

    def action_difference(self, direction: int) -> None:
        """Move to the next (``1``) or previous (``-1``) pair that differs."""
        diff = self.diff
        if diff is None:
            return
        table = self.query_one(DataTable)
        row = table.cursor_row + direction
        while 0 <= row < len(self.lines):
            span = self.lines[row]
            if len(span) == 1 and not diff.pairs[span[0]].same:
                table.move_cursor(row=row, animate=False)
                return
            row += direction

    def action_close(self) -> None:
        self.dismiss(None)


def _run_of(diff: JobDiff, start: int) -> range:
    end = start
    while end + 1 < len(diff.pairs) and diff.pairs[end + 1].same:
        end += 1
    return range(start, end + 1)


def _step_cells(step: JobStep | None, depth: int, width: int, style: str) -> list[Any]:
    if step is None:
        return ["", "", ""]
    head = f"{step.step_number:>4} {'  ' * depth}{step.actor}  "
    what = Text(fit(head + describe_action(step.action), width), style=style)
    tokens = format_tokens(step.input_tokens + step.output_tokens)
    return [what, tokens, format_duration(step.duration_ms)]
