"""A store that keeps everything in memory: for embedding the runtime and for tests.

It holds each document as the JSON bytes a ``FileStorage`` would write and parses them back
on every read, so callers get the same behaviour (and independent copies) from both stores.
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Any

import orjson

from runtime.storage.base import Storage
from runtime.storage.records import (
    CheckpointFileRef,
    EventFileRef,
    RawJson,
    WarningHandler,
    check_id,
    now_ms,
    parse_json_object,
    print_warning,
)

if TYPE_CHECKING:
    from runtime.events import RunEvent
    from runtime.model import Checkpoint, Job
    from runtime.storage._workspace_blobs import MemoryWorkspaceBlobs

__all__ = ["MemoryStorage"]


class _StoredEvent:
    __slots__ = ("raw", "run_id", "step", "timestamp", "type")

    def __init__(self, run_id: str, timestamp: int, step: int, type_: str, raw: bytes) -> None:
        self.run_id = run_id
        self.timestamp = timestamp
        self.step = step
        self.type = type_
        self.raw = raw


class MemoryStorage(Storage):
    """Jobs kept in this process only.

    Args:
        on_warning: Receives one line per skipped invalid document; defaults to stderr.
    """

    def __init__(self, on_warning: WarningHandler = print_warning) -> None:
        self._on_warning = on_warning
        self._warned: set[str] = set()
        self._seq = itertools.count(1)
        self._created: dict[str, int] = {}
        self._jobs: dict[str, bytes] = {}
        # job id -> checkpoint id -> (step, write order, JSON)
        self._checkpoints: dict[str, dict[str, tuple[int, int, bytes]]] = {}
        # job id -> write order -> event
        self._events: dict[str, dict[int, _StoredEvent]] = {}
        # job id -> run id -> (write order, JSON)
        self._settings: dict[str, dict[str, tuple[int, bytes]]] = {}
        self._workspaces: MemoryWorkspaceBlobs | None = None

    def _touch(self, job_id: str) -> None:
        self._created.setdefault(job_id, now_ms())

    # --- jobs -----------------------------------------------------------------------

    def store_job(self, job: Job) -> None:
        check_id("job", job.id)
        self._touch(job.id)
        self._jobs[job.id] = job.to_json()

    def read_job_raw(self, job_id: str) -> RawJson | None:
        raw = self._jobs.get(job_id)
        return None if raw is None else RawJson(orjson.loads(raw), raw)

    def job_created_at(self, job_id: str) -> int:
        return self._created.get(job_id) or now_ms()

    def list_job_ids(self) -> list[str]:
        return sorted(self._created)

    # --- checkpoints ----------------------------------------------------------------

    def _put_checkpoint(self, checkpoint: Checkpoint, data: bytes) -> None:
        check_id("job", checkpoint.job_id)
        check_id("checkpoint", checkpoint.id)
        self._touch(checkpoint.job_id)
        entry = (checkpoint.step_number, next(self._seq), bytes(data))
        self._checkpoints.setdefault(checkpoint.job_id, {})[checkpoint.id] = entry

    def list_checkpoint_files(self, job_id: str) -> list[CheckpointFileRef]:
        stored = self._checkpoints.get(job_id, {})
        refs = [
            CheckpointFileRef(job_id, checkpoint_id, step, seq)
            for checkpoint_id, (step, seq, _) in stored.items()
        ]
        refs.sort(key=lambda ref: (ref.step, ref.written_ns))
        return refs

    def checkpoint_file(self, job_id: str, checkpoint_id: str) -> CheckpointFileRef | None:
        entry = self._checkpoints.get(job_id, {}).get(checkpoint_id)
        if entry is None:
            return None
        return CheckpointFileRef(job_id, checkpoint_id, entry[0], entry[1])

    def _get_checkpoint(self, ref: CheckpointFileRef) -> RawJson | None:
        entry = self._checkpoints.get(ref.job_id, {}).get(ref.checkpoint_id)
        return None if entry is None else RawJson(orjson.loads(entry[2]), entry[2])

    # --- events ---------------------------------------------------------------------

    def _put_event(self, event: RunEvent, data: bytes) -> None:
        check_id("job", event.job_id)
        check_id("run", event.run_id)
        self._touch(event.job_id)
        raw = bytes(data)
        stored = _StoredEvent(event.run_id, event.timestamp, event.step_number, event.type, raw)
        self._events.setdefault(event.job_id, {})[next(self._seq)] = stored

    def list_event_files(
        self,
        job_id: str,
        run_id: str | None = None,
        max_step: int | None = None,
        types: set[str] | frozenset[str] | None = None,
    ) -> list[EventFileRef]:
        refs = [
            EventFileRef(
                job_id,
                event.run_id,
                event.timestamp,
                event.step,
                event.type,
                f"event-{event.timestamp}-{event.step}-{event.type}.json",
                None,
                seq,
            )
            for seq, event in self._events.get(job_id, {}).items()
            if (run_id is None or event.run_id == run_id)
            and (max_step is None or event.step <= max_step)
            and (types is None or event.type in types)
        ]
        # Write order is known exactly here, so it breaks timestamp ties.
        refs.sort(key=lambda ref: (ref.timestamp, ref.seq))
        return refs

    def _get_event(self, ref: EventFileRef) -> RawJson | None:
        stored = self._events.get(ref.job_id, {}).get(ref.seq)
        if stored is None:
            return None
        try:
            return RawJson(parse_json_object(stored.raw), stored.raw)
        except ValueError as error:
            self.warn_corrupt(self._where(ref), str(error))
            return None

    # --- run settings ---------------------------------------------------------------

    def store_run_setting(self, job_id: str, run_id: str, setting: dict[str, Any]) -> None:
        check_id("job", job_id)
        check_id("run", run_id)
        self._touch(job_id)
        runs = self._settings.setdefault(job_id, {})
        existing = runs.get(run_id)
        if existing is not None:
            document = orjson.loads(existing[1])
            document["updatedAt"] = now_ms()
        else:
            from runtime.model import dumps  # the setting may still hold models

            document = orjson.loads(dumps(setting))
            document.setdefault("updatedAt", now_ms())
        runs[run_id] = (next(self._seq), orjson.dumps(document))

    def retrieve_run_setting(self, job_id: str, run_id: str) -> dict[str, Any] | None:
        entry = self._settings.get(job_id, {}).get(run_id)
        return None if entry is None else orjson.loads(entry[1])

    def list_runs(self, job_id: str) -> list[dict[str, Any]]:
        ranked = self._ranked_runs(job_id)
        ranked.sort(key=lambda item: item[0], reverse=True)
        return [orjson.loads(raw) for _, _, raw in ranked]

    def latest_run(self) -> tuple[str, str] | None:
        best: tuple[tuple[int, int], str, str] | None = None
        for job_id in self._settings:
            for rank, run_id, _ in self._ranked_runs(job_id):
                if best is None or rank > best[0]:
                    best = (rank, job_id, run_id)
        return None if best is None else (best[1], best[2])

    def _ranked_runs(self, job_id: str) -> list[tuple[tuple[int, int], str, bytes]]:
        ranked = []
        for run_id, (seq, raw) in self._settings.get(job_id, {}).items():
            updated_at = orjson.loads(raw).get("updatedAt")
            if not isinstance(updated_at, (int, float)):
                updated_at = 0
            ranked.append(((int(updated_at), seq), run_id, raw))
        return ranked

    # --- workspaces -----------------------------------------------------------------

    def _workspace_blobs(self) -> MemoryWorkspaceBlobs:
        if self._workspaces is None:
            from runtime.storage._workspace_blobs import MemoryWorkspaceBlobs

            self._workspaces = MemoryWorkspaceBlobs()
        return self._workspaces
