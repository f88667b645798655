"""A job's workspace files for the API's ``/files`` routes: from a folder, or the bucket.

Jobs run by the embedded executor (and by Temporal's workers on a shared folder) work in
``server/workspaces/<jobId>/``, read as is. With Temporal's workers and the jobs in a bucket
(``PERSTACK_STORAGE_URL=s3://…``), the workers sync each job's workspace to the bucket at
every checkpoint (:mod:`runtime.distributed.bucket`): the routes read its manifest and
blobs there, so the server needs no folder the workers share.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path
from typing import Any

__all__ = ["WorkspaceFiles", "workspace_files"]


class WorkspaceFiles:
    """Listing and reading one store's job workspaces (see :func:`workspace_files`)."""

    def list(self, job_id: str) -> list[dict[str, Any]]:
        """``{path, size, modifiedAt}`` of each file, by path."""
        raise NotImplementedError

    def read(self, job_id: str, path: str) -> tuple[bytes, str] | None:
        """A file's bytes and media type, or ``None`` when there is no such file."""
        raise NotImplementedError


class _FolderFiles(WorkspaceFiles):
    def __init__(self, records: Any) -> None:
        self._records = records

    def list(self, job_id: str) -> list[dict[str, Any]]:
        root = self._records.workspace(job_id)
        return [
            {
                "path": path.relative_to(root).as_posix(),
                "size": (stat := path.stat()).st_size,
                "modifiedAt": stat.st_mtime_ns // 1_000_000,
            }
            for path in sorted(root.rglob("*"))
            if path.is_file() and not path.is_symlink()
        ]

    def read(self, job_id: str, path: str) -> tuple[bytes, str] | None:
        root = self._records.workspace(job_id).resolve()
        target = (root / path).resolve()
        if not target.is_relative_to(root) or not target.is_file():
            return None
        return target.read_bytes(), _media_type(target.name)


class _BucketFiles(WorkspaceFiles):
    def __init__(self, storage: Any) -> None:
        self._blobs = storage._workspace_blobs()

    def _manifest(self, job_id: str) -> dict[str, Any]:
        from runtime.storage.workspace import parse_manifest

        raw = self._blobs.read_manifest(job_id)
        return {} if raw is None else parse_manifest(raw, job_id)

    def list(self, job_id: str) -> list[dict[str, Any]]:
        return [
            {"path": path, "size": entry.size, "modifiedAt": entry.mtime_ns // 1_000_000}
            for path, entry in sorted(self._manifest(job_id).items())
        ]

    def read(self, job_id: str, path: str) -> tuple[bytes, str] | None:
        entry = self._manifest(job_id).get(path)
        data = None if entry is None else self._blobs.read_blob(job_id, entry.sha256)
        return None if data is None else (data, _media_type(path))


def workspace_files(settings: Any, records: Any, storage: Any) -> WorkspaceFiles:
    """Where the ``/files`` routes read: the bucket when Temporal's workers keep the jobs
    there, else the server's folder."""
    from runtime.storage.filestore import FileStorage

    if settings.temporal is not None and not isinstance(storage, FileStorage):
        return _BucketFiles(storage)
    return _FolderFiles(records)


def _media_type(name: str) -> str:
    return mimetypes.guess_type(Path(name).name)[0] or "application/octet-stream"
