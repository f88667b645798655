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

from abc import abstractmethod
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Protocol

import orjson

from runtime.storage.compact import (
    HistoryCompactor,
    StoredHistories,
    UnresolvedBase,
    is_compact,
    slim_document,
)
from runtime.storage.records import (
    CheckpointFileRef,
    EventFileRef,
    RawJson,
    WarningHandler,
    _first_error,
    _is_int,
)

if TYPE_CHECKING:
    # Imported lazily at run time: `perstack log` works on raw JSON and never needs the
    # pydantic models, whose import is a sizeable part of its time budget.
    from pathlib import Path

    from runtime.events import RunEvent
    from runtime.model import Checkpoint, Job
    from runtime.storage.workspace import WorkspaceBlobs, WorkspaceSync

__all__ = ["Storage"]


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
    def _put_checkpoint(self, checkpoint: Checkpoint, data: bytes) -> None:
        """Create or replace a checkpoint's document (keyed by job id and checkpoint id)."""

    @abstractmethod
    def _put_event(self, event: RunEvent, data: bytes) -> None:
        """Add one run event's document; never replaces another event."""

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
    def read_job_raw(self, job_id: str) -> RawJson | None:
        """The stored job record's JSON only (no reconstruction), or ``None``."""

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
    def _get_checkpoint(self, ref: CheckpointFileRef) -> RawJson | None:
        """A checkpoint's stored JSON as written (maybe compact), or ``None`` (warned)."""

    def _all_checkpoint_documents(self, job_id: str) -> dict[str, dict[str, Any]] | None:
        """Every stored checkpoint of the job as written (``id -> JSON``), read at once, or
        ``None`` where one file is read as quickly as many (the default).

        A store whose reads are round trips overrides it, so that a long chain of compact
        checkpoints is read in one batch (see :class:`~runtime.storage.compact.StoredHistories`).
        """
        return None

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
    def _get_event(self, ref: EventFileRef) -> RawJson | None:
        """An event's stored JSON as written (maybe compact), or ``None`` (warned)."""

    @abstractmethod
    def _workspace_blobs(self) -> WorkspaceBlobs:
        """Where this store keeps job workspaces (see :mod:`.workspace`)."""

    # --- hooks a remote store uses; nothing to do for local ones -----------------------

    def flush(self) -> None:
        """Wait until every write made so far is stored (a no-op for local stores).

        Raises:
            StorageError: a write failed.
        """

    def _will_read_jobs(self, job_ids: list[str]) -> None:
        """These jobs' records are about to be read (a remote store fetches them at once)."""

    # --- built on the primitives ----------------------------------------------------

    def sync_workspace(
        self, job_id: str, folder: Path, *, exclude: Iterable[str] = ()
    ) -> WorkspaceSync:
        """Store the job's workspace folder with the job, copying only what changed.

        See :func:`runtime.storage.workspace.sync_workspace`.
        """
        from runtime.storage.workspace import sync_workspace

        return sync_workspace(self._workspace_blobs(), job_id, folder, exclude=exclude)

    def restore_workspace(
        self, job_id: str, folder: Path, *, exclude: Iterable[str] = ()
    ) -> WorkspaceSync:
        """Make ``folder`` what the job's workspace was at its last sync.

        See :func:`runtime.storage.workspace.restore_workspace`.
        """
        from runtime.storage.workspace import restore_workspace

        return restore_workspace(self._workspace_blobs(), job_id, folder, exclude=exclude)

    def store_checkpoint(self, checkpoint: Checkpoint) -> None:
        """Create or replace a checkpoint; its messages are stored as a delta on an
        earlier checkpoint of this store where one fits (see :mod:`.compact`)."""
        from runtime.model import dumps

        document = self._histories().compactor.checkpoint_document(checkpoint, as_file=True)
        self._put_checkpoint(checkpoint, dumps(document))

    def store_event(self, event: RunEvent, data: bytes | None = None) -> None:
        """Add one run event; never replaces another event.

        Args:
            event: The event. Runtime events (no step, no expert) are not stored: passing
                one does nothing.
            data: ``event.to_json()`` when the caller already has it; used as is when the
                event carries no history to compact.
        """
        if getattr(event, "step_number", None) is None:
            return  # Runtime events (no step) are printed, never stored (spec §4).
        document = self._histories().compactor.event_document(event, stream=False)
        if document is not None:
            from runtime.model import dumps

            data = dumps(document)
        self._put_event(event, data if data is not None else event.to_json())

    def read_checkpoint_raw(self, ref: CheckpointFileRef) -> RawJson | None:
        """A checkpoint's full JSON (its history rebuilt), or ``None`` with a warning when
        it is not valid JSON or its history cannot be rebuilt."""
        return self._rebuilt(self._get_checkpoint(ref), ref)

    def read_event_raw(self, ref: EventFileRef) -> RawJson | None:
        """An event's full JSON (histories rebuilt), or ``None`` with a warning."""
        return self._rebuilt(self._get_event(ref), ref)

    def read_event_slim(self, ref: EventFileRef) -> dict[str, Any] | None:
        """An event's JSON without its message histories (see
        :func:`~runtime.storage.compact.slim_document`), or ``None`` with a warning.

        Nothing is rebuilt, so this costs the size of the event's file: what a viewer
        loading a long job needs (its rows, tree and figures, not the histories).
        """
        document = self._get_event(ref)
        return None if document is None else slim_document(document.data)

    def _rebuilt(
        self, document: RawJson | None, ref: EventFileRef | CheckpointFileRef
    ) -> RawJson | None:
        if document is None or not is_compact(document.data):
            return document
        data = self._rebuilt_data(document, ref)
        return None if data is None else RawJson(data, orjson.dumps(data))

    def _rebuilt_data(
        self, document: RawJson | None, ref: EventFileRef | CheckpointFileRef
    ) -> dict[str, Any] | None:
        """The document's full JSON value (its bytes not made again), or ``None``."""
        if document is None or not is_compact(document.data):
            return None if document is None else document.data
        try:
            return self._histories().reader(ref.job_id).expand(document.data)
        except UnresolvedBase as error:
            self.warn_corrupt(self._where(ref), f"history not rebuilt: {error}")
            return None

    def _histories(self) -> _Histories:
        histories = self.__dict__.get("_history_state")
        if histories is None:
            histories = self.__dict__["_history_state"] = _Histories(self)
        return histories

    def warn_corrupt(self, where: str, reason: str) -> None:
        """Report a skipped file once per store (reading it again stays quiet)."""
        if where in self._warned:
            return
        self._warned.add(where)
        self._on_warning(f"warning: skipped corrupt file {where}: {reason}")

    def job_data(self, job_id: str) -> dict[str, Any] | None:
        """The job's JSON: its record, or one reconstructed from its checkpoints.

        Upstream Perstack never writes ``job.json`` (spec §12, "Upstream gap"); such a job
        gets: coordinator = first checkpoint's expert, ``totalSteps`` = last step, usage =
        last checkpoint's usage, status ``completed`` when the last checkpoint is completed
        (else ``running``), ``startedAt`` = when its directory was created. A record that
        is not a job is reported and reconstructed too.
        """
        record = self.read_job_raw(job_id)
        if record is not None:
            data = record.data
            if (
                isinstance(data.get("id"), str)
                and isinstance(data.get("status"), str)
                and isinstance(data.get("coordinatorExpertKey"), str)
                and _is_int(data.get("startedAt"))
            ):
                return data
            self.warn_corrupt(
                self._job_where(job_id),
                "not a job: needs id, status, coordinatorExpertKey, startedAt",
            )
        return self._reconstructed_job(job_id)

    def _reconstructed_job(self, job_id: str) -> dict[str, Any] | None:
        refs = self.list_checkpoint_files(job_id)
        first = self._first_usable(refs)
        last = self._first_usable(list(reversed(refs)))
        if first is None or last is None:
            return None
        usage = last.get("usage")
        return {
            "id": job_id,
            "status": "completed" if last["status"] == "completed" else "running",
            "coordinatorExpertKey": first["expert"]["key"],
            "totalSteps": last["stepNumber"],
            "usage": usage if isinstance(usage, dict) else {},
            "startedAt": self.job_created_at(job_id),
        }

    def _first_usable(self, refs: list[CheckpointFileRef]) -> dict[str, Any] | None:
        """The first checkpoint with what a reconstructed job needs."""
        for ref in refs:
            document = self.read_checkpoint_raw(ref)
            if document is None:
                continue
            data = document.data
            expert = data.get("expert")
            if (
                _is_int(data.get("stepNumber"))
                and isinstance(data.get("status"), str)
                and isinstance(expert, dict)
                and isinstance(expert.get("key"), str)
            ):
                return data
            self.warn_corrupt(
                self._where(ref), "not a checkpoint: needs stepNumber, status, expert"
            )
        return None

    def retrieve_job(self, job_id: str) -> Job | None:
        """The job (see :meth:`job_data` for jobs without a record), or ``None``."""
        from pydantic import ValidationError

        from runtime.model import Job

        data = self.job_data(job_id)
        if data is None:
            return None
        try:
            return Job.model_validate(data)
        except ValidationError as error:
            self.warn_corrupt(self._job_where(job_id), f"not a job: {_first_error(error)}")
        data = self._reconstructed_job(job_id)
        return None if data is None else Job.model_validate(data)

    def list_jobs(self) -> list[Job]:
        """Every job, newest ``startedAt`` first."""
        job_ids = self.list_job_ids()
        self._will_read_jobs(job_ids)
        jobs = [job for job_id in job_ids if (job := self.retrieve_job(job_id))]
        jobs.sort(key=lambda job: (job.started_at, job.id), reverse=True)
        return jobs

    def latest_job_data(self) -> dict[str, Any] | None:
        """The JSON of the job with the newest ``startedAt`` (the first of ``list_jobs``)."""
        job_ids = self.list_job_ids()
        self._will_read_jobs(job_ids)
        jobs = [data for job_id in job_ids if (data := self.job_data(job_id))]
        return max(jobs, key=lambda data: (data["startedAt"], data["id"]), default=None)

    def read_checkpoint(self, ref: CheckpointFileRef) -> Checkpoint | None:
        """A checkpoint, or ``None`` (with a warning) when its file is not a checkpoint."""
        from pydantic import ValidationError

        from runtime.model import Checkpoint

        data = self._rebuilt_data(self._get_checkpoint(ref), ref)
        if data is None:
            return None
        try:
            checkpoint = Checkpoint.model_validate(data)
        except ValidationError as error:
            self.warn_corrupt(self._where(ref), f"not a checkpoint: {_first_error(error)}")
            return None
        # Read back to be resumed, most likely: the run that resumes it writes its
        # history as a delta on this one.
        self._histories().compactor.remember_document(data)
        return checkpoint

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
        from pydantic import ValidationError

        from runtime.events import RunEvent, parse_event

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

    def _job_where(self, job_id: str) -> str:
        return f"job {job_id} record"

    def _where(self, ref: EventFileRef | CheckpointFileRef) -> str:
        path = ref.path
        if path is not None:
            return str(path)
        if isinstance(ref, EventFileRef):
            return f"<memory>/jobs/{ref.job_id}/runs/{ref.run_id}/{ref.name}"
        return f"<memory>/jobs/{ref.job_id}/checkpoints/{ref.checkpoint_id}.json"


class _Histories:
    """A store's compaction state: the writer's bases and a reader per job."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        self.compactor = HistoryCompactor()
        self._readers: dict[str, StoredHistories] = {}

    def reader(self, job_id: str) -> StoredHistories:
        reader = self._readers.get(job_id)
        if reader is None:
            if len(self._readers) >= 16:
                self._readers.pop(next(iter(self._readers)))
            storage = self.storage

            def read_document(checkpoint_id: str) -> dict[str, Any] | None:
                ref = storage.checkpoint_file(job_id, checkpoint_id)
                document = None if ref is None else storage._get_checkpoint(ref)
                return None if document is None else document.data

            def read_all() -> dict[str, dict[str, Any]] | None:
                return storage._all_checkpoint_documents(job_id)

            reader = self._readers[job_id] = StoredHistories(read_document, read_all)
        return reader
