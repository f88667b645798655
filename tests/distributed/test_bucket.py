"""The relay and the workspaces' shared copies in a real S3 HTTP API (moto's server): what
the cluster tests run end to end, case by case."""

from __future__ import annotations

import os
from pathlib import Path

import orjson
import pytest

from runtime.distributed.bucket import BucketWorkspaces, ObjectRelay
from runtime.distributed.relay import StreamSequencer, announced_checkpoint, producer_name
from runtime.storage.objectstore import ObjectStorage
from tests.conftest import S3Bucket

JOB = "job1"


@pytest.fixture
def storage(s3: S3Bucket) -> ObjectStorage:
    return ObjectStorage(s3.url, env=s3.env)


def relay_keys(s3: S3Bucket) -> list[str]:
    return sorted(key for key in s3.objects() if key.startswith("server/relay/"))


@pytest.mark.parametrize("shared_listing", [0.0, 0.001], ids=["per-job", "shared"])
def test_chunks_of_whole_lines_gathered_in_order_then_removed(
    storage: ObjectStorage, s3: S3Bucket, tmp_path: Path, shared_listing: float
) -> None:
    relay = ObjectRelay(storage, shared_listing=shared_listing)
    first, second = producer_name("partA", 1), producer_name("partB", 1)
    one, two = relay.writer(JOB, first), relay.writer(JOB, second)
    # A line that announces a checkpoint is in the bucket when write() returns, with
    # the lines before it.
    one.write(b'{"n":1}')
    one.write(b'{"n":2,"checkpoint":{"id":"c1"}}')
    assert relay_keys(s3) == [f"server/relay/{JOB}/{first}/00000000.jsonl"]
    two.write(b'{"n":4}')
    one.write(b'{"n":3}')
    one.close()  # what is left goes out
    two.close()
    stream = tmp_path / "stream.jsonl"
    sequencer = StreamSequencer(relay, JOB, stream)
    assert sequencer.poll() == [b'{"n":1}', b'{"n":2,"checkpoint":{"id":"c1"}}', b'{"n":3}',
                                b'{"n":4}']  # fmt: skip
    assert sequencer.poll() == []
    late = relay.writer(JOB, producer_name("partC", 1))
    late.write(b'{"n":5}')
    late.close()
    assert sequencer.poll() == [b'{"n":5}']  # only the new chunk, from its offset
    cursor = orjson.loads(sequencer.cursor_path.read_bytes())  # beside the stream
    assert cursor["stream"] == stream.stat().st_size
    # Every chunk is whole JSON lines.
    for key, data in s3.objects().items():
        if key.endswith(".jsonl"):
            assert data.endswith(b"\n")
            for line in data.splitlines():
                orjson.loads(line)
    sequencer.finish()
    assert relay_keys(s3) == []


def test_a_server_restarted_goes_on_from_its_cursor(storage: ObjectStorage, tmp_path: Path) -> None:
    relay = ObjectRelay(storage)
    writer = relay.writer(JOB, producer_name("part", 1))
    stream = tmp_path / "stream.jsonl"
    sequencer = StreamSequencer(relay, JOB, stream)
    writer.write(b'{"n":1,"checkpoint":{"id":"c1"}}')
    assert len(sequencer.poll()) == 1
    sequencer.close()
    writer.write(b'{"n":2,"checkpoint":{"id":"c2"}}')
    restarted = StreamSequencer(ObjectRelay(storage), JOB, stream)
    assert restarted.poll() == [b'{"n":2,"checkpoint":{"id":"c2"}}']
    restarted.close()
    writer.close()


def test_a_later_attempt_finds_what_an_earlier_one_announced(storage: ObjectStorage) -> None:
    relay = ObjectRelay(storage)
    first = relay.writer(JOB, producer_name("part", 1))
    first.write(orjson.dumps({"type": "continueToNextStep", "checkpoint": {"id": "c1"}}))
    first.write(orjson.dumps({"type": "continueToNextStep", "checkpoint": {"id": "c2"}}))
    first.write(orjson.dumps({"type": "startGeneration"}))
    # Killed here: the unannounced line may never be sent; c2 was, at once.
    assert announced_checkpoint(relay, JOB, "part", before_attempt=2) == "c2"
    assert announced_checkpoint(relay, JOB, "other", before_attempt=2) is None
    first.close()


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_workspaces_merge_the_changes_of_each_worker(
    storage: ObjectStorage, tmp_path: Path
) -> None:
    parent, left, right = (BucketWorkspaces(storage) for _ in range(3))
    start, here, there = tmp_path / "start", tmp_path / "left", tmp_path / "right"
    _write(start / "brief.md", "brief")
    parent.push(JOB, start)
    # Two parallel delegates on two workers, each writing its own file.
    for sync, folder, name in ((left, here, "left.txt"), (right, there, "right.txt")):
        sync.pull(JOB, folder)
        assert (folder / "brief.md").read_text() == "brief"
        _write(folder / name, name)
    left.push(JOB, here)
    right.push(JOB, there)  # does not drop left.txt, which it never saw
    _write(start / "mine-only.log", "never listed")
    parent.pull(JOB, start)
    assert sorted(p.name for p in start.iterdir()) == [
        "brief.md", "left.txt", "mine-only.log", "right.txt",
    ]  # fmt: skip
    # A file the job removed goes elsewhere too, unless it changed there since.
    (here / "left.txt").unlink()
    _write(here / "brief.md", "left's edit")
    left.push(JOB, here)
    (there / "right.txt").unlink()
    right.push(JOB, there)
    _write(start / "right.txt", "the parent's own edit")
    os.utime(start / "right.txt", ns=(1, 1))
    parent.pull(JOB, start)
    assert not (start / "left.txt").exists()
    assert (start / "brief.md").read_text() == "left's edit"
    assert (start / "right.txt").read_text() == "the parent's own edit"
    assert (start / "mine-only.log").read_text() == "never listed"


