"""Jobs in an S3-compatible bucket, in the file store's layout (object keys for paths).

```
<prefix>/jobs/<jobId>/job.json
<prefix>/jobs/<jobId>/checkpoints/<checkpointId>.json
<prefix>/jobs/<jobId>/runs/<runId>/run-setting.json
<prefix>/jobs/<jobId>/runs/<runId>/event-<timestamp>-<step>-<type>.json
<prefix>/jobs/<jobId>/workspace/manifest.json, workspace/blobs/<sha256>   (see .workspace)
```

Selected by ``PERSTACK_STORAGE_URL=s3://bucket/prefix`` (see :mod:`.locate`); requests go
through :mod:`._s3` (obstore on a private loop, retried, writes pipelined).

Guarantees, as the file store's: each document is one atomic PUT, so a reader sees the
old document, the new one or none, never part of one; an event is written with
``If-None-Match: *`` and never replaces another. Writes are pipelined, and
:meth:`store_checkpoint` waits for all of them (the checkpoint included) before it
returns: when the bus hands on an event that carries a checkpoint, the checkpoint and
every event before it are in the bucket. ``perstack run`` flushes at its end.

Listing costs few round trips: one LIST (of 1,000 keys a page) for a job's events, one
for the job ids; job records, run settings and checkpoints' first bytes are fetched
concurrently, and events are read ahead along the last listing.
"""

from __future__ import annotations

import os
import re
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any

from runtime.errors import PerstackError
from runtime.storage._s3 import Fetched, S3Client
from runtime.storage.base import Storage
from runtime.storage.records import (
    CheckpointFileRef,
    EventFileRef,
    RawJson,
    StorageError,
    WarningHandler,
    WriteClock,
    check_id,
    event_type_rank,
    now_ms,
    parse_json_object,
    print_warning,
)

if TYPE_CHECKING:
    from runtime.events import RunEvent
    from runtime.model import Checkpoint, Job
    from runtime.storage.workspace import WorkspaceBlobs

__all__ = ["ObjectStorage"]

#: Object metadata holding a document's write time (ns): orders equal-step checkpoints.
WRITTEN = "perstack-written-ns"
_HEAD_BYTES = 4096
_HEAD_STEP = re.compile(rb'\{(?:"[A-Za-z]+":"[^"\\]*",)*"stepNumber":(\d+)[,}]')
_EVENT_NAME = re.compile(r"event-(\d+)-(\d+)-([A-Za-z][A-Za-z0-9]*)\.json\Z")
_MAX_NAME_BUMPS = 100_000
#: How many events are read ahead of the one asked for.
READ_AHEAD = 64


def _safe(value: str | None) -> bool:
    try:
        check_id("", value or "")
    except PerstackError:
        return False
    return True


