"""Each store's side of workspaces (see :mod:`runtime.storage.workspace`): a manifest and
content-addressed blobs, in a folder, a bucket or memory."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from runtime.storage.atomic import TEMP_PREFIX, remove_stale_temp_files, write_replace
from runtime.storage.records import StorageError, check_id
from runtime.storage.workspace import MANIFEST

if TYPE_CHECKING:
    from runtime.storage._s3 import S3Client

__all__ = ["FileWorkspaceBlobs", "MemoryWorkspaceBlobs", "ObjectWorkspaceBlobs"]


class FileWorkspaceBlobs:
    """Workspaces under ``<root>/jobs/<jobId>/workspace/`` (a shared volume works too)."""

    def __init__(self, jobs_dir: Path) -> None:
        self._jobs_dir = Path(jobs_dir)

    def _dir(self, job_id: str) -> Path:
        return self._jobs_dir / check_id("job", job_id) / "workspace"

    def read_manifest(self, job_id: str) -> bytes | None:
        try:
            return (self._dir(job_id) / MANIFEST).read_bytes()
        except (FileNotFoundError, NotADirectoryError):
            return None

    def write_manifest(self, job_id: str, data: bytes) -> None:
        write_replace(str(self._dir(job_id)), MANIFEST, data)

    def list_blobs(self, job_id: str) -> set[str]:
        directory = self._dir(job_id) / "blobs"
        try:
            names = os.listdir(directory)
        except (FileNotFoundError, NotADirectoryError):
            return set()
        temps = [name for name in names if name.startswith(TEMP_PREFIX)]
        if temps:
            remove_stale_temp_files(str(directory), temps)
        return {name for name in names if not name.startswith(".")}

    def upload_blobs(self, job_id: str, files: Sequence[tuple[str, Path]]) -> None:
        directory = self._dir(job_id) / "blobs"
        directory.mkdir(parents=True, exist_ok=True)
        for digest, path in files:
            fd, temp = tempfile.mkstemp(prefix=TEMP_PREFIX, dir=directory)
            try:
                with open(fd, "wb") as out, path.open("rb") as source:
                    shutil.copyfileobj(source, out, 1 << 20)
                os.replace(temp, directory / digest)
            except BaseException:
                Path(temp).unlink(missing_ok=True)
                raise

    def download_blobs(self, job_id: str, files: Sequence[tuple[str, Path]]) -> None:
        directory = self._dir(job_id) / "blobs"
        for digest, path in files:
            try:
                shutil.copyfile(directory / digest, path)
            except FileNotFoundError:
                raise StorageError(f"workspace of job {job_id}: blob {digest} is missing") from None

    def delete_blobs(self, job_id: str, digests: Sequence[str]) -> None:
        directory = self._dir(job_id) / "blobs"
        for digest in digests:
            (directory / digest).unlink(missing_ok=True)


class ObjectWorkspaceBlobs:
    """Workspaces under ``<prefix>/jobs/<jobId>/workspace/`` in a bucket."""

    def __init__(self, client: S3Client) -> None:
        self._client = client

    @staticmethod
    def _prefix(job_id: str) -> str:
        return f"jobs/{check_id('job', job_id)}/workspace/"

    def read_manifest(self, job_id: str) -> bytes | None:
        fetched = self._client.get(self._prefix(job_id) + MANIFEST)
        return None if fetched is None else fetched.data

    def write_manifest(self, job_id: str, data: bytes) -> None:
        self._client.put(self._prefix(job_id) + MANIFEST, data)
        self._client.flush()

    def read_manifest_version(self, job_id: str) -> tuple[bytes | None, str | None]:
        """The manifest and its version (ETag), for :meth:`replace_manifest`."""
        fetched = self._client.get(self._prefix(job_id) + MANIFEST)
        return (None, None) if fetched is None else (fetched.data, fetched.etag)

    def replace_manifest(self, job_id: str, data: bytes, version: str | None) -> bool:
        """Write the manifest only if it is still at ``version``; ``False`` if not."""
        return self._client.put_if(self._prefix(job_id) + MANIFEST, data, version)

    def list_blobs(self, job_id: str) -> set[str]:
        prefix = self._prefix(job_id) + "blobs/"
        return {meta["path"][len(prefix) :] for meta in self._client.list(prefix)}

    def upload_blobs(self, job_id: str, files: Sequence[tuple[str, Path]]) -> None:
        prefix = self._prefix(job_id) + "blobs/"
        self._client.upload_many([(prefix + digest, path) for digest, path in files])

    def download_blobs(self, job_id: str, files: Sequence[tuple[str, Path]]) -> None:
        prefix = self._prefix(job_id) + "blobs/"
        found = self._client.download_many([(prefix + digest, path) for digest, path in files])
        for (digest, _), ok in zip(files, found):
            if not ok:
                raise StorageError(f"workspace of job {job_id}: blob {digest} is missing")

    def delete_blobs(self, job_id: str, digests: Sequence[str]) -> None:
        prefix = self._prefix(job_id) + "blobs/"
        self._client.delete([prefix + digest for digest in digests])

    def read_blob(self, job_id: str, digest: str) -> bytes | None:
        """One blob's bytes, or ``None`` when it is missing."""
        fetched = self._client.get(self._prefix(job_id) + "blobs/" + digest)
        return None if fetched is None else fetched.data


class MemoryWorkspaceBlobs:
    """Workspaces kept in memory (``MemoryStorage``)."""

    def __init__(self) -> None:
        self._manifests: dict[str, bytes] = {}
        self._blobs: dict[str, dict[str, bytes]] = {}

    def read_manifest(self, job_id: str) -> bytes | None:
        return self._manifests.get(job_id)

    def write_manifest(self, job_id: str, data: bytes) -> None:
        self._manifests[job_id] = bytes(data)

    def list_blobs(self, job_id: str) -> set[str]:
        return set(self._blobs.get(job_id, {}))

    def upload_blobs(self, job_id: str, files: Sequence[tuple[str, Path]]) -> None:
        stored = self._blobs.setdefault(job_id, {})
        for digest, path in files:
            stored[digest] = path.read_bytes()

    def download_blobs(self, job_id: str, files: Sequence[tuple[str, Path]]) -> None:
        stored = self._blobs.get(job_id, {})
        for digest, path in files:
            if digest not in stored:
                raise StorageError(f"workspace of job {job_id}: blob {digest} is missing")
            path.write_bytes(stored[digest])

    def delete_blobs(self, job_id: str, digests: Sequence[str]) -> None:
        stored = self._blobs.get(job_id, {})
        for digest in digests:
            stored.pop(digest, None)
