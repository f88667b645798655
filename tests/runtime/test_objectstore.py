"""The S3 store against a real S3 HTTP API (moto's server): the file store's layout both
ways, order across processes, corrupt objects, few round trips, a store that goes away for
a moment, and nothing of S3 imported unless asked for."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import orjson
import pytest

from runtime.storage import FileStorage, StorageError, open_storage, storage_location
from runtime.storage import _s3 as s3_module
from runtime.storage.objectstore import ObjectStorage
from tests.conftest import S3Bucket
from tests.s3_server import FlakyProxy, free_port
from tests.storage_samples import EventFactory, checkpoint, job


class Warnings(list[str]):
    def __init__(self) -> None:
        super().__init__()
        self.noticed = threading.Event()

    def __call__(self, message: str) -> None:
        self.append(message)
        if "not answering" in message:
            self.noticed.set()


def store(bucket: S3Bucket, warnings: Warnings | None = None, **env: str) -> ObjectStorage:
    return ObjectStorage(
        bucket.url,
        env={**bucket.env, **env},
        on_warning=Warnings() if warnings is None else warnings,
    )


def sample_job() -> list[Any]:
    """What a 3-step job stores, in order (the same objects for every store)."""
    make = EventFactory("j1")
    writes: list[Any] = [job("j1", steps=3)]
    for step in (1, 2, 3):
        writes += [make.start_generation("r1", step), *make.tool_step("r1", step)]
        writes.append(checkpoint("j1", "r1", step))
    return writes


def write_sample_job(storage: Any, writes: list[Any] | None = None) -> None:
    from runtime.events import RunEvent
    from runtime.model import Checkpoint

    storage.store_run_setting("j1", "r1", {"jobId": "j1", "runId": "r1", "updatedAt": 5})
    for item in writes or sample_job():
        if isinstance(item, RunEvent):
            storage.store_event(item)
        elif isinstance(item, Checkpoint):
            storage.store_checkpoint(item)
        else:
            storage.store_job(item)
    storage.flush()


def snapshot(storage: Any) -> dict[str, Any]:
    return {
        "job": storage.job_data("j1"),
        "events": [e.to_json_dict() for e in storage.list_events("j1")],
        "checkpoints": [c.to_json_dict() for c in storage.list_checkpoints("j1")],
        "runs": storage.list_runs("j1"),
        "latest": storage.latest_checkpoint("j1").id,
    }


def test_the_bucket_holds_the_file_stores_layout_both_ways(tmp_path: Path, s3: S3Bucket) -> None:
    writes = sample_job()
    files = FileStorage(tmp_path / "a")
    write_sample_job(files, writes)
    objects = store(s3)
    write_sample_job(objects, writes)

    in_bucket = s3.objects()
    on_disk = {
        path.relative_to(files.root).as_posix(): path.read_bytes()
        for path in files.root.rglob("*")
        if path.is_file()
    }
    assert set(in_bucket) == set(on_disk)  # same keys as paths, byte for byte below
    for key, data in on_disk.items():
        if not key.endswith("run-setting.json"):  # its updatedAt is the write time
            assert in_bucket[key] == data, key

    copied = FileStorage(tmp_path / "b")  # the bucket copied to a folder reads the same
    for key, data in in_bucket.items():
        (copied.root / key).parent.mkdir(parents=True, exist_ok=True)
        (copied.root / key).write_bytes(data)
    assert snapshot(copied) == snapshot(objects) == snapshot(files)


def test_objects_written_by_another_tool_are_read(s3: S3Bucket, tmp_path: Path) -> None:
    """Upstream files uploaded as they are: no write-time metadata, key order only."""
    files = FileStorage(tmp_path / "up")
    write_sample_job(files)
    writer = store(s3)
    for path in files.root.rglob("*.json"):
        writer._client.put(path.relative_to(files.root).as_posix(), path.read_bytes())
    writer.flush()
    assert snapshot(store(s3)) == snapshot(files)


def test_equal_steps_keep_write_order_for_a_new_reader(s3: S3Bucket) -> None:
    writer = store(s3)
    for checkpoint_id in ("c", "b", "a"):
        writer.store_checkpoint(checkpoint("j1", "r1", 4, checkpoint_id=checkpoint_id))
    reader = store(s3)  # another process, as far as the bucket can tell
    assert [c.id for c in reader.list_checkpoints("j1")] == ["c", "b", "a"]
    latest = reader.latest_checkpoint("j1")
    assert latest is not None and latest.id == "a"


def test_corrupt_objects_are_skipped_with_one_warning_each(s3: S3Bucket) -> None:
    warnings = Warnings()
    storage = store(s3, warnings)
    good = EventFactory("j1").call_tools("r1", 1)
    storage.store_event(good)
    storage.store_checkpoint(checkpoint("j1", "r1", 1))
    whole = checkpoint("j1", "r1", 2).to_json()
    put = storage._client.put
    put("jobs/j1/checkpoints/truncated.json", whole[: len(whole) // 2])
    put("jobs/j1/checkpoints/empty.json", b"")
    put(f"jobs/j1/runs/r1/event-{good.timestamp + 9}-1-callTools.json", good.to_json()[:40])
    put("jobs/j1/runs/r1/event-x-y-callTools.json", b"{}")
    put("jobs/j1/job.json", b"{not json")

    assert [c.id for c in storage.list_checkpoints("j1")] == ["cp-r1-1"]
    assert [e.id for e in storage.list_events("j1")] == [good.id]
    assert storage.retrieve_job("j1") is not None  # reconstructed from its checkpoints
    assert [c.id for c in storage.list_checkpoints("j1")] == ["cp-r1-1"]  # warned once
    where = f"warning: skipped corrupt file {s3.url}/jobs/j1/"
    assert sorted(w.removeprefix(where).split(":")[0] for w in warnings) == [
        "checkpoints/empty.json",
        "checkpoints/truncated.json",
        "job.json",
        f"runs/r1/event-{good.timestamp + 9}-1-callTools.json",
        "runs/r1/event-x-y-callTools.json",
    ]


def test_listing_costs_few_round_trips(s3: S3Bucket, monkeypatch: pytest.MonkeyPatch) -> None:
    writer = store(s3)
    make = EventFactory("big")
    for index in range(30):
        writer.store_job(job(f"job{index:02}"))
    for step in range(1, 41):
        for event in make.tool_step("r1", step):
            writer.store_event(event)
    writer.flush()

    calls: Counter[str] = Counter()
    for name in ("get", "list", "list_with_delimiter"):
        real = getattr(s3_module.obstore, name)

        def counted(*args: Any, _real: Any = real, _name: str = name, **kwargs: Any) -> Any:
            calls[_name] += 1
            return _real(*args, **kwargs)

        monkeypatch.setattr(s3_module.obstore, name, counted)
    reader = store(s3)
    assert len(reader.list_jobs()) == 30  # "big" has no record and no checkpoint
    # One LIST of job ids, their 31 records at once, and "big"'s checkpoints (none).
    assert calls == {"list_with_delimiter": 1, "get": 31, "list": 1}
    calls.clear()
    events = reader.list_events("big")
    assert len(events) == 40 * 6
    assert calls == {"list": 1, "get": 240}  # one LIST (the listing pages inside it)


def test_a_long_chain_of_compact_checkpoints_is_read_in_one_batch(
    s3: S3Bucket, monkeypatch: pytest.MonkeyPatch
) -> None:
    from runtime.model import TextPart, UserMessage
    from runtime.storage.compact import SERIAL_READS

    writer = store(s3)
    messages: list[Any] = []
    for step in range(1, 41):  # each checkpoint names the one before it as its base
        messages = [*messages, UserMessage(contents=[TextPart(text=f"step {step}")])]
        writer.store_checkpoint(checkpoint("long", "r1", step, messages=messages))
    writer.flush()
    stored = orjson.loads(s3.objects()["jobs/long/checkpoints/cp-r1-40.json"])
    assert stored["messagesBase"]["checkpointId"] == "cp-r1-39"

    reader = store(s3)
    one_by_one: Counter[str] = Counter()
    for name in ("get", "get_many"):
        real = getattr(reader._client, name)

        def counted(*args: Any, _real: Any = real, _name: str = name, **kwargs: Any) -> Any:
            one_by_one[_name] += 1
            return _real(*args, **kwargs)

        monkeypatch.setattr(reader._client, name, counted)
    latest = reader.retrieve_checkpoint("long", "cp-r1-40")
    assert latest is not None
    assert [m.contents[0].text for m in latest.messages] == [f"step {n}" for n in range(1, 41)]
    # A few files one after another, then the rest of the chain in one batch (not 40 GETs).
    assert one_by_one["get"] <= SERIAL_READS + 1 and one_by_one["get_many"] == 1


def test_a_store_gone_for_a_moment_is_retried_and_says_so(s3: S3Bucket) -> None:
    proxy = FlakyProxy(s3.server.port)
    warnings = Warnings()
    storage = store(s3, warnings, AWS_ENDPOINT_URL=proxy.endpoint)
    storage.store_job(job("j1"))
    storage.flush()
    proxy.block()
    stored = threading.Event()

    def write() -> None:
        storage.store_event(EventFactory("j1").call_tools("r1", 1))
        storage.store_checkpoint(checkpoint("j1", "r1", 1))  # waits until all are stored
        stored.set()

    writer = threading.Thread(target=write)
    writer.start()
    try:
        assert warnings.noticed.wait(30), warnings
        assert not stored.is_set()
    finally:
        proxy.unblock()
    writer.join(60)
    assert stored.is_set()
    (notice,) = warnings
    assert notice == (f"warning: storage {s3.url} is not answering; retrying for up to 60 s")
    reader = store(s3)
    assert [c.id for c in reader.list_checkpoints("j1")] == ["cp-r1-1"]
    assert len(reader.list_event_files("j1")) == 1  # written once, whatever the retries
    for data in s3.objects().values():
        orjson.loads(data)  # nothing half-written
    proxy.close()


def test_a_store_that_stays_away_fails_with_one_line(s3: S3Bucket) -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    storage = store(s3, AWS_ENDPOINT_URL=closed, PERSTACK_STORAGE_TIMEOUT="0.5")
    with pytest.raises(StorageError) as caught:
        storage.list_job_ids()
    message = str(caught.value)
    assert message.startswith(f"storage {s3.url}: LIST jobs/ failed: ")
    assert "\n" not in message and s3.env["AWS_SECRET_ACCESS_KEY"] not in message
    storage.store_job(job("j1"))  # pipelined: the failure shows at the flush
    with pytest.raises(StorageError, match=r"PUT jobs/j1/job.json failed"):
        storage.flush()
    storage.flush()  # reported once


def test_bad_settings_are_one_line_errors(s3: S3Bucket) -> None:
    with pytest.raises(StorageError, match="PERSTACK_STORAGE_TIMEOUT='soon'"):
        store(s3, PERSTACK_STORAGE_TIMEOUT="soon")
    with pytest.raises(StorageError, match="unsupported scheme 'gs'"):
        storage_location(Path("/w"), {"PERSTACK_STORAGE_URL": "gs://b/p"})
    assert storage_location(Path("/w"), {"PERSTACK_STORAGE_URL": "s3://b/p/"}) == "s3://b/p"
    assert storage_location(Path("/w"), {"PERSTACK_STORAGE_URL": "file:///srv/jobs"}) == Path(
        "/srv/jobs"
    )
    assert storage_location(Path("/w"), {"PERSTACK_STORAGE_PATH": "x"}) == Path("/w/x")
    assert isinstance(open_storage(s3.url, env=s3.env), ObjectStorage)


def test_nothing_of_s3_is_imported_for_a_file_store(tmp_path: Path) -> None:
    code = (
        "import sys, os\n"
        "from pathlib import Path\n"
        "from runtime.storage import open_storage, storage_location\n"
        "from runtime.cli.log import log_command\n"
        "storage = open_storage(storage_location(Path(sys.argv[1]), os.environ))\n"
        "storage.list_jobs()\n"
        "print(sorted(m for m in sys.modules if 'obstore' in m or m.endswith('_s3')))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert result.stdout.strip() == "[]"
