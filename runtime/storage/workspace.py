"""Workspaces that follow their job: a job's folder kept with the job, restored elsewhere.

A worker syncs the job's workspace folder at each checkpoint; a worker that takes the job
over restores it before the next step. Only what changed moves. Beside the job's other
documents, in every store::

    jobs/<jobId>/workspace/manifest.json    what the folder held at the last sync
    jobs/<jobId>/workspace/blobs/<sha256>   each distinct file content, once; never changed

The manifest is ``{"version": 1, "files": {"<posix path>": {"size": …, "mtimeNs": …,
"sha256": "…", "mode": 420}}, "removed": {"<posix path>": "<sha256>"}}``: ``removed``
names the files the job once listed and then removed, with their last content.

* :func:`sync_workspace` walks the folder (regular files only: symlinks and excluded paths
  are left out). A file whose size and modification time match the manifest keeps its hash
  without being read; any other is hashed. Contents the store lacks are uploaded, then the
  new manifest replaces the old in one atomic write, so a sync cut short (a killed worker)
  leaves the previous state whole. Last, blobs that neither the new nor the previous
  manifest uses are deleted (a restore that read the previous manifest a moment ago still
  finds its files). A folder unchanged since the last sync costs one read of the manifest.
* :func:`restore_workspace` makes the folder what the manifest says: each file whose local
  copy differs is downloaded to a temporary file beside it, checked against its hash, given
  its mode and modification time, and renamed into place. It merges, never wipes: a local
  file the manifest does not list is removed only when the job removed it (``removed``) and
  it still holds the content the job last had; files the job never listed, and files
  changed here since, are left alone (as are excluded paths). A folder already in that
  state costs one read of the manifest. With no manifest (never synced), nothing changes.

Exclude patterns are shell patterns (:mod:`fnmatch`) matched against each relative path and
each of its folders: ``"perstack"`` leaves out the whole ``perstack/`` folder, ``"*.log"``
every log file. Files must not change while a sync runs (at a checkpoint, no tool does).

Each store provides its side (:class:`WorkspaceBlobs`, in :mod:`._workspace_blobs`): files
under ``<root>/jobs/<jobId>/workspace/`` (a volume every machine mounts works too), the same
keys in a bucket, or memory.
"""

from __future__ import annotations

import fnmatch
import hashlib
import os
import shutil
import stat
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import NamedTuple, Protocol

import orjson

from runtime.storage.records import StorageError, check_id

__all__ = [
    "MANIFEST",
    "ManifestEntry",
    "file_digest",
    "manifest_bytes",
    "parse_manifest",
    "parse_removed",
    "WorkspaceBlobs",
    "WorkspaceSync",
    "restore_workspace",
    "sync_workspace",
]

MANIFEST = "manifest.json"
_RESTORE_PREFIX = ".perstack-restore-"


@dataclass(frozen=True, slots=True)
class WorkspaceSync:
    """What one sync or restore did.

    Attributes:
        files: Files in the workspace (the manifest) afterwards.
        transferred: Files uploaded (sync) or downloaded (restore).
        bytes: Their size in bytes.
        removed: Unused blobs deleted from the store (sync), or local files removed
            because the manifest does not list them (restore).
    """

    files: int
    transferred: int
    bytes: int
    removed: int


class ManifestEntry(NamedTuple):
    """One file of a manifest."""

    size: int
    mtime_ns: int
    sha256: str
    mode: int


class WorkspaceBlobs(Protocol):
    """What a store provides for workspaces: a manifest and content-addressed blobs."""

    def read_manifest(self, job_id: str) -> bytes | None:
        """The job's manifest as stored, or ``None``."""

    def write_manifest(self, job_id: str, data: bytes) -> None:
        """Replace the manifest atomically; stored when this returns."""

    def list_blobs(self, job_id: str) -> set[str]:
        """The digests of the job's stored blobs."""

    def upload_blobs(self, job_id: str, files: Sequence[tuple[str, Path]]) -> None:
        """Store each ``(digest, local file)``; stored when this returns."""

    def download_blobs(self, job_id: str, files: Sequence[tuple[str, Path]]) -> None:
        """Write each blob ``digest`` to its local path.

        Raises:
            StorageError: a blob is missing.
        """

    def delete_blobs(self, job_id: str, digests: Sequence[str]) -> None:
        """Delete these blobs (missing ones are fine)."""


