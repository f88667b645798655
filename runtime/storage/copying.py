"""Copy part of a job's history into a new job (what a fork starts with).

The documents are copied as they are stored, compact histories included: only their
``jobId`` changes. Checkpoint, run and event ids stay the same, so every reference inside
the copy (a compact document's base, a delegate's parent checkpoint) still points at the
right document, now in the new job. The source is only read.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, NamedTuple

import orjson

from runtime.storage.compact import BASE_FIELD, CHECKPOINT_FIELDS
from runtime.storage.records import STEP_END_TYPES, EventFileRef

if TYPE_CHECKING:
    from runtime.storage.base import Storage

__all__ = ["copy_history"]


class _EventKey(NamedTuple):
    """What a store's ``_put_event`` reads of an event (the file name's parts)."""

    job_id: str
    run_id: str
    type: str
    timestamp: int
    step_number: int


class _CheckpointKey(NamedTuple):
    """What a store's ``_put_checkpoint`` reads of a checkpoint."""

    job_id: str
    id: str
    step_number: int


def copy_history(
    source: Storage, job_id: str, refs: Iterable[EventFileRef], target: Storage, new_job_id: str
) -> int:
    """Copy the events ``refs`` of ``job_id`` into ``target`` as job ``new_job_id``, with
    the checkpoints they end steps with or build on, and their runs' settings.

    Unreadable documents are skipped (the source warns once about each). Returns how many
    events were copied.
    """
    checkpoints: list[str] = []
    wanted: set[str] = set()
    runs: set[str] = set()

    def want(checkpoint_id: Any) -> None:
        if isinstance(checkpoint_id, str) and checkpoint_id not in wanted:
            wanted.add(checkpoint_id)
            checkpoints.append(checkpoint_id)

    copied = 0
    for ref in refs:
        document = source._get_event(ref)
        if document is None:
            continue
        data = document.data
        for base in _bases(data):
            want(base)
        if ref.type in STEP_END_TYPES:
            want((data.get("checkpoint") or {}).get("id"))
        key = _EventKey(new_job_id, ref.run_id, ref.type, ref.timestamp, ref.step)
        target._put_event(key, _rehomed(document.raw, data, new_job_id))  # type: ignore[arg-type]
        runs.add(ref.run_id)
        copied += 1
    position = 0
    while position < len(checkpoints):  # bases of bases are appended as they are found
        checkpoint_id = checkpoints[position]
        position += 1
        found = source.checkpoint_file(job_id, checkpoint_id)
        document = None if found is None else source._get_checkpoint(found)
        if found is None or document is None:
            continue
        for base in _bases(document.data):
            want(base)
        key = _CheckpointKey(new_job_id, checkpoint_id, found.step)
        target._put_checkpoint(key, _rehomed(document.raw, document.data, new_job_id))  # type: ignore[arg-type]
    for run_id in sorted(runs):
        setting = source.retrieve_run_setting(job_id, run_id)
        if setting is not None:
            target.store_run_setting(new_job_id, run_id, {**setting, "jobId": new_job_id})
    return copied


def _bases(data: dict[str, Any]) -> list[str]:
    """The checkpoints a document's compact histories are based on."""
    found = []
    for value in (data, *(data.get(wire) for _, wire in CHECKPOINT_FIELDS)):
        if isinstance(value, dict):
            base = value.get(BASE_FIELD)
            if isinstance(base, dict) and isinstance(base.get("checkpointId"), str):
                found.append(base["checkpointId"])
    return found


def _rehomed(raw: bytes, data: dict[str, Any], new: str) -> bytes:
    """The document's bytes with its ``jobId`` (the event's and its checkpoints') made
    ``new``; text that merely mentions the old id is kept. (A job folder may have been
    renamed: the old id is the one the document names, not the folder's.)"""
    old = data.get("jobId")
    if isinstance(old, str):
        pattern = b'"jobId":' + orjson.dumps(old)
        if raw.count(b'"jobId"') == raw.count(pattern):
            # In compact JSON a key is the only place this exact text can be: inside a
            # string value its quotes would be escaped.
            return raw.replace(pattern, b'"jobId":' + orjson.dumps(new))
    rewritten = dict(data)  # spaced JSON, or ids that differ: rewrite the parsed document
    if "jobId" in rewritten:
        rewritten["jobId"] = new
    for _, wire in CHECKPOINT_FIELDS:
        value = rewritten.get(wire)
        if isinstance(value, dict) and "jobId" in value:
            rewritten[wire] = {**value, "jobId": new}
    return orjson.dumps(rewritten)
