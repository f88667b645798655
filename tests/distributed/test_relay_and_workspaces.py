"""The shared-storage parts of scale-out, on a real folder: the event relay and the
workspace sync (the cluster tests run them end to end)."""

from __future__ import annotations

import os
from pathlib import Path

import orjson
import pytest

from runtime.distributed.relay import (
    FileRelay,
    StreamSequencer,
    announced_checkpoint,
    producer_name,
)
from runtime.distributed.workspaces import SharedFolderSync

JOB = "job1"


def lines(stream: Path) -> list[bytes]:
    return stream.read_bytes().split(b"\n")[:-1]


def test_the_sequencer_gathers_whole_lines_oldest_producer_first(tmp_path: Path) -> None:
    relay = FileRelay(tmp_path)
    first, second = producer_name("partA", 1), producer_name("partB", 1)
    one, two = relay.writer(JOB, first), relay.writer(JOB, second)
    stream = tmp_path / "stream.jsonl"
    sequencer = StreamSequencer(relay, JOB, stream)
    one.write(b'{"n":1}')
    two.write(b'{"n":3}')
    one.write(b'{"n":2}')
    assert sequencer.poll() == [b'{"n":1}', b'{"n":2}', b'{"n":3}']
    assert sequencer.poll() == []
    # A partial line waits until it is whole.
    path = relay.root / JOB / f"{second}.jsonl"
    with open(path, "ab") as segment:
        segment.write(b'{"n":')
    assert sequencer.poll() == []
    with open(path, "ab") as segment:
        segment.write(b"4}\n")
    assert sequencer.poll() == [b'{"n":4}']
    assert lines(stream) == [b'{"n":1}', b'{"n":2}', b'{"n":3}', b'{"n":4}']
    one.close()
    two.close()
    sequencer.finish()
    assert not (relay.root / JOB).exists()


def test_a_server_killed_between_stream_and_cursor_neither_loses_nor_doubles(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    relay = FileRelay(tmp_path)
    writer = relay.writer(JOB, producer_name("part", 1))
    stream = tmp_path / "stream.jsonl"
    sequencer = StreamSequencer(relay, JOB, stream)
    writer.write(b'{"n":1}')
    sequencer.poll()
    writer.write(b'{"n":2}')

    def killed(cursor: dict) -> None:
        raise KeyboardInterrupt  # the process dies right after appending the batch

    monkeypatch.setattr(sequencer, "save_cursor", killed)
    with pytest.raises(KeyboardInterrupt):
        sequencer.poll()
    sequencer.close()
    assert lines(stream) == [b'{"n":1}', b'{"n":2}']  # appended, but not in the cursor
    monkeypatch.undo()

    restarted = StreamSequencer(relay, JOB, stream)
    writer.write(b'{"n":3}')
    assert restarted.poll() == [b'{"n":2}', b'{"n":3}']
    assert lines(stream) == [b'{"n":1}', b'{"n":2}', b'{"n":3}']
    restarted.close()


def test_a_later_attempt_finds_the_last_checkpoint_an_earlier_one_announced(
    tmp_path: Path,
) -> None:
    relay = FileRelay(tmp_path)
    first = relay.writer(JOB, producer_name("part", 1))
    first.write(orjson.dumps({"type": "continueToNextStep", "checkpoint": {"id": "c1"}}))
    first.write(orjson.dumps({"type": "startGeneration"}))
    first.write(orjson.dumps({"type": "continueToNextStep", "checkpoint": {"id": "c2"}}))
    first.close()
    other = relay.writer(JOB, producer_name("other", 1))
    other.write(orjson.dumps({"type": "completeRun", "checkpoint": {"id": "elsewhere"}}))
    other.close()
    second = producer_name("part", 2)
    with open(relay.root / JOB / f"{second}.jsonl", "wb") as segment:
        segment.write(b'{"type":"continueToNextStep","checkpoint":{"id":"c3"}}\n{"type":"co')
    assert announced_checkpoint(relay, JOB, "part", before_attempt=2) == "c2"
    assert announced_checkpoint(relay, JOB, "part", before_attempt=3) == "c3"
    assert announced_checkpoint(relay, JOB, "part", before_attempt=1) is None


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_a_workspace_pushed_by_one_worker_is_restored_on_another(tmp_path: Path) -> None:
    here, there = SharedFolderSync(tmp_path), SharedFolderSync(tmp_path)
    local_a, local_b = tmp_path / "a", tmp_path / "b"
    _write(local_a / "notes/one.md", "one")
    _write(local_a / "two.txt", "two")
    os.symlink("/etc/passwd", local_a / "link")  # never copied
    here.push(JOB, local_a)
    shared = here.shared(JOB)
    assert sorted(p.relative_to(shared).as_posix() for p in shared.rglob("*") if p.is_file()) == [
        "notes/one.md",
        "two.txt",
    ]
    there.pull(JOB, local_b)
    assert (local_b / "notes/one.md").read_text() == "one"
    assert (local_b / "two.txt").stat().st_mtime_ns == (local_a / "two.txt").stat().st_mtime_ns

    # Only what changed is copied again.
    unchanged = (shared / "notes/one.md").stat().st_ino
    _write(local_a / "two.txt", "two, again")
    here.push(JOB, local_a)
    assert (shared / "notes/one.md").stat().st_ino == unchanged
    assert (shared / "two.txt").read_text() == "two, again"
    # A removal goes across too.
    (local_a / "notes/one.md").unlink()
    here.push(JOB, local_a)
    there.pull(JOB, local_b)
    assert not (local_b / "notes/one.md").exists()
    assert (local_b / "two.txt").read_text() == "two, again"


def test_parallel_delegates_on_two_workers_each_bring_their_files_back(tmp_path: Path) -> None:
    left, right, parent = (SharedFolderSync(tmp_path) for _ in range(3))
    start = tmp_path / "start"
    _write(start / "brief.md", "brief")
    parent.push(JOB, start)
    for sync, folder, name in ((left, "l", "left.txt"), (right, "r", "right.txt")):
        sync.pull(JOB, tmp_path / folder)
        _write(tmp_path / folder / name, name)
        sync.push(JOB, tmp_path / folder)
    parent.pull(JOB, start)
    assert sorted(p.name for p in start.iterdir()) == ["brief.md", "left.txt", "right.txt"]
    # A file changed here since the last sync stays, though the shared copy dropped it.
    _write(start / "brief.md", "my edit")
    (left.shared(JOB) / "brief.md").unlink()
    parent.pull(JOB, start)
    assert (start / "brief.md").read_text() == "my edit"