# --- sync and restore ---------------------------------------------------------------------


def sync_workspace(
    blobs: WorkspaceBlobs, job_id: str, folder: Path, *, exclude: Iterable[str] = ()
) -> WorkspaceSync:
    """Store ``folder`` as the job's workspace, uploading only contents the store lacks.

    Args:
        blobs: The store's workspace side (``storage._workspace_blobs()``).
        job_id: The job.
        folder: The job's workspace folder on this machine.
        exclude: Shell patterns of paths to leave out (see the module docstring).

    Returns:
        What was done (``transferred == 0`` when nothing changed).

    Raises:
        StorageError: the store failed, or its manifest is corrupt.
    """
    check_id("job", job_id)
    folder = Path(folder)
    raw = blobs.read_manifest(job_id)
    previous = {} if raw is None else parse_manifest(raw, job_id)
    gone = {} if raw is None else parse_removed(raw, job_id)
    patterns = tuple(exclude)
    current: dict[str, ManifestEntry] = {}
    for relative, info in _scan(folder, patterns):
        known = previous.get(relative)
        if known is not None and (known.size, known.mtime_ns) == (info.st_size, info.st_mtime_ns):
            digest = known.sha256
        else:
            digest = file_digest(folder / relative)
        mode = info.st_mode & 0o777
        current[relative] = ManifestEntry(info.st_size, info.st_mtime_ns, digest, mode)
    if current == previous:
        return WorkspaceSync(len(current), 0, 0, 0)
    gone = {path: digest for path, digest in gone.items() if path not in current}
    gone.update((path, e.sha256) for path, e in previous.items() if path not in current)
    stored = blobs.list_blobs(job_id)
    missing: dict[str, tuple[str, ManifestEntry]] = {}
    for relative, entry in current.items():
        if entry.sha256 not in stored:
            missing.setdefault(entry.sha256, (relative, entry))
    blobs.upload_blobs(job_id, [(digest, folder / rel) for digest, (rel, _) in missing.items()])
    blobs.write_manifest(job_id, manifest_bytes(current, gone))
    used = {entry.sha256 for entry in current.values()}
    used.update(entry.sha256 for entry in previous.values())
    garbage = sorted(stored - used)
    blobs.delete_blobs(job_id, garbage)
    sent = sum(entry.size for _, entry in missing.values())
    return WorkspaceSync(len(current), len(missing), sent, len(garbage))


def restore_workspace(
    blobs: WorkspaceBlobs, job_id: str, folder: Path, *, exclude: Iterable[str] = ()
) -> WorkspaceSync:
    """Make ``folder`` what the job's workspace was at its last sync.

    Args:
        blobs: The store's workspace side (``storage._workspace_blobs()``).
        job_id: The job.
        folder: Where the workspace goes on this machine (created when missing).
        exclude: Shell patterns of local paths to leave alone.

    Returns:
        What was done (``transferred == 0`` when the folder was up to date).

    Raises:
        StorageError: the store failed, a blob is missing or does not match its hash, or
            the manifest is corrupt.
    """
    check_id("job", job_id)
    folder = Path(folder)
    raw = blobs.read_manifest(job_id)
    if raw is None:
        return WorkspaceSync(0, 0, 0, 0)
    manifest, gone = parse_manifest(raw, job_id), parse_removed(raw, job_id)
    folder.mkdir(parents=True, exist_ok=True)
    patterns = tuple(exclude)
    local = dict(_scan(folder, patterns))
    removed = 0
    for relative in sorted(set(local) - set(manifest)):
        # Only what the job removed, as the job had it: never a file of this machine's.
        if relative in gone and file_digest(folder / relative) == gone[relative]:
            (folder / relative).unlink()
            removed += 1
    wanted: list[tuple[str, ManifestEntry]] = []
    for relative, entry in manifest.items():
        target = folder / relative
        info = local.get(relative)
        if info is not None and info.st_size == entry.size:
            if info.st_mtime_ns == entry.mtime_ns or file_digest(target) == entry.sha256:
                _settle(target, entry)
                continue
        wanted.append((relative, entry))
    temps = [(entry.sha256, _temp_beside(folder / relative)) for relative, entry in wanted]
    try:
        blobs.download_blobs(job_id, temps)
        for (relative, entry), (_, temp) in zip(wanted, temps):
            if file_digest(temp) != entry.sha256:
                raise StorageError(
                    f"workspace of job {job_id}: {relative} does not match its stored hash"
                )
            _settle(temp, entry)
            target = folder / relative
            if target.is_dir() and not target.is_symlink():
                shutil.rmtree(target)  # a folder where the workspace has a file
            os.replace(temp, target)
    finally:
        for _, temp in temps:
            temp.unlink(missing_ok=True)
    sent = sum(entry.size for _, entry in wanted)
    return WorkspaceSync(len(manifest), len(wanted), sent, removed)


