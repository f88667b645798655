"""Jobs on disk in upstream Perstack's layout (spec §12), written atomically.

```
<root>/jobs/<jobId>/job.json                                        Job, 2-space JSON
<root>/jobs/<jobId>/checkpoints/<checkpointId>.json                 Checkpoint, compact
<root>/jobs/<jobId>/runs/<runId>/run-setting.json                   RunSetting, compact
<root>/jobs/<jobId>/runs/<runId>/event-<timestamp>-<step>-<type>.json   RunEvent, compact
```

Writes go through :mod:`runtime.storage.atomic` (temp file + rename/link, no fsync: safe
against a crashing process, not against power loss). Reads skip anything that is not a
whole, valid document, with one warning per file.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runtime.errors import PerstackError
from runtime.storage.atomic import (
    TEMP_PREFIX,
    remove_stale_temp_files,
    write_exclusive,
    write_replace,
)
from runtime.storage.base import Storage
from runtime.storage.records import (
    CheckpointFileRef,
    EventFileRef,
    RawJson,
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

__all__ = ["FileStorage", "check_id"]

JOB_FILE = "job.json"
RUN_SETTING_FILE = "run-setting.json"
_EVENT_PREFIX = "event-"
# How many later timestamps `store_event` tries when an event's file name is taken.
_MAX_NAME_BUMPS = 100_000
_EVENT_TYPE = re.compile(r"[A-Za-z][A-Za-z0-9]*\Z")
# A checkpoint's step, read from its first bytes when every key before `stepNumber` is a
# plain string (so it is certainly the top-level one): the case for files written by us
# and by upstream. Anything else is parsed in full.
_HEAD_STEP = re.compile(rb'\{(?:"[A-Za-z]+":"[^"\\]*",)*"stepNumber":(\d+)[,}]')
_HEAD_BYTES = 4096


def _is_safe_id(value: str | None) -> bool:
    try:
        check_id("", value or "")
    except PerstackError:
        return False
    return True


_READ_FLAGS = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)


def _read_bytes(path: str) -> bytes:
    """The whole file, in as few system calls as possible (``perstack log`` reads 10k+)."""
    fd = os.open(path, _READ_FLAGS)
    try:
        size = os.fstat(fd).st_size
        data = os.read(fd, size + 1)
        if len(data) <= size:
            return data  # a short read of a regular file: that was all of it
        chunks = [data]  # the file grew while we read it: read on to the end
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


class FileStorage(Storage):
    """Jobs under ``<root>/jobs`` (see the module docstring for the layout).

    Args:
        root: The storage root (``default_storage_root`` gives the usual one).
        on_warning: Receives one line per skipped corrupt file; defaults to stderr.
    """

    def __init__(self, root: Path, on_warning: WarningHandler = print_warning) -> None:
        self.root = Path(root)
        self._jobs_dir = str(self.root / "jobs")
        self._on_warning = on_warning
        self._warned: set[str] = set()
        # Orders checkpoints (and run settings) more finely than the filesystem clock.
        self._clock = WriteClock()

    def __repr__(self) -> str:
        return f"FileStorage({str(self.root)!r})"

    # --- paths ----------------------------------------------------------------------

    def _job_dir(self, job_id: str) -> str:
        return f"{self._jobs_dir}{os.sep}{job_id}"

    def _checkpoints_dir(self, job_id: str) -> str:
        return f"{self._jobs_dir}{os.sep}{job_id}{os.sep}checkpoints"

    def _runs_dir(self, job_id: str) -> str:
        return f"{self._jobs_dir}{os.sep}{job_id}{os.sep}runs"

    def _run_dir(self, job_id: str, run_id: str) -> str:
        return f"{self._runs_dir(job_id)}{os.sep}{run_id}"

    # --- jobs -----------------------------------------------------------------------

    def store_job(self, job: Job) -> None:
        from runtime.model import dumps

        check_id("job", job.id)
        write_replace(self._job_dir(job.id), JOB_FILE, dumps(job, indent=True))

    def read_job_raw(self, job_id: str) -> RawJson | None:
        if not _is_safe_id(job_id):
            return None
        return self._read_json(self._job_where(job_id))

    def _job_where(self, job_id: str) -> str:
        return f"{self._job_dir(job_id)}{os.sep}{JOB_FILE}"

    def job_created_at(self, job_id: str) -> int:
        try:
            return os.stat(self._job_dir(job_id)).st_mtime_ns // 1_000_000
        except OSError:
            return now_ms()

    def list_job_ids(self) -> list[str]:
        return _subdirectories(self._jobs_dir)

    # --- checkpoints ----------------------------------------------------------------

    def _put_checkpoint(self, checkpoint: Checkpoint, data: bytes) -> None:
        check_id("job", checkpoint.job_id)
        check_id("checkpoint", checkpoint.id)
        write_replace(
            self._checkpoints_dir(checkpoint.job_id),
            f"{checkpoint.id}.json",
            data,
            mtime_ns=self._clock.next(),
        )

    def list_checkpoint_files(self, job_id: str) -> list[CheckpointFileRef]:
        if not _is_safe_id(job_id):
            return []
        directory = self._checkpoints_dir(job_id)
        try:
            names = os.listdir(directory)
        except (FileNotFoundError, NotADirectoryError):
            return []
        refs: list[CheckpointFileRef] = []
        temps: list[str] = []
        for name in names:
            if name[0] == ".":
                if name.startswith(TEMP_PREFIX):
                    temps.append(name)
                continue
            if name.endswith(".json"):
                ref = self._checkpoint_ref(job_id, directory, name[:-5])
                if ref is not None:
                    refs.append(ref)
        if temps:
            remove_stale_temp_files(directory, temps)
        refs.sort(key=lambda ref: (ref.step, ref.written_ns, ref.checkpoint_id))
        return refs

    def checkpoint_file(self, job_id: str, checkpoint_id: str) -> CheckpointFileRef | None:
        if not (_is_safe_id(job_id) and _is_safe_id(checkpoint_id)):
            return None
        return self._checkpoint_ref(job_id, self._checkpoints_dir(job_id), checkpoint_id)

    def _checkpoint_ref(
        self, job_id: str, directory: str, checkpoint_id: str
    ) -> CheckpointFileRef | None:
        path = f"{directory}{os.sep}{checkpoint_id}.json"
        try:
            fd = os.open(path, _READ_FLAGS)
        except (FileNotFoundError, NotADirectoryError):
            return None
        except OSError as error:
            self.warn_corrupt(path, f"unreadable ({error.strerror})")
            return None
        try:
            stat = os.fstat(fd)
            head = os.read(fd, _HEAD_BYTES)
        finally:
            os.close(fd)
        match = _HEAD_STEP.match(head)
        if match is not None:
            step = int(match.group(1))
        else:
            try:
                data = parse_json_object(head if stat.st_size <= len(head) else _read_bytes(path))
            except (ValueError, OSError) as error:
                self.warn_corrupt(path, str(error))
                return None
            step = data.get("stepNumber")
            if not isinstance(step, int) or isinstance(step, bool):
                self.warn_corrupt(path, "not a checkpoint: stepNumber: missing or not a number")
                return None
        return CheckpointFileRef(job_id, checkpoint_id, step, stat.st_mtime_ns, directory)

    def _get_checkpoint(self, ref: CheckpointFileRef) -> RawJson | None:
        return self._read_json(f"{ref.directory}{os.sep}{ref.checkpoint_id}.json")

    # --- events ---------------------------------------------------------------------

    def _put_event(self, event: RunEvent, data: bytes) -> None:
        check_id("job", event.job_id)
        check_id("run", event.run_id)
        event_type = event.type
        if not _EVENT_TYPE.match(event_type):
            raise PerstackError(f"Invalid event type: {event_type!r}")
        timestamp, step = event.timestamp, event.step_number
        # The runtime gives each event of a job a later timestamp than the one before, so
        # the first name is almost always free. When it is not, bump the timestamp in the
        # *name* (the JSON keeps the real one) rather than overwrite the other event.
        names = (
            f"{_EVENT_PREFIX}{timestamp + bump}-{step}-{event_type}.json"
            for bump in range(_MAX_NAME_BUMPS)
        )
        write_exclusive(self._run_dir(event.job_id, event.run_id), names, data)

    def list_event_files(
        self,
        job_id: str,
        run_id: str | None = None,
        max_step: int | None = None,
        types: set[str] | frozenset[str] | None = None,
    ) -> list[EventFileRef]:
        if not _is_safe_id(job_id):
            return []
        runs_dir = self._runs_dir(job_id)
        if run_id is not None:
            run_ids = [run_id] if _is_safe_id(run_id) else []
        else:
            run_ids = _subdirectories(runs_dir)
        # `perstack log` lists 100k-file runs: keep the per-name work to C-level string
        # methods, and drop other types by suffix before parsing anything.
        suffixes = None if types is None else tuple(f"-{event_type}.json" for event_type in types)
        keyed: list[tuple[int, int, int, str, str, str, str]] = []
        for run in run_ids:
            directory = f"{runs_dir}{os.sep}{run}"
            try:
                names = os.listdir(directory)
            except (FileNotFoundError, NotADirectoryError):
                continue
            temps = [name for name in names if name.startswith(TEMP_PREFIX)]
            if temps:
                remove_stale_temp_files(directory, temps)
            if suffixes is not None:
                names = [name for name in names if name.endswith(suffixes)]
            for name in names:
                if not name.startswith(_EVENT_PREFIX) or not name.endswith(".json"):
                    continue
                dash = name.rfind("-")
                event_type = name[dash + 1 : -5]
                timestamp_text, _, step_text = name[6:dash].partition("-")
                if not (_is_number(timestamp_text) and _is_number(step_text) and event_type):
                    self.warn_corrupt(f"{directory}{os.sep}{name}", "not an event file name")
                    continue
                step = int(step_text)
                if max_step is not None and step > max_step:
                    continue
                keyed.append(
                    (int(timestamp_text), step, event_type_rank(event_type), run, name,
                     event_type, directory)
                )  # fmt: skip
        keyed.sort()
        return [
            EventFileRef(job_id, run, timestamp, step, event_type, name, directory)
            for timestamp, step, _, run, name, event_type, directory in keyed
        ]

    def _get_event(self, ref: EventFileRef) -> RawJson | None:
        return self._read_json(f"{ref.directory}{os.sep}{ref.name}")

    # --- run settings ---------------------------------------------------------------

    def store_run_setting(self, job_id: str, run_id: str, setting: dict[str, Any]) -> None:
        from runtime.model import dumps

        check_id("job", job_id)
        check_id("run", run_id)
        directory = self._run_dir(job_id, run_id)
        existing = self._read_json(f"{directory}{os.sep}{RUN_SETTING_FILE}")
        if existing is not None:
            document = existing.data
            document["updatedAt"] = now_ms()
        else:
            document = dict(setting)
            document.setdefault("updatedAt", now_ms())
        write_replace(directory, RUN_SETTING_FILE, dumps(document), mtime_ns=self._clock.next())

    def retrieve_run_setting(self, job_id: str, run_id: str) -> dict[str, Any] | None:
        if not (_is_safe_id(job_id) and _is_safe_id(run_id)):
            return None
        document = self._read_json(f"{self._run_dir(job_id, run_id)}{os.sep}{RUN_SETTING_FILE}")
        return None if document is None else document.data

    def list_runs(self, job_id: str) -> list[dict[str, Any]]:
        ranked = self._ranked_runs(job_id)
        ranked.sort(key=lambda item: item[0], reverse=True)
        return [setting for _, _, setting in ranked]

    def latest_run(self) -> tuple[str, str] | None:
        best: tuple[tuple[int, int], str, str] | None = None
        for job_id in self.list_job_ids():
            for rank, run_id, _ in self._ranked_runs(job_id):
                if best is None or rank > best[0]:
                    best = (rank, job_id, run_id)
        return None if best is None else (best[1], best[2])

    def _ranked_runs(self, job_id: str) -> list[tuple[tuple[int, int], str, dict[str, Any]]]:
        """``((updatedAt, write time), runId, setting)`` of every stored run setting."""
        if not _is_safe_id(job_id):
            return []
        runs_dir = self._runs_dir(job_id)
        ranked = []
        for run_id in _subdirectories(runs_dir):
            path = f"{runs_dir}{os.sep}{run_id}{os.sep}{RUN_SETTING_FILE}"
            try:
                written_ns = os.stat(path).st_mtime_ns
            except OSError:
                continue
            document = self._read_json(path)
            if document is None:
                continue
            updated_at = document.data.get("updatedAt")
            if not isinstance(updated_at, (int, float)):
                updated_at = written_ns // 1_000_000
            ranked.append(((int(updated_at), written_ns), run_id, document.data))
        return ranked

    # --- workspaces -----------------------------------------------------------------

    def _workspace_blobs(self) -> WorkspaceBlobs:
        from runtime.storage._workspace_blobs import FileWorkspaceBlobs

        return FileWorkspaceBlobs(Path(self._jobs_dir))

    # --- reading --------------------------------------------------------------------

    def _read_json(self, path: str) -> RawJson | None:
        """A whole JSON object from ``path``; ``None`` when missing or (with a warning) bad."""
        try:
            raw = _read_bytes(path)
        except (FileNotFoundError, NotADirectoryError):
            return None
        except OSError as error:
            self.warn_corrupt(path, f"unreadable ({error.strerror})")
            return None
        try:
            return RawJson(parse_json_object(raw), raw)
        except ValueError as error:
            self.warn_corrupt(path, str(error))
            return None


def _is_number(text: str) -> bool:
    return text.isascii() and text.isdigit()


def _subdirectories(directory: str) -> list[str]:
    try:
        with os.scandir(directory) as entries:
            return sorted(
                entry.name
                for entry in entries
                if entry.name[0] != "." and entry.is_dir(follow_symlinks=False)
            )
    except (FileNotFoundError, NotADirectoryError):
        return []
