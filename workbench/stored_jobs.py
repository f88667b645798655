"""Jobs kept in storage, for the workbench: the list to pick from, and one job to show.

No Textual here: the app calls these from a thread worker (reading a long job's events
takes a while) and puts the result on screen.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from runtime.errors import PerstackError
from runtime.storage import select_checkpoint
from runtime.views.cost import Cost, PriceBook, RunModel, run_models, stored_cost

if TYPE_CHECKING:
    from collections.abc import Callable

    from runtime.events import BaseEvent
    from runtime.model import Checkpoint, Job
    from runtime.storage.base import Storage

#: Events read and shown first when a long stored job is opened (a screenful of rows).
_FIRST_ROWS = 200

__all__ = [
    "JobSummary",
    "StoredJob",
    "list_stored_jobs",
    "load_named_job",
    "load_stored_job",
    "price_jobs",
]


@dataclass(frozen=True)
class JobSummary:
    """One line of the job list.

    Attributes:
        job_id: The job.
        coordinator: The Expert that started it.
        status: The job's status (``completed``, ``running`` …).
        steps: Steps so far.
        tokens: Tokens used (the usage's total, as the timeline counts them).
        started_at: When it started, in milliseconds.
        query: The query that started it ("" when no run setting says).
        cost: What its generations cost (``None`` until priced, see :func:`price_jobs`).
        forked_from: The job it was forked from (``perstack fork``), or ``None``.
        location: Where it was read from when it is not in the project's storage (a
            job folder elsewhere, a ``.jsonl`` capture), or ``None``.
    """

    job_id: str
    coordinator: str
    status: str
    steps: int
    tokens: int
    started_at: int
    query: str
    cost: Cost | None = None
    forked_from: str | None = None
    location: str | None = None

    @property
    def name(self) -> str:
        """How :func:`runtime.storage.sources.open_job` finds it: its place, or its id."""
        return self.location or self.job_id


@dataclass(frozen=True)
class StoredJob:
    """A job as far as one of its checkpoints, ready to show and to continue.

    Attributes:
        job_id: The job.
        coordinator: The Expert that started it.
        checkpoint: Where a follow-up continues (the latest, or ``--resume-from``'s).
        events: The job's stored events up to that checkpoint's step, without histories.
        runs: The provider and model of each run, from the run settings (for costs).
    """

    job_id: str
    coordinator: str
    checkpoint: Checkpoint
    events: list[BaseEvent]
    runs: dict[str, RunModel] = field(default_factory=dict)
    #: Where the job was read from when it is not in the project's storage (a job
    #: folder elsewhere, a capture); ``None`` for the project's own jobs.
    foreign: str | None = None


def list_stored_jobs(
    storage: Storage, limit: int = 200, *, also: str | None = None, cwd: Path | None = None
) -> list[JobSummary]:
    """The newest ``limit`` jobs of ``storage``, newest first; with ``also``, first the
    job read from there (a folder elsewhere, a capture: the job on screen)."""
    summaries = [] if also is None else _named_summary(also, cwd or Path.cwd(), storage)
    summaries += [_summary(storage, job) for job in storage.list_jobs()[:limit]]
    return summaries


def _named_summary(name: str, cwd: Path, storage: Storage) -> list[JobSummary]:
    """The list's line of a job read from ``name`` (``[]`` when it cannot be read)."""
    from runtime.model import Job
    from runtime.storage.sources import open_job

    try:
        source = open_job(name, cwd=cwd, storage_root=getattr(storage, "root", None))
        job = Job.model_validate(source.job_data())
    except (PerstackError, ValueError):
        return []
    return [_summary(source.storage, job, source.location)]


def _summary(storage: Storage, job: Job, location: str | None = None) -> JobSummary:
    return JobSummary(
        job_id=job.id,
        coordinator=job.coordinator_expert_key,
        status=str(job.status),
        steps=job.total_steps,
        tokens=job.usage.total_tokens,
        started_at=job.started_at,
        query=_first_query(storage, job.id, job.coordinator_expert_key),
        forked_from=job.forked_from.job_id if job.forked_from else None,
        location=location,
    )


def price_jobs(
    storage: Storage, job_ids: Iterable[str], prices: PriceBook | None = None
) -> Iterator[tuple[str, Cost]]:
    """``(job id, cost)`` of each job, in order, priced from its stored events."""
    for job_id in job_ids:
        yield job_id, stored_cost(storage, job_id, prices=prices).cost


def load_stored_job(
    storage: Storage,
    *,
    continue_latest: bool = False,
    continue_job: str | None = None,
    resume_from: str | None = None,
    first_rows: Callable[[list[BaseEvent]], None] | None = None,
) -> StoredJob:
    """The job that ``--continue`` / ``--continue-job`` / ``--resume-from`` point at.

    With ``first_rows``, a job named by id (``continue_job``, to its latest checkpoint)
    hands its first events to ``first_rows`` as soon as they are read, before the rest
    and its checkpoint (a viewer shows them meanwhile: a 10,000-event job takes a second
    or two to read whole).

    Raises:
        PerstackError: The options point at nothing (the messages of ``perstack run``).
    """
    from runtime._gcpause import paused_gc
    from runtime.storage.sources import JobSource

    early = first_rows is not None and continue_job is not None and resume_from is None
    if early and storage.retrieve_job(continue_job) is not None:  # type: ignore[arg-type]
        head = JobSource(storage, continue_job, "stored", continue_job, continue_job)  # type: ignore[arg-type]
        refs = storage.list_event_files(continue_job)  # type: ignore[arg-type]
        with paused_gc():
            first = [event for _, event in head.iter_events(refs[:_FIRST_ROWS])]
        first_rows(first)  # type: ignore[misc]
    checkpoint = select_checkpoint(
        storage, continue_latest=continue_latest, continue_job=continue_job, resume_from=resume_from
    )
    if checkpoint is None:
        raise PerstackError("No checkpoint found")
    job_id = checkpoint.job_id
    job = storage.retrieve_job(job_id)
    coordinator = job.coordinator_expert_key if job is not None else checkpoint.expert.key
    # Slim from the files (no history rebuilt: a whole one per step would make a long
    # job's load quadratic, minutes and gigabytes for 2,000 steps).
    source = JobSource(storage, job_id, "stored", job_id, job_id)
    refs = storage.list_event_files(job_id, max_step=checkpoint.step_number)
    with paused_gc():
        events: list[BaseEvent] = [event for _, event in source.iter_events(refs)]
    runs = run_models(storage.list_runs(job_id))
    return StoredJob(job_id, coordinator, checkpoint, events, runs)


def load_named_job(name: str, cwd: Path, storage_root: Path | str) -> StoredJob:
    """The job ``perstack start --open <name>`` names: a job id of the project's storage,
    a job folder or a ``.jsonl`` capture (see :mod:`runtime.storage.sources`).

    Raises:
        PerstackError: nothing by that name, or nothing in it to show.
    """
    from runtime.storage.sources import open_job

    source = open_job(name, cwd=cwd, storage_root=storage_root)
    job = load_stored_job(source.storage, continue_job=source.job_id)
    in_project = source.kind == "stored" or (
        source.kind == "folder"
        and isinstance(storage_root, Path)
        and Path(source.location).parent == storage_root / "jobs"
    )
    return job if in_project else replace(job, foreign=source.location)


def _first_query(storage: Storage, job_id: str, coordinator: str) -> str:
    """The query of the job's first coordinator run (run settings list newest first)."""
    for setting in reversed(storage.list_runs(job_id)):
        text = (setting.get("input") or {}).get("text")
        if setting.get("expertKey") == coordinator and isinstance(text, str):
            return text
    return ""