# --- helpers ------------------------------------------------------------------------------


def _excluded(relative: str, patterns: tuple[str, ...]) -> bool:
    return any(fnmatch.fnmatchcase(relative, pattern) for pattern in patterns)


def _scan(folder: Path, patterns: tuple[str, ...]) -> Iterable[tuple[str, os.stat_result]]:
    """``(posix relative path, lstat)`` of every regular file not excluded."""
    for directory, subdirectories, names in os.walk(folder):
        base = Path(directory).relative_to(folder).as_posix()
        prefix = "" if base == "." else f"{base}/"
        subdirectories[:] = [d for d in subdirectories if not _excluded(prefix + d, patterns)]
        for name in names:
            relative = prefix + name
            if name.startswith(_RESTORE_PREFIX) or _excluded(relative, patterns):
                continue
            info = os.lstat(os.path.join(directory, name))
            if stat.S_ISREG(info.st_mode):
                yield relative, info


def file_digest(path: Path) -> str:
    """The SHA-256 of a file's content (hex), the name of its blob."""
    with path.open("rb") as file:
        return hashlib.file_digest(file, "sha256").hexdigest()


def _settle(path: Path, entry: ManifestEntry) -> None:
    os.chmod(path, entry.mode)
    os.utime(path, ns=(entry.mtime_ns, entry.mtime_ns))


def _temp_beside(target: Path) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=_RESTORE_PREFIX, dir=target.parent)
    os.close(fd)
    return Path(name)


def manifest_bytes(files: dict[str, ManifestEntry], removed: dict[str, str] | None = None) -> bytes:
    """The manifest listing ``files`` and the ``removed`` ones (path -> last sha256)."""
    listed = {
        relative: {"size": e.size, "mtimeNs": e.mtime_ns, "sha256": e.sha256, "mode": e.mode}
        for relative, e in sorted(files.items())
    }
    return orjson.dumps(
        {"version": 1, "files": listed, "removed": dict(sorted((removed or {}).items()))}
    )


def parse_removed(raw: bytes, job_id: str) -> dict[str, str]:
    """A stored manifest's removed files: posix path -> the sha256 the job last had.

    Raises:
        StorageError: the manifest is corrupt.
    """
    try:
        removed = orjson.loads(raw).get("removed") or {}
        return {str(path): str(digest) for path, digest in removed.items()}
    except (ValueError, TypeError, AttributeError) as error:
        raise StorageError(f"workspace manifest of job {job_id} is corrupt: {error}") from None


def parse_manifest(raw: bytes, job_id: str) -> dict[str, ManifestEntry]:
    """A stored manifest's files: posix path -> entry.

    Raises:
        StorageError: the manifest is corrupt, or names a path outside the folder.
    """
    try:
        files = orjson.loads(raw)["files"]
        manifest = {
            relative: ManifestEntry(
                int(e["size"]), int(e["mtimeNs"]), str(e["sha256"]), int(e["mode"])
            )
            for relative, e in files.items()
        }
    except (ValueError, TypeError, KeyError, AttributeError) as error:
        raise StorageError(f"workspace manifest of job {job_id} is corrupt: {error}") from None
    for relative, entry in manifest.items():
        parts = PurePosixPath(relative).parts
        if (
            not parts
            or relative.startswith("/")
            or any(part in ("", ".", "..") for part in relative.split("/"))
            or len(entry.sha256) != 64
        ):
            raise StorageError(f"workspace manifest of job {job_id}: bad entry {relative!r}")
    return manifest
