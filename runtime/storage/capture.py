"""A job read from a capture of ``perstack run``'s stdout: one JSON event per line.

:class:`CaptureStorage` holds the job of a ``.jsonl`` file in memory and answers every
:class:`~runtime.storage.base.Storage` question about it, so ``perstack log``, the
workbench, ``perstack diff`` and ``perstack fork`` read a capture exactly as they read a
stored job.

Both stream formats are read. A compact stream (the default, see ``docs/events.md``) is
kept compact: a stream names as a message list's base a checkpoint that appeared earlier in
the stream, and every checkpoint the stream shows is kept here under its id, so the
stream's own references resolve as a store's do, and reading one event never rebuilds more
than that event's histories. A checkpoint shown again later in the stream (the runtime
re-sends a run's checkpoint as its step goes on, based on its own earlier version) is
kept as one document based on what the earlier version was based on, so no document is
ever its own base. An upstream-format stream (``--event-format upstream``) carries whole
histories and is kept as it is.

A capture cut short (a killed run, a full disk) or damaged somewhere is read as far as it
is whole: reading stops at the first line that is not a whole event of the job, with one
warning naming the file and the line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from runtime.storage.compact import BASE_FIELD, CHECKPOINT_FIELDS
from runtime.storage.memory import MemoryStorage, _StoredEvent
from runtime.storage.records import (
    STEP_END_TYPES,
    CheckpointFileRef,
    WarningHandler,
    print_warning,
)

__all__ = ["CaptureStorage", "CaptureError", "read_capture"]

_JOB_STATUS = {
    "completeRun": "completed",
    "stopRunByError": "stoppedByError",
    "stopRunByExceededMaxSteps": "stoppedByMaxSteps",
    "stopRunByInteractiveTool": "stoppedByInteractiveTool",
}


class CaptureError(ValueError):
    """A capture holds no event of a job at all (not even its first line is whole)."""


class CaptureStorage(MemoryStorage):
    """The one job of a ``perstack run`` capture, in memory.

    Build it with :func:`read_capture`. Checkpoints listed (``list_checkpoint_files``) are
    those a store would hold as files: the ones step-ending events carry. The others the
    stream showed (a run's first checkpoint, the next step's) are kept too, as bases.

    Args:
        on_warning: Receives one line per problem (the capture's damage, corrupt documents).
    """

    def __init__(self, on_warning: WarningHandler = print_warning) -> None:
        super().__init__(on_warning)
        self.job_id: str | None = None
        #: Checkpoint ids carried by step-ending events (listed like checkpoint files).
        self._step_ends: set[str] = set()
        #: checkpoint id -> its kept document (compact, or whole).
        self._documents: dict[str, dict[str, Any]] = {}
        self._first_ms: int | None = None
        self._last_ms = 0
        self._max_step = 0
        self._last_end: tuple[str, bool, Any] | None = None  # type, at the root?, usage
        self._root_usage: Any = None
        self._coordinator: str | None = None
        self._first_expert: str | None = None
        #: runId -> the part of its settings its ``initializeRuntime`` told.
        self._run_models: dict[str, dict[str, Any]] = {}

    # --- reading a capture ----------------------------------------------------------

    def add(self, data: dict[str, Any], raw: bytes) -> None:
        """Add the next event of the stream (its parsed JSON and the line's bytes).

        Runtime events (no step) are skipped, as a store skips them.

        Raises:
            ValueError: the line is not a whole event of this capture's job (why, in words).
        """
        event_type = data.get("type")
        if not isinstance(event_type, str) or not event_type:
            raise ValueError("not an event (no type)")
        step = data.get("stepNumber")
        if step is None and "expertKey" not in data:
            if event_type == "initializeRuntime":
                self._note_run_model(data)
            return  # a runtime event: printed, never stored
        job_id, run_id, timestamp = data.get("jobId"), data.get("runId"), data.get("timestamp")
        if not (
            isinstance(job_id, str) and isinstance(run_id, str) and _is_int(step)
            and _is_int(timestamp)
        ):  # fmt: skip
            raise ValueError(f"{event_type}: needs jobId, runId, stepNumber and timestamp")
        if self.job_id is None:
            self.job_id = job_id
        elif job_id != self.job_id:
            raise ValueError(f"an event of another job ({job_id})")
        # In order: a `nextCheckpoint` may be based on the `checkpoint` beside it.
        for _, wire in CHECKPOINT_FIELDS:
            checkpoint = data.get(wire)
            if isinstance(checkpoint, dict):
                self._store_document(*self._keep(checkpoint))
        base = data.get(BASE_FIELD)
        if isinstance(base, dict) and base.get("checkpointId") not in self._documents:
            raise ValueError(
                f"its messages are based on checkpoint {base.get('checkpointId')}, not shown before it"
            )
        self._touch(job_id)
        seq = next(self._seq)
        self._events.setdefault(job_id, {})[seq] = _StoredEvent(
            run_id, timestamp, step, event_type, raw
        )
        if event_type in STEP_END_TYPES:
            checkpoint = data.get("checkpoint")
            if isinstance(checkpoint, dict):
                self._step_ends.add(checkpoint["id"])
                at_root = checkpoint.get("delegatedBy") is None
                self._last_end = (event_type, at_root, checkpoint.get("usage"))
                if at_root:
                    self._root_usage = checkpoint.get("usage")
        if event_type == "startRun" and self._coordinator is None:
            # The coordinator: the first run nobody delegated (a capture of a fork may
            # begin inside a delegate).
            initial = data.get("initialCheckpoint")
            initial = initial if isinstance(initial, dict) else {}
            expert = initial.get("expert")
            if isinstance(expert, dict) and isinstance(expert.get("key"), str):
                self._first_expert = self._first_expert or expert["key"]
                if initial.get("delegatedBy") is None:
                    self._coordinator = expert["key"]
        self._first_ms = timestamp if self._first_ms is None else self._first_ms
        self._last_ms = max(self._last_ms, timestamp)
        self._max_step = max(self._max_step, step)

    def _note_run_model(self, data: dict[str, Any]) -> None:
        """A store keeps each run's settings (its model, to price its tokens); a capture
        tells the model in the run's ``initializeRuntime``: keep that much of them."""
        job_id, run_id, model = data.get("jobId"), data.get("runId"), data.get("model")
        if isinstance(job_id, str) and isinstance(run_id, str) and isinstance(model, str):
            provider = data.get("providerName")
            setting: dict[str, Any] = {"jobId": job_id, "runId": run_id, "model": model}
            if isinstance(provider, str):
                setting["providerConfig"] = {"providerName": provider}
            self._run_models[run_id] = setting

    def _keep(self, checkpoint: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        """The document to keep for a checkpoint the stream shows (checked, not stored yet)."""
        checkpoint_id = checkpoint.get("id")
        if not isinstance(checkpoint_id, str) or not _is_int(checkpoint.get("stepNumber")):
            raise ValueError("a checkpoint without id or stepNumber")
        base = checkpoint.get(BASE_FIELD)
        if base is None:
            return checkpoint_id, checkpoint
        base_id, count = base.get("checkpointId"), base.get("count")
        known = self._documents.get(base_id)
        if known is None or not _is_int(count):
            raise ValueError(
                f"checkpoint {checkpoint_id} is based on {base_id}, not shown before it"
            )
        if base_id != checkpoint_id:
            return checkpoint_id, checkpoint
        # Based on its own earlier version: keep it based on what that one was based on.
        document = dict(checkpoint)
        earlier = known.get(BASE_FIELD)
        own = known.get("messages") or []
        if earlier is None:
            document.pop(BASE_FIELD)
            document["messages"] = [*own[:count], *(checkpoint.get("messages") or [])]
        elif count <= earlier["count"]:
            document[BASE_FIELD] = {"checkpointId": earlier["checkpointId"], "count": count}
        else:
            document[BASE_FIELD] = earlier
            kept = own[: count - earlier["count"]]
            document["messages"] = [*kept, *(checkpoint.get("messages") or [])]
        return checkpoint_id, document

    def _store_document(self, checkpoint_id: str, document: dict[str, Any]) -> None:
        self._documents[checkpoint_id] = document
        assert self.job_id is not None
        entry = (document["stepNumber"], next(self._seq), orjson.dumps(document))
        self._checkpoints.setdefault(self.job_id, {})[checkpoint_id] = entry

    def finish(self) -> None:
        """Write the job record the capture implies (a capture holds no ``job.json``)."""
        if self.job_id is None:
            return
        status = "running"
        if self._last_end is not None:
            event_type, at_root, _ = self._last_end
            # A delegate's completion or error goes back to its parent: not the job's end.
            if at_root or event_type not in ("completeRun", "stopRunByError"):
                status = _JOB_STATUS.get(event_type, "running")
        usage = self._root_usage
        record: dict[str, Any] = {
            "id": self.job_id,
            "status": status,
            "coordinatorExpertKey": self._coordinator or self._first_expert or "",
            "totalSteps": self._max_step,
            "usage": usage if isinstance(usage, dict) else {},
            "startedAt": self._first_ms or 0,
        }
        if status not in ("running", "stoppedByInteractiveTool"):
            record["finishedAt"] = self._last_ms
        self._jobs[self.job_id] = orjson.dumps(record)
        for run_id, setting in self._run_models.items():
            if setting["jobId"] == self.job_id:
                self.store_run_setting(self.job_id, run_id, setting)
        self._documents.clear()  # only needed while reading: the store keeps the bytes

    # --- what differs from a memory store ---------------------------------------------

    def list_checkpoint_files(self, job_id: str) -> list[CheckpointFileRef]:
        return [
            ref for ref in super().list_checkpoint_files(job_id)
            if ref.checkpoint_id in self._step_ends
        ]  # fmt: skip


def read_capture(path: Path, on_warning: WarningHandler = print_warning) -> CaptureStorage:
    """Read a capture of ``perstack run``'s stdout as far as it is whole.

    Args:
        path: The ``.jsonl`` file.
        on_warning: Receives the one warning about a damaged or cut capture.

    Raises:
        OSError: the file cannot be read.
        CaptureError: not one line of it is an event of a job.
    """
    storage = CaptureStorage(on_warning)
    with open(path, "rb") as file:
        for number, line in enumerate(file, start=1):
            stripped = line.strip()
            if not stripped:
                continue
            try:
                data = orjson.loads(stripped)
                if not isinstance(data, dict):
                    raise ValueError("not a JSON object")  # noqa: TRY004 - reported below
                storage.add(data, stripped)
            except (ValueError, KeyError, TypeError) as error:
                reason = (
                    "invalid JSON (cut short?)"
                    if isinstance(error, orjson.JSONDecodeError)
                    else str(error)
                )
                if storage.job_id is None:
                    raise CaptureError(f"{path}:{number}: {reason}") from None
                on_warning(
                    f"warning: {path}:{number}: {reason}; the job is shown as far as line "
                    f"{number - 1}"
                )
                break
    if storage.job_id is None:
        raise CaptureError(f"{path}: no event of a job in it")
    storage.finish()
    return storage


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
