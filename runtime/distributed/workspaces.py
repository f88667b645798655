"""Workspaces follow the job: a local folder on the worker, a shared copy in the storage.

A worker runs each job in a folder of its own disk. Before each checkpoint is stored, what
changed in that folder since the last sync is copied to the job's shared copy (so the
copy is never behind a checkpoint another worker could resume from); a worker that takes
a job over first brings its folder up to date from the shared copy. A worker keeps its
folders while it lives, with a note of what it last synced, so the steps of a job that
stay on one worker copy only what they change, and a part that comes back to a worker
copies only what others changed meanwhile.

Both directions copy changes only, file by file: parallel delegates on different workers
each bring their own files back (where two wrote the same file, the last sync wins), and
a file removed on one side is removed on the other unless it changed there since. Every
copy is written whole (a temporary file, then a rename), so a reader never sees half a
file.

:class:`WorkspaceSync` is what the worker needs of a backend; :class:`SharedFolderSync`
keeps the shared copies in ``<root>/server/workspaces/<jobId>/`` (where the API's
``/files`` routes read them), for a volume every machine mounts; in a bucket they are the
job's workspace manifest and blobs (:mod:`runtime.distributed.bucket`).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any, Protocol

from runtime.storage.atomic import TEMP_PREFIX

__all__ = ["SharedFolderSync", "WorkspaceSync", "workspaces_for"]

#: A file's size and modification time (ns): what tells that it changed.
Signature = tuple[int, int]


class WorkspaceSync(Protocol):
    """Keeps a worker's folder of a job and the job's shared copy in step."""

    def pull(self, job_id: str, local: Path) -> None:
        """Bring into ``local`` what changed in the shared copy since the last sync."""

    def push(self, job_id: str, local: Path) -> None:
        """Bring into the shared copy what changed in ``local`` since the last sync."""

    def forget(self, job_id: str) -> None:
        """This worker no longer keeps a folder of the job (it was removed)."""


def workspaces_for(storage: Any) -> WorkspaceSync:
    """The shared copies beside a job store: a folder every machine mounts, or the bucket
    (:class:`runtime.distributed.bucket.BucketWorkspaces`)."""
    from runtime.storage.filestore import FileStorage

    if isinstance(storage, FileStorage):
        return SharedFolderSync(storage.root)
    from runtime.distributed.bucket import BucketWorkspaces

    return BucketWorkspaces(storage)


class SharedFolderSync:
    """Shared copies in a folder every machine mounts.

    Args:
        root: The storage root; copies live in ``<root>/server/workspaces/<jobId>/``.
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(root) / "server" / "workspaces"
        #: job id -> path -> (local signature, shared signature) at the last sync.
        self._synced: dict[str, dict[str, tuple[Signature, Signature]]] = {}

    def shared(self, job_id: str) -> Path:
        """The job's shared copy."""
        return self.root / job_id

    def pull(self, job_id: str, local: Path) -> None:
        synced = self._synced.setdefault(job_id, {})
        shared = self.shared(job_id)
        remote = _files(shared)
        here = _files(local)
        for path, remote_sig in remote.items():
            known = synced.get(path)
            if known is not None and known[1] == remote_sig:
                continue  # unchanged there since the last sync
            if known is None and here.get(path) == remote_sig:
                synced[path] = (remote_sig, remote_sig)  # the same file already
                continue
            synced[path] = (_copy(shared / path, local / path), remote_sig)
        for path in [p for p in synced if p not in remote]:
            # Gone from the shared copy: remove it here too, unless it changed here since.
            if here.get(path) == synced[path][0]:
                (local / path).unlink(missing_ok=True)
            del synced[path]

    def push(self, job_id: str, local: Path) -> None:
        synced = self._synced.setdefault(job_id, {})
        shared = self.shared(job_id)
        here = _files(local)
        for path, local_sig in here.items():
            known = synced.get(path)
            if known is not None and known[0] == local_sig:
                continue
            synced[path] = (local_sig, _copy(local / path, shared / path))
        for path in [p for p in synced if p not in here]:
            (shared / path).unlink(missing_ok=True)
            del synced[path]

    def forget(self, job_id: str) -> None:
        self._synced.pop(job_id, None)


def _files(root: Path) -> dict[str, Signature]:
    """Every regular file under ``root`` (symlinks and temporary files left out)."""
    found: dict[str, Signature] = {}
    todo = [(str(root), "")]
    while todo:
        directory, prefix = todo.pop()
        try:
            entries = list(os.scandir(directory))
        except (FileNotFoundError, NotADirectoryError):
            continue
        for entry in entries:
            if entry.name.startswith(TEMP_PREFIX):
                continue
            name = f"{prefix}{entry.name}"
            if entry.is_dir(follow_symlinks=False):
                todo.append((entry.path, f"{name}/"))
            elif entry.is_file(follow_symlinks=False):
                stat = entry.stat(follow_symlinks=False)
                found[name] = (stat.st_size, stat.st_mtime_ns)
    return found


def _copy(source: Path, target: Path) -> Signature:
    """Copy ``source`` over ``target`` whole, keeping its modification time; return the
    copy's signature."""
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.parent / f"{TEMP_PREFIX}{os.urandom(6).hex()}-{target.name}"
    shutil.copy2(source, temporary)
    os.replace(temporary, target)
    stat = target.stat()
    return (stat.st_size, stat.st_mtime_ns)