class ObjectStorage(Storage):
    """Jobs under ``s3://bucket/prefix/jobs`` (see the module docstring).

    Args:
        url: ``s3://bucket/prefix``.
        env: The AWS variables (endpoint, credentials, region) and
            ``PERSTACK_STORAGE_TIMEOUT``; ``os.environ`` when ``None``.
        on_warning: Receives one line per skipped corrupt document (and the notice of a
            store that does not answer); defaults to stderr.

    Raises:
        StorageError: a bad URL or ``PERSTACK_STORAGE_TIMEOUT``.
    """

    def __init__(
        self,
        url: str,
        *,
        env: Mapping[str, str] | None = None,
        on_warning: WarningHandler = print_warning,
    ) -> None:
        self.url = url.rstrip("/")
        self._client = S3Client(self.url, os.environ if env is None else env, on_warning)
        self._on_warning = on_warning
        self._warned: set[str] = set()
        self._clock = WriteClock()
        self._lock = threading.Lock()
        #: checkpoint key -> (etag, step, written ns); a checkpoint's step never changes.
        self._checkpoints: dict[str, tuple[str | None, int, int]] = {}
        #: documents fetched for a read that follows (one use each).
        self._fetched: dict[str, Fetched | None] = {}
        self._bodies: OrderedDict[str, Fetched] = OrderedDict()
        #: the last event listing (keys in order), and the reads started along it.
        self._listing: list[str] = []
        self._listing_index: dict[str, int] | None = None
        self._ahead: dict[str, Future[Fetched | None]] = {}

    def __repr__(self) -> str:
        return f"ObjectStorage({self.url!r})"

    def flush(self) -> None:
        """Wait until every write made so far is in the bucket.

        Raises:
            StorageError: a write failed (after the client's retries).
        """
        self._client.flush()

    # --- keys and reading -----------------------------------------------------------------

    def _where_key(self, key: str) -> str:
        return f"{self.url}/{key}"

    def _fetch(self, key: str) -> Fetched | None:
        with self._lock:
            if key in self._fetched:
                return self._fetched.pop(key)
        return self._client.get(key)

    def _prefetch(self, keys: Sequence[str]) -> None:
        fetched = self._client.get_many(keys)
        with self._lock:
            self._fetched.update(zip(keys, fetched))

    def _parse(self, key: str, fetched: Fetched | None) -> RawJson | None:
        if fetched is None:
            return None
        try:
            return RawJson(parse_json_object(fetched.data), fetched.data)
        except ValueError as error:
            self.warn_corrupt(self._where_key(key), str(error))
            return None

    def _read_json(self, key: str) -> RawJson | None:
        return self._parse(key, self._fetch(key))

    @staticmethod
    def _written_ns(fetched: Fetched) -> int:
        text = fetched.attributes.get(WRITTEN, "")
        return int(text) if text.isdigit() else fetched.last_modified_ns

    # --- jobs -------------------------------------------------------------------------------

    def store_job(self, job: Job) -> None:
        from runtime.model import dumps

        check_id("job", job.id)
        self._client.put(f"jobs/{job.id}/job.json", dumps(job, indent=True))

    def read_job_raw(self, job_id: str) -> RawJson | None:
        if not _safe(job_id):
            return None
        return self._read_json(f"jobs/{job_id}/job.json")

    def _job_where(self, job_id: str) -> str:
        return self._where_key(f"jobs/{job_id}/job.json")

    def _will_read_jobs(self, job_ids: list[str]) -> None:
        self._prefetch([f"jobs/{job_id}/job.json" for job_id in job_ids if _safe(job_id)])

    def job_created_at(self, job_id: str) -> int:
        # Only upstream's jobs (no job.json) need this, and they always have checkpoints:
        # their listing is short where the job's whole prefix may hold 100,000 events.
        listed = self._client.list(f"jobs/{job_id}/checkpoints/") if _safe(job_id) else []
        times = [meta["last_modified"].timestamp() for meta in listed]
        return int(min(times) * 1000) if times else now_ms()

    def list_job_ids(self) -> list[str]:
        (names,) = self._client.list_dirs(["jobs/"])
        return [name for name in names if not name.startswith(".")]

    # --- checkpoints ------------------------------------------------------------------------

    def _put_checkpoint(self, checkpoint: Checkpoint, data: bytes) -> None:
        check_id("job", checkpoint.job_id)
        check_id("checkpoint", checkpoint.id)
        key = f"jobs/{checkpoint.job_id}/checkpoints/{checkpoint.id}.json"
        written = self._clock.next()
        stored = self._client.put(key, data, {WRITTEN: str(written)})
        # The bus stores a checkpoint before the event that carries it: once this returns,
        # the checkpoint and every event before it are in the bucket.
        self._client.flush()
        etag = stored.result().get("e_tag")
        self._checkpoints[key] = (etag, checkpoint.step_number, written)

    def _checkpoint_ref(
        self, job_id: str, checkpoint_id: str, key: str, fetched: Fetched
    ) -> CheckpointFileRef | None:
        match = _HEAD_STEP.match(fetched.data)
        if match is not None:
            step = int(match.group(1))
        else:
            if fetched.size > len(fetched.data):
                fetched = self._client.get(key) or fetched
            try:
                data = parse_json_object(fetched.data)
            except ValueError as error:
                self.warn_corrupt(self._where_key(key), str(error))
                return None
            step = data.get("stepNumber")
            if not isinstance(step, int) or isinstance(step, bool):
                self.warn_corrupt(
                    self._where_key(key), "not a checkpoint: stepNumber: missing or not a number"
                )
                return None
        written = self._written_ns(fetched)
        self._checkpoints[key] = (fetched.etag, step, written)
        return CheckpointFileRef(job_id, checkpoint_id, step, written)

    def list_checkpoint_files(self, job_id: str) -> list[CheckpointFileRef]:
        if not _safe(job_id):
            return []
        refs: list[CheckpointFileRef] = []
        unknown: list[tuple[str, str]] = []
        for meta, key, checkpoint_id in self._checkpoint_objects(job_id):
            known = self._checkpoints.get(key)
            if known is not None and known[0] is not None and known[0] == meta.get("e_tag"):
                refs.append(CheckpointFileRef(job_id, checkpoint_id, known[1], known[2]))
            else:
                unknown.append((key, checkpoint_id))
        heads = self._client.get_many([key for key, _ in unknown], head=_HEAD_BYTES)
        for (key, checkpoint_id), fetched in zip(unknown, heads):
            if fetched is not None:
                ref = self._checkpoint_ref(job_id, checkpoint_id, key, fetched)
                if ref is not None:
                    refs.append(ref)
        refs.sort(key=lambda ref: (ref.step, ref.written_ns, ref.checkpoint_id))
        return refs

    def _checkpoint_objects(self, job_id: str) -> list[tuple[dict[str, Any], str, str]]:
        """``(metadata, key, checkpoint id)`` of each checkpoint object of a (safe) job id,
        from one ``LIST`` (temporary ``.`` names and other files left out)."""
        found = []
        for meta in self._client.list(f"jobs/{job_id}/checkpoints/"):
            key: str = meta["path"]
            name = key.rsplit("/", 1)[-1]
            if not name.startswith(".") and name.endswith(".json"):
                found.append((meta, key, name[:-5]))
        return found

    def checkpoint_file(self, job_id: str, checkpoint_id: str) -> CheckpointFileRef | None:
        if not (_safe(job_id) and _safe(checkpoint_id)):
            return None
        key = f"jobs/{job_id}/checkpoints/{checkpoint_id}.json"
        fetched = self._fetch(key)
        if fetched is None:
            return None
        with self._lock:  # read next by _get_checkpoint, most likely
            self._bodies[key] = fetched
            while len(self._bodies) > 8:
                self._bodies.popitem(last=False)
        return self._checkpoint_ref(job_id, checkpoint_id, key, fetched)

    def _get_checkpoint(self, ref: CheckpointFileRef) -> RawJson | None:
        key = f"jobs/{ref.job_id}/checkpoints/{ref.checkpoint_id}.json"
        with self._lock:
            fetched = self._bodies.pop(key, None)
        if fetched is None or fetched.size > len(fetched.data):
            fetched = self._fetch(key)
        return self._parse(key, fetched)

    def _all_checkpoint_documents(self, job_id: str) -> dict[str, dict[str, Any]]:
        if not _safe(job_id):
            return {}
        objects = self._checkpoint_objects(job_id)
        fetched = self._client.get_many([key for _, key, _ in objects])
        found = {}
        for (_, key, checkpoint_id), body in zip(objects, fetched, strict=True):
            document = self._parse(key, body)
            if document is not None:
                found[checkpoint_id] = document.data
        return found

    def list_checkpoints(self, job_id: str) -> list[Checkpoint]:
        refs = self.list_checkpoint_files(job_id)
        self._prefetch([f"jobs/{job_id}/checkpoints/{ref.checkpoint_id}.json" for ref in refs])
        return [checkpoint for ref in refs if (checkpoint := self.read_checkpoint(ref))]

    # --- events -----------------------------------------------------------------------------

    def _put_event(self, event: RunEvent, data: bytes) -> None:
        check_id("job", event.job_id)
        check_id("run", event.run_id)
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9]*", event.type):
            raise PerstackError(f"Invalid event type: {event.type!r}")
        directory = f"jobs/{event.job_id}/runs/{event.run_id}"
        timestamp, step, event_type = event.timestamp, event.step_number, event.type
        names = (
            f"{directory}/event-{timestamp + bump}-{step}-{event_type}.json"
            for bump in range(_MAX_NAME_BUMPS)
        )
        self._client.put_new(names, data)

    def list_event_files(
        self,
        job_id: str,
        run_id: str | None = None,
        max_step: int | None = None,
        types: set[str] | frozenset[str] | None = None,
    ) -> list[EventFileRef]:
        if not _safe(job_id) or (run_id is not None and not _safe(run_id)):
            return []
        prefix = f"jobs/{job_id}/runs/" + ("" if run_id is None else f"{run_id}/")
        keyed: list[tuple[int, int, int, str, str, str]] = []
        for meta in self._client.list(prefix):
            key: str = meta["path"]
            run, _, name = key[len(f"jobs/{job_id}/runs/") :].partition("/")
            if not name.startswith("event-"):
                continue
            match = _EVENT_NAME.match(name)
            if match is None:
                self.warn_corrupt(self._where_key(key), "not an event file name")
                continue
            timestamp, step, event_type = int(match[1]), int(match[2]), match[3]
            if (max_step is not None and step > max_step) or (
                types is not None and event_type not in types
            ):
                continue
            keyed.append((timestamp, step, event_type_rank(event_type), run, name, event_type))
        keyed.sort()
        refs = [
            EventFileRef(job_id, run, timestamp, step, event_type, name)
            for timestamp, step, _, run, name, event_type in keyed
        ]
        with self._lock:
            self._listing = [f"jobs/{job_id}/runs/{ref.run_id}/{ref.name}" for ref in refs]
            self._listing_index = None
        return refs

    def _get_event(self, ref: EventFileRef) -> RawJson | None:
        key = f"jobs/{ref.job_id}/runs/{ref.run_id}/{ref.name}"
        with self._lock:
            future = self._ahead.pop(key, None)
            self._read_ahead(key)
        try:
            fetched = (
                self._fetch(key) if future is None else self._client.result(future, f"GET {key}")
            )
        except StorageError:
            with self._lock:  # the store is gone: do not queue more requests to wait for
                for pending in self._ahead.values():
                    pending.cancel()
                self._ahead.clear()
            raise
        return self._parse(key, fetched)

    def _read_ahead(self, key: str) -> None:
        """Start reading the events after ``key`` in the last listing (events never change,
        so what is read ahead stays true). Called with the lock held."""
        if self._listing_index is None:
            self._listing_index = {listed: index for index, listed in enumerate(self._listing)}
        index = self._listing_index.get(key)
        if index is None:
            return
        for following in self._listing[index + 1 : index + 1 + READ_AHEAD]:
            if following not in self._ahead:
                self._ahead[following] = self._client.get_soon(following)
        while len(self._ahead) > 4 * READ_AHEAD:  # reads skipped over: let them go
            self._ahead.pop(next(iter(self._ahead))).cancel()

    # --- run settings -----------------------------------------------------------------------

    def store_run_setting(self, job_id: str, run_id: str, setting: dict[str, Any]) -> None:
        from runtime.model import dumps

        check_id("job", job_id)
        check_id("run", run_id)
        key = f"jobs/{job_id}/runs/{run_id}/run-setting.json"
        existing = self._read_json(key)
        if existing is not None:
            document = existing.data
            document["updatedAt"] = now_ms()
        else:
            document = dict(setting)
            document.setdefault("updatedAt", now_ms())
        self._client.put(key, dumps(document), {WRITTEN: str(self._clock.next())})

    def retrieve_run_setting(self, job_id: str, run_id: str) -> dict[str, Any] | None:
        if not (_safe(job_id) and _safe(run_id)):
            return None
        document = self._read_json(f"jobs/{job_id}/runs/{run_id}/run-setting.json")
        return None if document is None else document.data

    def list_runs(self, job_id: str) -> list[dict[str, Any]]:
        ranked = self._ranked_runs([job_id] if _safe(job_id) else [])
        ranked.sort(key=lambda item: item[0], reverse=True)
        return [setting for _, _, _, setting in ranked]

    def latest_run(self) -> tuple[str, str] | None:
        ranked = self._ranked_runs(self.list_job_ids())
        if not ranked:
            return None
        _, job_id, run_id, _ = max(ranked, key=lambda item: item[0])
        return job_id, run_id

    def _ranked_runs(
        self, job_ids: list[str]
    ) -> list[tuple[tuple[int, int], str, str, dict[str, Any]]]:
        """``((updatedAt, write time), jobId, runId, setting)`` of every stored run setting
        of these jobs: one LIST per job and one GET per run, all at once."""
        runs = self._client.list_dirs([f"jobs/{job_id}/runs/" for job_id in job_ids])
        pairs = [(job_id, run_id) for job_id, names in zip(job_ids, runs) for run_id in names]
        keys = [f"jobs/{job_id}/runs/{run_id}/run-setting.json" for job_id, run_id in pairs]
        ranked = []
        for (job_id, run_id), key, fetched in zip(pairs, keys, self._client.get_many(keys)):
            document = self._parse(key, fetched)
            if fetched is None or document is None:
                continue
            written = self._written_ns(fetched)
            updated_at = document.data.get("updatedAt")
            if not isinstance(updated_at, (int, float)):
                updated_at = written // 1_000_000
            ranked.append(((int(updated_at), written), job_id, run_id, document.data))
        return ranked

    # --- workspaces and warnings ------------------------------------------------------------

    def _workspace_blobs(self) -> WorkspaceBlobs:
        from runtime.storage._workspace_blobs import ObjectWorkspaceBlobs

        return ObjectWorkspaceBlobs(self._client)

    def _where(self, ref: EventFileRef | CheckpointFileRef) -> str:
        if isinstance(ref, EventFileRef):
            return self._where_key(f"jobs/{ref.job_id}/runs/{ref.run_id}/{ref.name}")
        return self._where_key(f"jobs/{ref.job_id}/checkpoints/{ref.checkpoint_id}.json")
