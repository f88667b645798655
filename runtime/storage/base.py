"""The storage interface shared by the file and in-memory stores (spec §12, D2, D14).

A store keeps four things per job: the job record, its checkpoints, its run settings (one
per run segment, already redacted by the caller) and its run events. The primitives each
store implements are listed as abstract methods; everything built on them (upstream job
reconstruction, checkpoint and event listing with validation, warnings) lives here once.

Listing is split in two so big jobs stay cheap: ``list_event_files`` / ``list_checkpoint_files``
return small references parsed from file names (or a file's first bytes), and only the
references a caller keeps are read in full.
"""

from __future__ import annotations

import sys
from abc import abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple, Protocol

import orjson
from pydantic import ValidationError

from runtime.events import RunEvent, parse_event
from runtime.model import Checkpoint, Job

__all__ = [
    "CheckpointFileRef",
    "EventFileRef",
    "RawJson",
    "Storage",
    "WarningHandler",
    "default_storage_root",
    "event_type_rank",
    "print_warning",
]

WarningHandler = Callable[[str], None]


def print_warning(message: str) -> None:
    """The default warning handler: one line on stderr."""
    print(message, file=sys.stderr, flush=True)


def default_storage_root(cwd: Path, env: Mapping[str, str]) -> Path:
    """Where jobs live: ``PERSTACK_STORAGE_PATH`` (relative to ``cwd``) or ``<cwd>/perstack``.

    Args:
        cwd: The working directory of the command.
        env: The process environment.
    """
    configured = env.get("PERSTACK_STORAGE_PATH", "")
    if configured:
        return cwd / Path(configured).expanduser()
    return cwd / "perstack"


# Where each event type happens within one step (spec §5). Only used to order events that
# share a millisecond, which our runtime never writes (it gives every event of a job a
# strictly increasing timestamp) but upstream's files can contain.
_TYPE_PHASE = {
    "startRun": 0,
    "resumeToolCalls": 1,
    "finishAllToolCalls": 1,
    "startGeneration": 2,
    "startStreamingReasoning": 3,
    "streamReasoning": 4,
    "completeStreamingReasoning": 5,
    "callTools": 6,
    "retry": 6,
    "callInteractiveTool": 7,
    "callDelegate": 7,
    "resolveToolResults": 7,
    "attemptCompletion": 7,
    "finishToolCall": 8,
    "startStreamingRunResult": 9,
    "streamRunResult": 10,
    "completeStreamingRunResult": 11,
    "continueToNextStep": 12,
    "stopRunByInteractiveTool": 12,
    "stopRunByDelegate": 12,
    "stopRunByExceededMaxSteps": 12,
    "stopRunByError": 12,
    "completeRun": 12,
}


def event_type_rank(event_type: str) -> int:
    """The position of ``event_type`` within a step, for ordering same-millisecond events."""
    return _TYPE_PHASE.get(event_type, 6)


@dataclass(frozen=True, slots=True)
class EventFileRef:
    """One stored event, known from its file name without reading it.

    Attributes:
        job_id: The job the event belongs to.
        run_id: The run directory it was found in.
        timestamp: The timestamp in the file name. Equal to the event's own ``timestamp``
            unless ``store_event`` had to bump it to avoid overwriting an existing file.
        step: The step number in the file name.
        type: The event type in the file name.
        name: The file name (``event-<timestamp>-<step>-<type>.json``).
        directory: The run directory, or ``None`` for an in-memory event.
        seq: Write order within the store (in-memory events only; 0 for files).
    """

    job_id: str
    run_id: str
    timestamp: int
    step: int
    type: str
    name: str
    directory: str | None = None
    seq: int = 0

    @property
    def path(self) -> Path | None:
        """The file's path, or ``None`` when the event is kept in memory."""
        return None if self.directory is None else Path(self.directory, self.name)


@dataclass(frozen=True, slots=True)
class CheckpointFileRef:
    """One stored checkpoint, known from its name and first bytes.

    Attributes:
        job_id: The job it belongs to.
        checkpoint_id: Its id (the file name without ``.json``).
        step: Its ``stepNumber``.
        written_ns: When it was written (file modification time in ns, or write order in
            memory); orders checkpoints of the same step.
        directory: The checkpoints directory, or ``None`` when kept in memory.
    """

    job_id: str
    checkpoint_id: str
    step: int
    written_ns: int
    directory: str | None = field(default=None, compare=False)

    @property
    def path(self) -> Path | None:
        """The file's path, or ``None`` when the checkpoint is kept in memory."""
        if self.directory is None:
            return None
        return Path(self.directory, f"{self.checkpoint_id}.json")


