"""Workspaces that follow their job: sync at a checkpoint, restore on another machine, with
only what changed moving; for the file store (a volume every machine mounts), the S3 store
(a real S3 HTTP API) and memory alike."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from runtime.storage import FileStorage, MemoryStorage, Storage, StorageError
from runtime.storage._workspace_blobs import FileWorkspaceBlobs


@pytest.fixture(params=["file", "s3", "memory"])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> Storage:
    if request.param == "file":
        return FileStorage(tmp_path / "shared-volume")
    if request.param == "s3":
        from runtime.storage.objectstore import ObjectStorage

        bucket = request.getfixturevalue("s3")
        return ObjectStorage(bucket.url, env=bucket.env)
    return MemoryStorage()


def tree(folder: Path) -> dict[str, tuple[bytes, int, int]]:
    """Every regular file: its bytes, permission bits and modification time."""
    found = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file() and not path.is_symlink():
            info = path.stat()
            found[path.relative_to(folder).as_posix()] = (
                path.read_bytes(),
                info.st_mode & 0o777,
                info.st_mtime_ns,
            )
    return found


def make_workspace(folder: Path) -> None:
    (folder / "src/pkg").mkdir(parents=True)
    (folder / "src/pkg/app.py").write_text("print('hi')\n")
    (folder / "README.md").write_text("# Project\n")
    (folder / "run.sh").write_text("#!/bin/sh\necho run\n")
    (folder / "run.sh").chmod(0o755)
    (folder / "data.bin").write_bytes(os.urandom(300_000))
    (folder / "copy.bin").write_bytes((folder / "data.bin").read_bytes())  # same content


def test_sync_then_restore_on_another_machine(storage: Storage, tmp_path: Path) -> None:
    here, there = tmp_path / "worker-a", tmp_path / "worker-b"
    make_workspace(here)
    (here / "link").symlink_to(here / "README.md")  # symlinks stay behind

    first = storage.sync_workspace("job1", here)
    assert (first.files, first.transferred) == (5, 4)  # data.bin and copy.bin: one content
    assert first.bytes == sum(len(v[0]) for k, v in tree(here).items() if k != "copy.bin")

    restored = storage.restore_workspace("job1", there)
    assert (restored.files, restored.transferred, restored.removed) == (5, 5, 0)
    assert tree(there) == tree(here)
    assert not (there / "link").exists()
    assert [p.name for p in there.rglob(".perstack-restore-*")] == []


def test_only_what_changed_moves(storage: Storage, tmp_path: Path) -> None:
    here, there = tmp_path / "worker-a", tmp_path / "worker-b"
    make_workspace(here)
    storage.sync_workspace("job1", here)
    storage.restore_workspace("job1", there)

    unchanged = storage.sync_workspace("job1", here)
    assert (unchanged.files, unchanged.transferred, unchanged.bytes) == (5, 0, 0)
    assert storage.restore_workspace("job1", there).transferred == 0

    (here / "src/pkg/app.py").write_text("print('changed')\n")
    (here / "notes.md").write_text("new\n")
    (here / "README.md").rename(here / "docs.md")  # same content, new name
    (here / "copy.bin").unlink()
    changed = storage.sync_workspace("job1", here)
    assert (changed.files, changed.transferred) == (5, 2)  # app.py and notes.md only
    assert changed.removed == 0  # the old app.py is kept one sync more (see the docstring)

    again = storage.restore_workspace("job1", there)
    assert (again.transferred, again.removed) == (3, 2)  # app.py, notes.md, docs.md; gone: 2
    assert tree(there) == tree(here)

    (here / "notes.md").unlink()
    assert storage.sync_workspace("job1", here).removed == 1  # the first app.py, at last


def test_excluded_paths_are_left_out_and_left_alone(storage: Storage, tmp_path: Path) -> None:
    here, there = tmp_path / "worker-a", tmp_path / "worker-b"
    make_workspace(here)
    (here / "perstack/jobs").mkdir(parents=True)
    (here / "perstack/jobs/x.json").write_text("{}")
    (here / "debug.log").write_text("noise")
    exclude = ["perstack", "*.log"]
    assert storage.sync_workspace("job1", here, exclude=exclude).files == 5

    there.mkdir()
    (there / "local.log").write_text("mine")
    storage.restore_workspace("job1", there, exclude=exclude)
    assert (there / "local.log").read_text() == "mine"
    assert not (there / "perstack").exists()


def test_restore_replaces_a_folder_of_the_same_name(storage: Storage, tmp_path: Path) -> None:
    here, there = tmp_path / "worker-a", tmp_path / "worker-b"
    make_workspace(here)
    storage.sync_workspace("job1", here)
    (there / "README.md").mkdir(parents=True)
    (there / "README.md/old.txt").write_text("old")
    storage.restore_workspace("job1", there)
    assert tree(there) == tree(here)


def test_a_job_never_synced_restores_nothing(storage: Storage, tmp_path: Path) -> None:
    folder = tmp_path / "w"
    folder.mkdir()
    (folder / "keep.txt").write_text("mine")
    result = storage.restore_workspace("never", folder)
    assert (result.files, result.transferred, result.removed) == (0, 0, 0)
    assert (folder / "keep.txt").read_text() == "mine"


def test_a_sync_cut_short_leaves_the_last_state_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = FileStorage(tmp_path / "volume")
    here, there = tmp_path / "worker-a", tmp_path / "worker-b"
    make_workspace(here)
    files.sync_workspace("job1", here)
    before = tree(here)
    (here / "README.md").write_text("# Changed\n")

    def killed(self: FileWorkspaceBlobs, job_id: str, data: bytes) -> None:
        raise KeyboardInterrupt  # the worker dies between the uploads and the manifest

    monkeypatch.setattr(FileWorkspaceBlobs, "write_manifest", killed)
    with pytest.raises(KeyboardInterrupt):
        files.sync_workspace("job1", here)
    monkeypatch.undo()
    files.restore_workspace("job1", there)
    assert tree(there) == before


def test_a_damaged_blob_is_refused_and_nothing_is_half_restored(tmp_path: Path) -> None:
    files = FileStorage(tmp_path / "volume")
    here, there = tmp_path / "worker-a", tmp_path / "worker-b"
    make_workspace(here)
    files.sync_workspace("job1", here)
    blobs = files.root / "jobs/job1/workspace/blobs"
    for blob in blobs.iterdir():
        if blob.stat().st_size == len("# Project\n"):
            blob.write_bytes(b"# Tampered\n")
    there.mkdir()
    with pytest.raises(StorageError, match="README.md does not match its stored hash"):
        files.restore_workspace("job1", there)
    assert [p.name for p in there.rglob("*") if p.is_file()] == []


def test_a_manifest_reaching_outside_the_folder_is_refused(tmp_path: Path) -> None:
    files = FileStorage(tmp_path / "volume")
    bad = b'{"version":1,"files":{"../escape":{"size":1,"mtimeNs":1,"sha256":"' + b"0" * 64
    (files.root / "jobs/job1/workspace").mkdir(parents=True)
    (files.root / "jobs/job1/workspace/manifest.json").write_bytes(bad + b'","mode":420}}}')
    with pytest.raises(StorageError, match="bad entry '../escape'"):
        files.restore_workspace("job1", tmp_path / "w")
    assert not (tmp_path / "escape").exists()


def test_restore_merges_it_never_removes_what_the_job_did_not(
    storage: Storage, tmp_path: Path
) -> None:
    here, there = tmp_path / "worker-a", tmp_path / "worker-b"
    make_workspace(here)
    storage.sync_workspace("job1", here)
    storage.restore_workspace("job1", there)
    (there / "mine.txt").write_text("this machine's own")  # never in the job
    (here / "README.md").unlink()
    (here / "copy.bin").unlink()
    storage.sync_workspace("job1", here)
    (there / "copy.bin").write_bytes(b"changed here since")
    restored = storage.restore_workspace("job1", there)
    assert restored.removed == 1  # README.md: removed by the job, as the job had it
    assert not (there / "README.md").exists()
    assert (there / "mine.txt").read_text() == "this machine's own"
    assert (there / "copy.bin").read_bytes() == b"changed here since"
