"""Any job, from anywhere: a job id, a job folder, or a capture of ``perstack run``.

Wherever a command names a job (``perstack log --job``, ``perstack start --open``,
``perstack diff``, ``perstack fork``, the workbench's job list), the name may be

* a **job id** in the project's storage (``PERSTACK_STORAGE_PATH`` or ``./perstack``);
* a path to a **job folder**: ours, or upstream Perstack's layout without ``job.json``
  (spec §12), wherever it is (a bug report's attachment, another project's storage);
* a path to a **capture** of ``perstack run``'s stdout (``.jsonl``, one event per line,
  compact or ``--event-format upstream``); see :mod:`runtime.storage.capture`.

:func:`open_job` resolves the name into a :class:`JobSource`: a
:class:`~runtime.storage.base.Storage` holding the job, and the job's id in it. Everything
that reads jobs through ``Storage`` reads all three alike, and nothing here ever writes to
the job it opened.

A name that could be both (a folder in the current directory named like a stored job)
means the stored job; write ``./name`` for the folder.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from runtime._gcpause import paused_gc
from runtime.errors import PerstackError
from runtime.storage.filestore import JOB_FILE, FileStorage, check_id
from runtime.storage.locate import (
    StorageLocation,
    describe_location,
    open_storage,
    storage_location,
)
from runtime.storage.records import (
    EventFileRef,
    WarningHandler,
    _first_error,
    print_warning,
)

if TYPE_CHECKING:
    from runtime.events import RunEvent
    from runtime.model import Checkpoint
    from runtime.storage.base import Storage

__all__ = ["JobSource", "SourceKind", "holds_job", "open_job", "looks_like_path"]

SourceKind = Literal["stored", "folder", "capture"]
#: Events read (and put in order) at a time by :meth:`JobSource.iter_events`.
_BATCH = 256


@dataclass
class JobSource:
    """A job opened for reading, wherever it came from.

    Attributes:
        storage: A store holding the job (read it through this; never write to it).
        job_id: The job's id in ``storage``.
        kind: ``stored`` (an id in the project's storage), ``folder`` or ``capture``.
        location: Where it was found, as shown to people: the storage root, the folder,
            or the capture file.
        name: What the job was named by on the command line.
    """

    storage: Storage
    job_id: str
    kind: SourceKind
    location: str
    name: str

    def job_data(self) -> dict[str, Any]:
        """The job's record (``job.json``, or one reconstructed from its files)."""
        data = self.storage.job_data(self.job_id)
        if data is None:  # open_job checked there is something: keep the promise anyway
            return {"id": self.job_id, "status": "running", "coordinatorExpertKey": "",
                    "totalSteps": 0, "usage": {}, "startedAt": 0}  # fmt: skip
        return data

    def event_refs(self) -> list[EventFileRef]:
        """References to every run event of the job, in order (nothing read yet)."""
        return self.storage.list_event_files(self.job_id)

    def events(self) -> list[RunEvent]:
        """Every run event of the job, in order, without message histories.

        What the views need to derive rows, trees, replays and diffs: each event is read
        once and no history is rebuilt, so a long job loads in time proportional to its
        number of events (see :meth:`iter_events` to show the first ones early).
        """
        return [event for _, event in self.entries()]

    def entries(self) -> list[tuple[EventFileRef, RunEvent]]:
        """Every run event of the job with its reference, in order (see :meth:`events`)."""
        with paused_gc():
            return list(self.iter_events())

    def iter_events(
        self, refs: list[EventFileRef] | None = None
    ) -> Iterator[tuple[EventFileRef, RunEvent]]:
        """``(reference, event)`` of the job's run events (or those of ``refs``), slim,
        in order, as they are read.

        Read in batches, each put in the events' own timestamp order (a file name whose
        timestamp had to be bumped lists its event a little late), so a viewer can show
        the first rows before the last events are read.
        """
        from pydantic import ValidationError

        from runtime.events import RunEvent, parse_event

        storage = self.storage
        refs = self.event_refs() if refs is None else refs
        for start in range(0, len(refs), _BATCH):
            batch: list[tuple[int, int, EventFileRef, RunEvent]] = []
            for ref in refs[start : start + _BATCH]:
                data = storage.read_event_slim(ref)
                if data is None:
                    continue
                try:
                    event = parse_event(data)
                except ValidationError as error:
                    where = storage._where(ref)
                    storage.warn_corrupt(where, f"not a run event: {_first_error(error)}")
                    continue
                if not isinstance(event, RunEvent):
                    storage.warn_corrupt(storage._where(ref), f"not a run event: {event.type}")
                    continue
                batch.append((event.timestamp, ref.timestamp, ref, event))
            batch.sort(key=lambda item: (item[0], item[1]))
            yield from ((ref, event) for _, _, ref, event in batch)

    def checkpoint_expert(self, checkpoint_id: str) -> str:
        """The key of the Expert whose checkpoint ``checkpoint_id`` is (read without
        rebuilding its history or validating it: cheap on a long job).

        Raises:
            PerstackError: ``Checkpoint <id> not found in job <job>``.
        """
        ref = self.storage.checkpoint_file(self.job_id, checkpoint_id)
        document = None if ref is None else self.storage._get_checkpoint(ref)
        expert = None if document is None else document.data.get("expert")
        if not isinstance(expert, dict) or not isinstance(expert.get("key"), str):
            raise PerstackError(f"Checkpoint {checkpoint_id} not found in job {self.job_id}")
        return expert["key"]

    def checkpoint(self, checkpoint_id: str) -> Checkpoint:
        """One of the job's checkpoints, whole.

        Raises:
            PerstackError: ``Checkpoint <id> not found in job <job>``.
        """
        checkpoint = self.storage.retrieve_checkpoint(self.job_id, checkpoint_id)
        if checkpoint is None:
            raise PerstackError(f"Checkpoint {checkpoint_id} not found in job {self.job_id}")
        return checkpoint


def looks_like_path(name: str) -> bool:
    """Whether ``name`` can only be a path (not a job id): it has a separator, starts
    with ``.`` or ``~``, or ends in ``.jsonl``/``.json``."""
    return (
        "/" in name
        or os.sep in name
        or name.startswith((".", "~"))
        or name.endswith((".jsonl", ".json"))
    )


def open_job(
    name: str,
    *,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    storage_root: StorageLocation | None = None,
    on_warning: WarningHandler = print_warning,
) -> JobSource:
    """Open the job ``name`` names: a stored job's id, a job folder or a capture.

    Args:
        name: As given on the command line.
        cwd: Where relative paths (and the default storage root) start; the current
            directory by default.
        env: The environment (for ``PERSTACK_STORAGE_URL`` / ``PERSTACK_STORAGE_PATH``);
            the process's by default.
        storage_root: The project's storage (a folder or an ``s3://`` URL), when already
            known.
        on_warning: Receives one line per problem found while reading (a cut capture,
            a corrupt file).

    Raises:
        PerstackError: nothing by that name, a folder that holds no job, a capture that
            holds no event, an unreadable file (one line naming it).
    """
    cwd = cwd or Path.cwd()
    if not name:
        raise PerstackError("No job named: give a job id, a job folder or a .jsonl capture")
    env = os.environ if env is None else env
    root = storage_root or storage_location(cwd, env)
    if not looks_like_path(name):
        check_id("job", name)
        storage = open_storage(root, env=env, on_warning=on_warning)
        if holds_job(storage, name):
            return JobSource(storage, name, "stored", describe_location(root), name)
    path = (cwd / Path(name).expanduser()).resolve()
    if path.is_dir():
        return _open_folder(path, name, on_warning)
    if path.is_file():
        return _open_capture(path, name, on_warning)
    if looks_like_path(name):
        raise PerstackError(f"{name}: no such file or folder")
    raise PerstackError(
        f"Job {name} not found in {root} (and no file or folder of that name here); "
        "name a job id, a job folder or a .jsonl capture"
    )


def holds_job(storage: Storage, job_id: str) -> bool:
    """Whether ``storage`` holds anything of the job ``job_id``."""
    if isinstance(storage, FileStorage):
        return (storage.root / "jobs" / job_id).is_dir()
    return storage.read_job_raw(job_id) is not None or bool(storage.list_checkpoint_files(job_id))


class _FolderStorage(FileStorage):
    """The one job of a folder, wherever the folder is (its parent acts as ``jobs/``)."""

    def __init__(self, folder: Path, on_warning: WarningHandler) -> None:
        super().__init__(folder.parent, on_warning=on_warning)
        self._jobs_dir = str(folder.parent)
        self._job_id = folder.name

    def __repr__(self) -> str:
        return f"FileStorage(job folder {self._jobs_dir}{os.sep}{self._job_id!r})"

    def list_job_ids(self) -> list[str]:
        return [self._job_id]


def _open_folder(path: Path, name: str, on_warning: WarningHandler) -> JobSource:
    if (path / "jobs").is_dir() and not (path / JOB_FILE).exists():
        raise PerstackError(
            f"{name} is a storage root, not a job: name one of its jobs ({name}/jobs/<jobId>)"
        )
    if not any((path / part).exists() for part in (JOB_FILE, "checkpoints", "runs")):
        raise PerstackError(f"{name}: not a job folder (no {JOB_FILE}, checkpoints/ or runs/)")
    job_id = check_id("job", path.name)
    if path.parent.name == "jobs":  # inside a storage root: the usual layout
        storage: FileStorage = FileStorage(path.parent.parent, on_warning=on_warning)
    else:
        storage = _FolderStorage(path, on_warning)
    return JobSource(storage, job_id, "folder", str(path), name)


def _open_capture(path: Path, name: str, on_warning: WarningHandler) -> JobSource:
    from runtime.storage.capture import CaptureError, read_capture

    try:
        storage = read_capture(path, on_warning)
    except CaptureError as error:
        raise PerstackError(f"{error}: not a capture of perstack run's events") from None
    except OSError as error:
        raise PerstackError(f"{name}: {error.strerror or error}") from None
    assert storage.job_id is not None
    return JobSource(storage, storage.job_id, "capture", str(path), name)
