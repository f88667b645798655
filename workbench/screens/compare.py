"""The compare view: one Expert and query on 2–4 models at once, one column each.

First the models are picked (typed as ``provider:model``, or Enter on one the configured
providers know), and optionally a stored job as the baseline; Ctrl+R runs them through
:class:`~workbench.compare_run.CompareRunner` (``perstack compare``'s runtime API). Each
column then updates live: status, step, tokens, cost, elapsed time, and a compact
timeline whose rows are aligned across the columns (a blank where a run took no step
there). At the end the final answers stand side by side, the fastest, the cheapest and
the one with the fewest steps marked; Enter opens the selected column's job in the main
view; Ctrl+E exports the comparison as Markdown and JSON beside its workspaces.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import Screen
from textual.suggester import SuggestFromList
from textual.widgets import Input, Label, OptionList

from runtime.errors import PerstackError
from runtime.views.comparison import best_runs
from runtime.views.comparison_live import align_live
from runtime.views.comparison_text import BEST_MARKS, step_line
from runtime.views.cost import format_usd
from runtime.views.diff_text import format_seconds, format_tokens
from workbench.widgets.compare_column import CompareColumn

if TYPE_CHECKING:
    from runtime.compare import CompareRequest
    from runtime.views.comparison import Comparison, RunFigures
    from runtime.views.comparison_live import LiveRun
    from workbench.compare_run import CompareRunner

__all__ = ["CompareScreen", "CompareSetup", "MAX_MODELS"]

#: The most models one comparison runs (columns; a baseline adds one).
MAX_MODELS = 4
#: How often the live columns are drawn: four times a second is enough to watch four
#: runs, and leaves the UI free for keys (each draw repaints every column's steps).
REFRESH_SECONDS = 0.25
_BEST_NAMES = {"fastest": "fastest", "cheapest": "cheapest", "fewestSteps": "fewest steps"}


@dataclass
class CompareSetup:
    """What the view needs from the app.

    Attributes:
        title: What is compared, as the view says it (``writer: "the query"``).
        choices: ``provider:model`` of the models the configured providers know.
        models: The models filled in at first.
        jobs: Stored job ids (suggested for the baseline).
        make_request: Builds the request from the models and the baseline (raises
            ``PerstackError`` with one line on bad input).
    """

    title: str
    choices: list[str]
    make_request: Callable[[list[str], str | None], CompareRequest]
    models: list[str] = field(default_factory=list)
    jobs: list[str] = field(default_factory=list)


class CompareScreen(Screen[None]):
    """The compare view (see the module docstring).

    Attributes:
        phase: ``setup`` (picking models), ``running`` or ``done``.
        comparison: The finished comparison.
        runner: The comparison running (or last run).
        selected: The selected column.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+r", "run", "Run", priority=True),
        Binding("ctrl+t", "stop", "Stop", priority=True),
        Binding("ctrl+e", "export", "Export", priority=True),
        Binding("ctrl+n", "setup", "Models", priority=True),
        Binding("escape", "close", "Back"),
        Binding("left", "select(-1)", "Column", show=False),
        Binding("right", "select(1)", "Column", show=False),
        Binding("up", "scroll_rows(-1)", show=False),
        Binding("down", "scroll_rows(1)", show=False),
        Binding("pageup", "scroll_rows(-10)", show=False),
        Binding("pagedown", "scroll_rows(10)", show=False),
        Binding("enter", "open", "Open the job", show=False),
    ]

    DEFAULT_CSS = """
    CompareScreen {
        background: $background;
        & #compare-title { text-style: bold; color: $text; padding: 0 1; }
        & #compare-setup { height: 1fr; padding: 0 1; }
        & #compare-models { height: auto; }
        & #compare-models > Input { width: 1fr; }
        & #known-title { color: $text-muted; margin-top: 1; }
        & #known-models { height: 1fr; }
        & #compare-columns { height: 1fr; display: none; }
        &.-columns #compare-columns { display: block; }
        &.-columns #compare-setup { display: none; }
        & #compare-hint { color: $text-muted; padding: 0 1; }
    }
    """

    class Finished(Message):
        """The comparison ended (``comparison``), or could not (``error``)."""

        def __init__(self, comparison: Comparison | None, error: str | None) -> None:
            super().__init__()
            self.comparison = comparison
            self.error = error

    class OpenJob(Message):
        """Open a column's job in the main view: ``name`` is a job id or where it is."""

        def __init__(self, name: str) -> None:
            super().__init__()
            self.name = name

    class Exported(Message):
        """The comparison was written to these files."""

        def __init__(self, paths: list[Path]) -> None:
            super().__init__()
            self.paths = paths

    def __init__(
        self,
        setup: CompareSetup,
        start: Callable[[CompareRequest], CompareRunner],
        open_job: Callable[[str], None] | None = None,
    ) -> None:
        super().__init__()
        self.setup = setup
        self.start = start
        self.open_job = open_job
        self.phase = "setup"
        self.comparison: Comparison | None = None
        self.runner: CompareRunner | None = None
        self.selected = 0
        self.columns: list[CompareColumn] = []
        self._offset: int | None = None  # first aligned row shown; None: follow the end
        self._rows: list[tuple[int | None, ...]] = []
        self._counted = -1
        self._timer: Any = None

    def compose(self) -> ComposeResult:
        yield Label(self.setup.title, id="compare-title", markup=False)
        with Vertical(id="compare-setup"):
            suggest = SuggestFromList(self.setup.choices, case_sensitive=False)
            with Horizontal(id="compare-models"):
                for slot in range(MAX_MODELS):
                    value = self.setup.models[slot] if slot < len(self.setup.models) else ""
                    yield Input(value, placeholder="provider:model", id=f"model-{slot + 1}",
                                suggester=suggest)  # fmt: skip
            yield Input(
                placeholder="Baseline (optional): a stored job id, a job folder or a .jsonl",
                id="baseline",
                suggester=SuggestFromList(self.setup.jobs),
            )
            yield Label("Known models (Enter: into the next free slot)", id="known-title")
            yield OptionList(*self.setup.choices, id="known-models")
        yield Horizontal(id="compare-columns")
        yield Label(_SETUP_HINT, id="compare-hint")

    def on_mount(self) -> None:
        self.query_one("#model-1", Input).focus()

    # --- setup ----------------------------------------------------------------------------

    def models(self) -> list[str]:
        """The models typed or picked, in slot order (empty slots left out)."""
        inputs = [self.query_one(f"#model-{slot}", Input) for slot in range(1, MAX_MODELS + 1)]
        return [text for box in inputs if (text := box.value.strip())]

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        """A known model goes into the first free slot."""
        event.stop()
        for slot in range(1, MAX_MODELS + 1):
            box = self.query_one(f"#model-{slot}", Input)
            if not box.value.strip():
                box.value = str(event.option.prompt)
                return
        self.notify(f"At most {MAX_MODELS} models: empty a slot first.", severity="warning")

    def action_run(self) -> None:
        """Run the models entered (or, after a comparison, the same ones again)."""
        if self.runner is not None and self.runner.running:
            self.notify("A comparison is running; Ctrl+T stops it.", severity="warning")
            return
        models = self.models()
        baseline = self.query_one("#baseline", Input).value.strip() or None
        if len(models) + (baseline is not None) < 2 or len(models) > MAX_MODELS:
            self.notify(
                f"Pick 2–{MAX_MODELS} models (or one and a baseline job).", severity="warning"
            )
            return
        try:
            request = self.setup.make_request(models, baseline)
        except PerstackError as error:
            self.notify(str(error), severity="error")
            return
        self.runner = self.start(request)
        self.begin([run.label for run in self.runner.runs])
        self.runner.start()
        if self._timer is None:
            self._timer = self.set_interval(REFRESH_SECONDS, self._tick, name="compare-refresh")

    def begin(self, labels: Sequence[str]) -> None:
        """Show one column per run (the view's live phase)."""
        self.phase, self.comparison, self.selected = "running", None, 0
        self._offset, self._rows, self._counted = None, [], -1
        holder = self.query_one("#compare-columns")
        holder.remove_children()
        self.columns = [CompareColumn(label) for label in labels]
        holder.mount_all(self.columns)
        self.columns[0].selected = True
        self.add_class("-columns")
        self.query_one("#compare-hint", Label).update(_RUNNING_HINT)

    def action_setup(self) -> None:
        """Back to picking models (a running comparison goes on)."""
        if self.phase == "running":
            self.notify("A comparison is running; Ctrl+T stops it.", severity="warning")
            return
        self.phase = "setup"
        self.remove_class("-columns")
        self.query_one("#compare-hint", Label).update(_SETUP_HINT)
        self.query_one("#model-1", Input).focus()

    # --- live -----------------------------------------------------------------------------

    def _tick(self) -> None:
        runner = self.runner
        if runner is None or self.phase != "running":
            return
        snapshot = runner.read(_snapshot)
        self.draw_live(*snapshot)

    def draw_live(self, live: Sequence[LiveRun], runs: Sequence[RunFigures]) -> None:
        """Draw the columns from the runs' live state (called a few times a second)."""
        counted = sum(run.steps for run in live)
        if counted != self._counted:
            self._counted = counted
            self._rows = align_live(live)
        window = self._window(len(self._rows))
        for index, column in enumerate(self.columns):
            run, figures = live[index], runs[index]
            lines = [
                "" if row[index] is None else run.lines[row[index]]  # type: ignore[index]
                for row in self._rows[window]
            ]
            status = figures.status if figures.status not in ("running", "pending") else run.status
            if figures.baseline:
                status = figures.status
            column.show(
                head=figures.label + "\n",
                status=status,
                figures=_done_figures(figures) if figures.baseline else run.summary(),
                steps=lines,
                answer=figures.final_answer or run.final_answer or "",
            )

    def _steps_height(self) -> int:
        """How many step rows a column shows (12 until the columns are laid out)."""
        found = self.columns[0].query(".column-steps") if self.columns else None
        return max(1, (found.first().size.height if found else 0) or 12)

    def _window(self, total: int) -> slice:
        height = self._steps_height()
        if self._offset is None:
            return slice(max(0, total - height), total)
        self._offset = max(0, min(self._offset, max(0, total - height)))
        return slice(self._offset, self._offset + height)

    # --- done -----------------------------------------------------------------------------

    def finish(self, result: Comparison | str) -> None:
        """The comparison ended: the stored jobs' alignment, final answers, best marks."""
        if isinstance(result, str):
            self.phase = "done"
            self.notify(result, severity="error")
            self.post_message(self.Finished(None, result))
            return
        self.phase, self.comparison = "done", result
        self.draw_result(result)
        self.query_one("#compare-hint", Label).update(_DONE_HINT)
        self.post_message(self.Finished(result, None))

    def draw_result(self, comparison: Comparison) -> None:
        """Draw a finished comparison."""
        marks: list[list[str]] = [[] for _ in comparison.runs]
        for name, indexes in best_runs(comparison.runs).items():
            for index in indexes:
                marks[index].append(f"{BEST_MARKS[name]} {_BEST_NAMES[name]}")
        rows = comparison.alignment
        window = self._window(len(rows))
        for index, column in enumerate(self.columns):
            run = comparison.runs[index]
            position = comparison.aligned.index(index) if index in comparison.aligned else None
            lines = [
                "" if position is None else step_line(row.steps[position], row.depth)
                for row in rows[window]
            ]
            head = run.label + "\n" + "  ".join(marks[index])
            column.show(
                head=head,
                status=run.status,
                figures=_done_figures(run),
                steps=lines,
                answer=run.final_answer or (f"({run.error})" if run.error else "(no answer)"),
            )

    def on_resize(self) -> None:
        if self.columns:
            self.call_after_refresh(self._redraw)

    def _redraw(self) -> None:
        if self.comparison is not None:
            self.draw_result(self.comparison)
        else:
            self._tick()

    # --- keys -----------------------------------------------------------------------------

    def action_select(self, delta: int) -> None:
        """Select the column left or right."""
        if not self.columns:
            return
        self.columns[self.selected].selected = False
        self.selected = (self.selected + delta) % len(self.columns)
        self.columns[self.selected].selected = True

    def action_scroll_rows(self, delta: int) -> None:
        """Scroll every column's steps together (the end follows new steps)."""
        if not self.columns:
            return
        total = len(self.comparison.alignment) if self.comparison else len(self._rows)
        height = self._steps_height()
        start = self._offset if self._offset is not None else max(0, total - height)
        start += delta
        self._offset = None if start >= total - height else max(0, start)
        self._redraw()

    def action_open(self) -> None:
        """Open the selected column's job in the main view."""
        if self.phase != "done" or self.comparison is None:
            self.notify("Open a job once the comparison has ended.", severity="warning")
            return
        run = self.comparison.runs[self.selected]
        if run.job_id is None:
            self.notify(f"{run.label} has no job: {run.error}", severity="warning")
            return
        name = run.workspace if run.baseline and run.workspace else run.job_id
        if run.baseline and self.runner is not None and self.runner.request.baseline:
            source = self.runner.request.baseline
            name = source.job_id if source.kind == "stored" else source.location
        self.post_message(self.OpenJob(name or run.job_id))
        if self.open_job is not None:
            self.open_job(name or run.job_id)

    def action_stop(self) -> None:
        """Stop every run still going."""
        if self.runner is not None and self.runner.running:
            self.runner.stop()

    def action_export(self) -> None:
        """Write the comparison as Markdown and JSON beside its workspaces."""
        if self.comparison is None or self.runner is None:
            self.notify("Export once the comparison has ended.", severity="warning")
            return
        import orjson

        from runtime.storage.atomic import write_replace
        from runtime.views.comparison_text import comparison_markdown

        folder = self.runner.request.folder
        folder.mkdir(parents=True, exist_ok=True)
        data = orjson.dumps(self.comparison.to_json(), option=orjson.OPT_INDENT_2)
        write_replace(str(folder), "comparison.json", data + b"\n")
        write_replace(str(folder), "comparison.md", comparison_markdown(self.comparison).encode())
        paths = [folder / "comparison.md", folder / "comparison.json"]
        self.notify(f"Exported to {paths[0]} and {paths[1].name}")
        self.post_message(self.Exported(paths))

    def action_close(self) -> None:
        """Back to the main view (a running comparison goes on)."""
        self.app.pop_screen()


def _snapshot(live: list[LiveRun], runs: list[RunFigures]) -> tuple[list[Any], list[Any]]:
    """Copies of the columns' state, taken under the runner's lock."""
    import copy

    return [copy.copy(run) for run in live], [copy.copy(figures) for figures in runs]


def _done_figures(run: RunFigures) -> str:
    tokens = f"{format_tokens(run.tokens['input'])}/{format_tokens(run.tokens['output'])}"
    cost = format_usd(run.cost_usd)
    return f"{run.steps} steps · {tokens} tok · {cost} · {format_seconds(run.duration_ms)}"


_SETUP_HINT = (
    "Type provider:model or Enter on a known model · Ctrl+R: run · Esc: back"
)
_RUNNING_HINT = "← →: column · ↑ ↓: steps · Ctrl+T: stop · Esc: back (it goes on)"
_DONE_HINT = (
    "← →: column · ↑ ↓: steps · Enter: open the job · Ctrl+E: export · "
    "Ctrl+R: run again · Ctrl+N: other models · Esc: back"
)
