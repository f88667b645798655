"""The stored-jobs dialog: every job kept for this project, newest first.

Choosing one puts it on screen as it was recorded (see
:meth:`~workbench.runs.RunControl.open_stored`); a query then continues it, the way
``perstack run --continue-job <id>`` does. The list is read in a thread: a project with
many long jobs takes a moment to list.
"""

from __future__ import annotations

import dataclasses
import time
from typing import TYPE_CHECKING, ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, OptionList
from textual.widgets.option_list import Option

from runtime.views.cost import format_cost
from workbench.formatting import fit, format_tokens

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from runtime.views.cost import Cost
    from workbench.stored_jobs import JobSummary

__all__ = ["JobsScreen", "job_line", "format_age"]

_STATUS = {
    "completed": "✓ completed",
    "running": "● unfinished",
    "stoppedByInteractiveTool": "? waiting",
    "stoppedByExceededMaxSteps": "■ step limit",
    "stoppedByError": "✗ error",
    "stoppedByMaxSteps": "■ step limit",
    "cancelled": "■ cancelled",
}


def format_age(started_ms: int, now_ms: int) -> str:
    """How long ago: ``just now``, ``12 min ago``, ``3 h ago``, ``2 d ago``, then the date."""
    seconds = max(0, now_ms - started_ms) // 1000
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{seconds // 60} min ago"
    if seconds < 86400:
        return f"{seconds // 3600} h ago"
    if seconds < 7 * 86400:
        return f"{seconds // 86400} d ago"
    return time.strftime("%Y-%m-%d", time.localtime(started_ms / 1000))


def job_line(job: JobSummary, now_ms: int, width: int = 100) -> str:
    """One job as a line of the list, at most ``width`` cells.

    Status, Expert, steps, tokens and their cost (blank until priced), age, id and query;
    below 90 cells the tokens, the cost and the id make room for the query.
    """
    status = _STATUS.get(job.status, f"· {job.status}")
    age = format_age(job.started_at, now_ms)
    cells = [f"{status:<12}", f"{fit(job.coordinator, 12):<12}", f"{job.steps:>4} steps"]
    if width >= 90:
        priced = job.cost if job.cost is not None and job.cost.generations else None
        cells.append(f"{format_tokens(job.tokens) or '0':>5} tok{format_cost(priced):>8}")
    cells.append(f"{age:>10}")
    if width >= 90:
        cells.append(job.job_id[:8])
    cells.append(" ".join(job.query.split()))
    return fit("  ".join(cells), width)


class JobsScreen(ModalScreen[str | None]):
    """Dismissed with the chosen job's id, or ``None``.

    Args:
        list_jobs: Reads the jobs to list (called in a thread; may raise
            ``PerstackError``, which the list then shows).
        now_ms: Now, in milliseconds (the ages are relative to it).
        current: The job on screen, highlighted first.
        where: Where the jobs are, as the dialog says it (``Kept in jobs/``).
        title: The dialog's title.
        price_jobs: Prices listed jobs (called in a thread after the list shows, yielding
            ``(job id, cost)`` as each is priced); ``None``: the list has no costs.
    """

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "close", "Close")]

    DEFAULT_CSS = """
    JobsScreen {
        align: center middle;
        & > #jobs {
            width: 110;
            max-width: 95%;
            height: auto;
            max-height: 90%;
            padding: 1 2;
            background: $surface;
            border: round $primary;
            border-title-color: $text;
        }
        & #jobs-where { color: $text-muted; }
        /* A stable gutter: the lines' width never depends on whether the list scrolls. */
        & #jobs-list { height: auto; max-height: 20; margin: 1 0 0 0; scrollbar-gutter: stable; }
        & #jobs-hint { color: $text-muted; margin-top: 1; }
    }
    """

    def __init__(
        self,
        list_jobs: Callable[[], list[JobSummary]],
        now_ms: int,
        current: str | None = None,
        *,
        where: str = "",
        title: str = "Stored jobs",
        price_jobs: Callable[[list[str]], Iterable[tuple[str, Cost]]] | None = None,
    ) -> None:
        super().__init__()
        self.list_jobs = list_jobs
        self.price_jobs = price_jobs
        self.where = where
        self.title = title
        self.now_ms = now_ms
        self.current = current
        #: The jobs listed, once read (``None`` while reading).
        self.jobs: list[JobSummary] | None = None
        #: How many of them have their cost shown.
        self.priced = 0

    def compose(self) -> ComposeResult:
        with Vertical(id="jobs") as frame:
            frame.border_title = self.title
            yield Label(self.where or "Kept in memory", id="jobs-where", markup=False)
            yield OptionList(Option("Reading the jobs…", disabled=True), id="jobs-list")
            yield Label(
                "Enter: show the job (a query then continues it) · Esc: close", id="jobs-hint"
            )

    def on_mount(self) -> None:
        self.query_one(OptionList).focus()
        self._read_jobs()

    @work(thread=True, exclusive=True, group="jobs")
    def _read_jobs(self) -> None:
        from runtime.errors import PerstackError

        try:
            jobs = self.list_jobs()
        except PerstackError as error:
            self.app.call_from_thread(self._failed, str(error))
            return
        self.app.call_from_thread(self._show, jobs)

    def _failed(self, problem: str) -> None:
        if self.is_attached:
            options = self.query_one(OptionList)
            options.clear_options()
            options.add_option(Option(f"Could not list the jobs: {problem}", disabled=True))

    def _show(self, jobs: list[JobSummary]) -> None:
        if not self.is_attached:  # closed while the jobs were being read
            return
        self.jobs = jobs
        options = self.query_one(OptionList)
        options.clear_options()
        if not jobs:
            options.add_option(
                Option("No stored job yet: every run keeps one here.", disabled=True)
            )
            return
        width = self._line_width()
        options.add_options(
            Option(job_line(job, self.now_ms, width), id=job.job_id) for job in jobs
        )
        ids = [job.job_id for job in jobs]
        options.highlighted = ids.index(self.current) if self.current in ids else 0
        if self.price_jobs is not None:
            self._price(ids)

    @work(thread=True, exclusive=True, group="job-costs")
    def _price(self, ids: list[str]) -> None:
        """Each job's cost, read from its events: listed first, priced after (a long job
        takes a moment to read)."""
        assert self.price_jobs is not None
        for job_id, cost in self.price_jobs(ids):
            if not self.is_attached:
                return
            self.app.call_from_thread(self._priced, job_id, cost)

    def _priced(self, job_id: str, cost: Cost) -> None:
        if not self.is_attached or self.jobs is None:
            return
        for index, job in enumerate(self.jobs):
            if job.job_id == job_id:
                self.jobs[index] = job = dataclasses.replace(job, cost=cost)
                options = self.query_one(OptionList)
                line = job_line(job, self.now_ms, self._line_width())
                options.replace_option_prompt(job_id, line)
                self.priced += 1

    def _line_width(self) -> int:
        return max(40, self.query_one(OptionList).scrollable_content_region.width - 1)

    def on_resize(self) -> None:
        """Lines fit the list's width: drawn again when it changes."""
        if not self.jobs:
            return
        options, width = self.query_one(OptionList), self._line_width()
        for job in self.jobs:
            options.replace_option_prompt(job.job_id, job_line(job, self.now_ms, width))

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(event.option.id)

    def action_close(self) -> None:
        """Close without choosing."""
        self.dismiss(None)