def test_a_manifest_changed_meanwhile_is_read_again(
    storage: ObjectStorage, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mine, other = BucketWorkspaces(storage), BucketWorkspaces(storage)
    _write(tmp_path / "a" / "a.txt", "a")
    _write(tmp_path / "b" / "b.txt", "b")
    blobs = mine._blobs
    swap = blobs.replace_manifest
    raced: list[bool] = []

    def racing(job_id: str, data: bytes, version: str | None) -> bool:
        if not raced:  # another worker syncs between our read and our write
            raced.append(True)
            other.push(JOB, tmp_path / "b")
        return swap(job_id, data, version)

    monkeypatch.setattr(blobs, "replace_manifest", racing)
    mine.push(JOB, tmp_path / "a")
    fresh = tmp_path / "fresh"
    BucketWorkspaces(storage).pull(JOB, fresh)
    assert sorted(p.name for p in fresh.iterdir()) == ["a.txt", "b.txt"]


def test_the_last_poll_lists_anew_whatever_the_shared_listing_says(
    storage: ObjectStorage, tmp_path: Path
) -> None:
    relay = ObjectRelay(storage, shared_listing=3600.0)  # listed once, for an hour
    writer = relay.writer(JOB, producer_name("part", 1))
    sequencer = StreamSequencer(relay, JOB, tmp_path / "stream.jsonl")
    writer.write(b'{"n":1,"checkpoint":{"id":"c1"}}')
    assert sequencer.poll() == [b'{"n":1,"checkpoint":{"id":"c1"}}']
    writer.close()
    assert sequencer.poll() == []  # it has stopped writing: the next poll lists again
    later = relay.writer(JOB, producer_name("part", 2))  # a producer no listing has seen
    later.write(b'{"n":2}')
    later.close()  # the part has stopped: its last chunk is in the bucket
    assert sequencer.poll() == []  # a round of polls shares the listing from before
    assert sequencer.poll(final=True) == [b'{"n":2}']  # never the last events lost
    sequencer.finish()
    assert ObjectRelay(storage).producers(JOB) == []


def test_a_producer_that_is_writing_is_read_on_without_listing(
    storage: ObjectStorage, s3: S3Bucket, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    relay = ObjectRelay(storage, shared_listing=3600.0)
    writer = relay.writer(JOB, producer_name("part", 1))
    sequencer = StreamSequencer(relay, JOB, tmp_path / "stream.jsonl")
    writer.write(b'{"n":1,"checkpoint":{"id":"c1"}}')
    assert sequencer.poll() == [b'{"n":1,"checkpoint":{"id":"c1"}}']  # listed: it writes
    listings: list[tuple[str, str | None]] = []
    listing = storage._client.list

    def listed(prefix: str, after: str | None = None) -> list:
        listings.append((prefix, after))
        return listing(prefix, after)

    monkeypatch.setattr(storage._client, "list", listed)
    lines = [b'{"n":%d,"checkpoint":{"id":"c%d"}}' % (n, n) for n in range(2, 6)]
    for line in lines[:2]:
        writer.write(line)
    assert sequencer.poll() == lines[:2]
    for line in lines[2:]:
        writer.write(line)
    assert sequencer.poll() == lines[2:]
    assert sequencer.poll() == []  # nothing new: it goes back to the shared listing
    # Read by their names; at most a listing of what follows its chunks read, for
    # producers begun since (never the whole relay, which the hour-old one stands for).
    assert all(
        prefix == f"server/relay/{JOB}/" and after and after.startswith(writer._prefix)
        for prefix, after in listings
    ), listings
    another = relay.writer(JOB, producer_name("part", 2))
    another.write(b'{"n":6}')
    another.close()
    assert sequencer.poll(final=True) == [b'{"n":6}']
    writer.close()
    sequencer.finish()
    assert relay_keys(s3) == []
