"""The stored-jobs dialog: every job kept for this project, newest first.

Choosing one puts it on screen as it was recorded (see
:meth:`~workbench.runs.RunControl.open_stored`); a query then continues it, the way
``perstack run --continue-job <id>`` does. The list is read in a thread: a project with
many long jobs takes a moment to list.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
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

__all__ = ["JobChoice", "JobsScreen", "job_line", "format_age"]

_HINT = "Enter: show the job (a query then continues it) · Esc: close"
_HINT_MARKED = "◆ marked · Enter on another job: diff the two · m: unmark · r: replay · Esc: close"
_MARKED = "◆ "

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

    Status, Expert, steps, tokens and their cost (blank until priced), age, id, the job
    it was forked from (``fork of k3f…``) and the query (or, for a job read from elsewhere, its
    path); below 90 cells the tokens, the cost and the id make room for the query.
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
    if job.forked_from:
        cells.append(f"fork of {job.forked_from[:8]}")
    cells.append(job.location or " ".join(job.query.split()))
    return fit("  ".join(cells), width)


@dataclass(frozen=True)
class JobChoice:
    """What was chosen in the list.

    Attributes:
        name: The job (its id, or where it was read from).
        action: ``open`` (show it), ``replay`` (show it in replay) or ``diff`` (compare
            ``other`` with it).
        other: The job marked first, for ``diff``.
        location: ``name`` is a place (a folder, a capture), not an id of the storage.
    """

    name: str
    action: str = "open"
    other: str | None = None
    location: bool = False


class JobsScreen(ModalScreen["JobChoice | None"]):
    """Dismissed with the choice (:class:`JobChoice`), or ``None``.

    ``m`` marks the highlighted job; choosing another then diffs the two. ``r`` opens the
    highlighted job in replay.

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

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close"),
        Binding("m", "mark", "Mark for a diff", show=False),
        Binding("r", "replay", "Replay", show=False),
    ]

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
        #: The job marked for a diff (``m``), by name.
        self.marked: str | None = None
        self._width = 100

    def compose(self) -> ComposeResult:
        with Vertical(id="jobs") as frame:
            frame.border_title = self.title
            yield Label(self.where or "Kept in memory", id="jobs-where", markup=False)
            yield OptionList(Option("Reading the jobs…", disabled=True), id="jobs-list")
            yield Label(_HINT, id="jobs-hint")

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
        width = self._width = max(40, options.scrollable_content_region.width - 1)
        options.add_options(Option(self._line(job, width), id=job.name) for job in jobs)
        ids = [job.job_id for job in jobs]
        options.highlighted = ids.index(self.current) if self.current in ids else 0
        if self.price_jobs is not None:
            self._price([job.job_id for job in jobs if job.location is None])

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
            if job.job_id == job_id and job.location is None:
                self.jobs[index] = job = dataclasses.replace(job, cost=cost)
                # The width the list was drawn at: measured now, it may be short of a
                # scrollbar the list shows for a moment while its height settles.
                options = self.query_one(OptionList)
                options.replace_option_prompt(job.name, self._line(job, self._width))
                self.priced += 1

    def on_resize(self) -> None:
        """The terminal changed size: fit the lines to the list's new width, once the
        list has been laid out at it."""
        self.call_after_refresh(self._fit_lines)

    def _fit_lines(self) -> None:
        if not self.is_attached or not self.jobs:
            return
        options = self.query_one(OptionList)
        width = max(40, options.scrollable_content_region.width - 1)
        if width == self._width:
            return
        self._width = width
        for job in self.jobs:
            options.replace_option_prompt(job.name, self._line(job, width))

    def _line(self, job: JobSummary, width: int) -> str:
        if job.name == self.marked:
            return _MARKED + job_line(job, self.now_ms, width - len(_MARKED))
        return job_line(job, self.now_ms, width)

    def _job(self, name: str | None) -> JobSummary | None:
        return next((job for job in self.jobs or [] if job.name == name), None)

    def _highlighted(self) -> JobSummary | None:
        options = self.query_one(OptionList)
        if options.highlighted is None or not self.jobs:
            return None
        return self._job(options.get_option_at_index(options.highlighted).id)

    def _relabel(self, job: JobSummary | None) -> None:
        if job is not None:
            options = self.query_one(OptionList)
            options.replace_option_prompt(job.name, self._line(job, self._width))

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        job = self._job(event.option.id)
        if job is None:
            return
        if self.marked is not None and self.marked != job.name:
            self.dismiss(JobChoice(job.name, "diff", other=self.marked))
        else:
            self.dismiss(JobChoice(job.name, location=job.location is not None))

    def action_mark(self) -> None:
        """Mark the highlighted job (again: unmark); choosing another diffs the two."""
        job = self._highlighted()
        if job is None:
            return
        previous = self._job(self.marked)
        self.marked = None if self.marked == job.name else job.name
        self._relabel(previous)
        self._relabel(job)
        self.query_one("#jobs-hint", Label).update(_HINT if self.marked is None else _HINT_MARKED)

    def action_replay(self) -> None:
        """Show the highlighted job in replay."""
        job = self._highlighted()
        if job is not None:
            self.dismiss(JobChoice(job.name, "replay", location=job.location is not None))

    def action_close(self) -> None:
        """Close without choosing."""
        self.dismiss(None)