class RawJson(NamedTuple):
    """A stored JSON document: its parsed value and the exact bytes it was read from."""

    data: dict[str, Any]
    raw: bytes


def _first_error(error: ValidationError) -> str:
    first = error.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or "(root)"
    return f"{where}: {first['msg']}"


class Storage(Protocol):
    """Jobs, run settings, checkpoints and events of every job under one root.

    ``FileStorage`` keeps them in upstream's directory layout, ``MemoryStorage`` in memory.
    Readers never raise on bad data: a corrupt or truncated file is skipped and reported
    once through the store's ``on_warning`` handler.
    """

    _on_warning: WarningHandler
    _warned: set[str]

    # --- primitives each store implements -------------------------------------------

    @abstractmethod
    def store_job(self, job: Job) -> None:
        """Create or replace the job record."""

    @abstractmethod
    def store_checkpoint(self, checkpoint: Checkpoint) -> None:
        """Create or replace a checkpoint (keyed by job id and checkpoint id)."""

    @abstractmethod
    def store_event(self, event: RunEvent, data: bytes | None = None) -> None:
        """Add one run event; never replaces another event.

        Args:
            event: The event. Runtime events (no step, no expert) are not stored: passing
                one does nothing.
            data: ``event.to_json()`` when the caller already has it, to avoid serialising
                the event twice.
        """

    @abstractmethod
    def store_run_setting(self, job_id: str, run_id: str, setting: dict[str, Any]) -> None:
        """Store a run segment's (redacted) setting; storing it again only bumps ``updatedAt``."""

    @abstractmethod
    def retrieve_run_setting(self, job_id: str, run_id: str) -> dict[str, Any] | None:
        """The run's setting, or ``None``."""

    @abstractmethod
    def list_runs(self, job_id: str) -> list[dict[str, Any]]:
        """The job's run settings, newest ``updatedAt`` first."""

    @abstractmethod
    def latest_run(self) -> tuple[str, str] | None:
        """``(jobId, runId)`` of the run setting with the newest ``updatedAt`` of all jobs."""

    @abstractmethod
    def list_job_ids(self) -> list[str]:
        """Every job id with anything stored."""

    @abstractmethod
    def read_job_record(self, job_id: str) -> Job | None:
        """The stored job record only (no reconstruction), or ``None``."""

    @abstractmethod
    def job_created_at(self, job_id: str) -> int:
        """When the job's storage was created (ms): ``startedAt`` of a reconstructed job."""

    @abstractmethod
    def list_checkpoint_files(self, job_id: str) -> list[CheckpointFileRef]:
        """The job's checkpoints, ``stepNumber`` ascending, then in write order."""

    @abstractmethod
    def checkpoint_file(self, job_id: str, checkpoint_id: str) -> CheckpointFileRef | None:
        """The reference of one checkpoint, or ``None`` when it is not stored."""

    @abstractmethod
    def read_checkpoint_raw(self, ref: CheckpointFileRef) -> RawJson | None:
        """A checkpoint's JSON, or ``None`` (with a warning) when it is not valid JSON."""

    @abstractmethod
    def list_event_files(
        self,
        job_id: str,
        run_id: str | None = None,
        max_step: int | None = None,
        types: set[str] | frozenset[str] | None = None,
    ) -> list[EventFileRef]:
        """References to the job's events, filtered by name only, in event order.

        Args:
            job_id: The job.
            run_id: Only this run's events.
            max_step: Only events with ``step <= max_step``.
            types: Only events of these types.

        Returns:
            References ordered by file-name timestamp, then step, then position within a
            step. This is the order of ``list_events`` except when ``store_event`` had to
            bump a colliding file name.
        """

    @abstractmethod
    def read_event_raw(self, ref: EventFileRef) -> RawJson | None:
        """An event's JSON, or ``None`` (with a warning) when it is not valid JSON."""

    # --- built on the primitives ----------------------------------------------------

    def warn_corrupt(self, where: str, reason: str) -> None:
        """Report a skipped file once per store (reading it again stays quiet)."""
        if where in self._warned:
            return
        self._warned.add(where)
        self._on_warning(f"warning: skipped corrupt file {where}: {reason}")

    def retrieve_job(self, job_id: str) -> Job | None:
        """The job, reconstructed from its checkpoints when no job record exists.

        Upstream Perstack never writes ``job.json`` (spec §12, "Upstream gap"); such a job
        gets: coordinator = first checkpoint's expert, ``totalSteps`` = last step, usage =
        last checkpoint's usage, status ``completed`` when the last checkpoint is completed
        (else ``running``), ``startedAt`` = when its directory was created.
        """
        job = self.read_job_record(job_id)
        if job is not None:
            return job
        refs = self.list_checkpoint_files(job_id)
        first = self._first_readable(refs)
        last = self._first_readable(list(reversed(refs)))
        if first is None or last is None:
            return None
        return Job(
            id=job_id,
            status="completed" if last.status == "completed" else "running",
            coordinator_expert_key=first.expert.key,
            total_steps=last.step_number,
            usage=last.usage,
            started_at=self.job_created_at(job_id),
        )

    def list_jobs(self) -> list[Job]:
        """Every job, newest ``startedAt`` first."""
        jobs = [job for job_id in self.list_job_ids() if (job := self.retrieve_job(job_id))]
        jobs.sort(key=lambda job: (job.started_at, job.id), reverse=True)
        return jobs

    def read_checkpoint(self, ref: CheckpointFileRef) -> Checkpoint | None:
        """A checkpoint, or ``None`` (with a warning) when its file is not a checkpoint."""
        document = self.read_checkpoint_raw(ref)
        if document is None:
            return None
        try:
            return Checkpoint.model_validate(document.data)
        except ValidationError as error:
            self.warn_corrupt(self._where(ref), f"not a checkpoint: {_first_error(error)}")
            return None

    def retrieve_checkpoint(self, job_id: str, checkpoint_id: str) -> Checkpoint | None:
        """One checkpoint by id, or ``None``."""
        ref = self.checkpoint_file(job_id, checkpoint_id)
        return None if ref is None else self.read_checkpoint(ref)

    def list_checkpoints(self, job_id: str) -> list[Checkpoint]:
        """The job's valid checkpoints, ``stepNumber`` ascending (then write order)."""
        refs = self.list_checkpoint_files(job_id)
        return [checkpoint for ref in refs if (checkpoint := self.read_checkpoint(ref))]

    def latest_checkpoint(self, job_id: str) -> Checkpoint | None:
        """The valid checkpoint with the highest step; of equals, the one written last."""
        return self._first_readable(list(reversed(self.list_checkpoint_files(job_id))))

    def read_event(self, ref: EventFileRef) -> RunEvent | None:
        """One event, or ``None`` (with a warning) when its file is not a run event."""
        document = self.read_event_raw(ref)
        if document is None:
            return None
        try:
            event = parse_event(document.data)
        except ValidationError as error:
            self.warn_corrupt(self._where(ref), f"not a run event: {_first_error(error)}")
            return None
        if not isinstance(event, RunEvent):
            self.warn_corrupt(self._where(ref), f"not a run event: {event.type}")
            return None
        return event

    def list_events(
        self, job_id: str, run_id: str | None = None, max_step: int | None = None
    ) -> list[RunEvent]:
        """The job's (or one run's) valid events, by timestamp, then write order."""
        refs = self.list_event_files(job_id, run_id=run_id, max_step=max_step)
        keyed = [(event, ref) for ref in refs if (event := self.read_event(ref)) is not None]
        # `refs` are in file-name order already; a stable sort on the events' own
        # timestamps only moves events whose file name had to be bumped.
        keyed.sort(key=lambda pair: (pair[0].timestamp, pair[1].timestamp))
        return [event for event, _ in keyed]

    def _first_readable(self, refs: list[CheckpointFileRef]) -> Checkpoint | None:
        for ref in refs:
            checkpoint = self.read_checkpoint(ref)
            if checkpoint is not None:
                return checkpoint
        return None

    def _where(self, ref: EventFileRef | CheckpointFileRef) -> str:
        path = ref.path
        if path is not None:
            return str(path)
        if isinstance(ref, EventFileRef):
            return f"<memory>/jobs/{ref.job_id}/runs/{ref.run_id}/{ref.name}"
        return f"<memory>/jobs/{ref.job_id}/checkpoints/{ref.checkpoint_id}.json"


def parse_json_object(raw: bytes) -> dict[str, Any]:
    """Parse ``raw`` as a JSON object.

    Raises:
        ValueError: with a one-line reason when it is not one.
    """
    if not raw:
        raise ValueError("empty file")
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        raise ValueError(f"invalid JSON ({error})") from None
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")  # noqa: TRY004 - callers handle ValueError
    return data
