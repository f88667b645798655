"""Storage: upstream's layout, atomic writes, robust reading, both stores behaving alike."""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import orjson
import pytest

from runtime.errors import PerstackError
from runtime.events import SkillConnected
from runtime.storage import (
    FileStorage,
    MemoryStorage,
    Storage,
    atomic,
    default_storage_root,
    select_checkpoint,
)
from tests.storage_samples import T0, EventFactory, checkpoint, job


def wire(value: object) -> object:
    """The JSON of a model or list of models (pydantic's ``==`` also compares the
    per-message serialisation cache, which differs after a round trip)."""
    if isinstance(value, list):
        return [wire(item) for item in value]
    return None if value is None else value.to_json_dict()  # type: ignore[attr-defined]


class Warnings(list[str]):
    def __call__(self, message: str) -> None:
        self.append(message)


@pytest.fixture
def warnings() -> Warnings:
    return Warnings()


@pytest.fixture(params=["file", "memory", "s3"])
def storage(request: pytest.FixtureRequest, tmp_path: Path, warnings: Warnings) -> Storage:
    """Each store, behaving alike: files, memory, and a bucket on a real S3 HTTP API."""
    if request.param == "file":
        return FileStorage(tmp_path / "perstack", on_warning=warnings)
    if request.param == "s3":
        from runtime.storage.objectstore import ObjectStorage

        bucket = request.getfixturevalue("s3")
        return ObjectStorage(bucket.url, env=bucket.env, on_warning=warnings)
    return MemoryStorage(on_warning=warnings)


@pytest.fixture
def files(tmp_path: Path, warnings: Warnings) -> FileStorage:
    return FileStorage(tmp_path / "perstack", on_warning=warnings)


def job_dir(files: FileStorage, job_id: str) -> Path:
    return files.root / "jobs" / job_id


# --- root ---------------------------------------------------------------------------


def test_root_defaults_to_perstack_under_cwd(tmp_path: Path) -> None:
    assert default_storage_root(tmp_path, {}) == tmp_path / "perstack"
    assert default_storage_root(tmp_path, {"PERSTACK_STORAGE_PATH": ""}) == tmp_path / "perstack"


def test_root_from_env_absolute_or_relative_to_cwd(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    assert default_storage_root(tmp_path, {"PERSTACK_STORAGE_PATH": str(elsewhere)}) == elsewhere
    assert default_storage_root(tmp_path, {"PERSTACK_STORAGE_PATH": "data/jobs"}) == (
        tmp_path / "data" / "jobs"
    )


# --- jobs ---------------------------------------------------------------------------


def test_job_round_trip_and_listing_newest_first(storage: Storage) -> None:
    storage.store_job(job("old", started_at=T0))
    storage.store_job(job("new", started_at=T0 + 5))
    storage.store_job(job("old", started_at=T0, status="completed", steps=3))

    assert storage.retrieve_job("old") == job("old", started_at=T0, status="completed", steps=3)
    assert [j.id for j in storage.list_jobs()] == ["new", "old"]
    assert storage.retrieve_job("missing") is None


def test_latest_job_data_is_the_first_listed_job(storage: Storage) -> None:
    assert storage.latest_job_data() is None
    storage.store_job(job("b", started_at=T0))
    storage.store_job(job("a", started_at=T0))  # same start: the greater id wins, as in list_jobs
    storage.store_job(job("old", started_at=T0 - 1))
    latest = storage.latest_job_data()
    assert latest is not None and latest["id"] == storage.list_jobs()[0].id == "b"


def test_job_json_is_two_space_indented_at_upstream_path(files: FileStorage) -> None:
    files.store_job(job("j1"))
    text = (job_dir(files, "j1") / "job.json").read_text()
    assert text == json.dumps(json.loads(text), indent=2, ensure_ascii=False)
    assert json.loads(text)["coordinatorExpertKey"] == "writer"


# --- checkpoints --------------------------------------------------------------------


def test_checkpoint_round_trip_compact_file(storage: Storage) -> None:
    original = checkpoint("j1", "r1", 3, status="completed")
    storage.store_checkpoint(original)

    assert wire(storage.retrieve_checkpoint("j1", original.id)) == wire(original)
    assert storage.retrieve_checkpoint("j1", "nope") is None
    assert storage.retrieve_checkpoint("other", original.id) is None
    if isinstance(storage, FileStorage):
        raw = (storage.root / "jobs/j1/checkpoints" / f"{original.id}.json").read_bytes()
        assert raw == original.to_json()


def test_checkpoints_listed_by_step_and_latest_is_highest_step(storage: Storage) -> None:
    for step in (3, 1, 2):
        storage.store_checkpoint(checkpoint("j1", "r1", step, checkpoint_id=f"z{step}"))

    assert [c.step_number for c in storage.list_checkpoints("j1")] == [1, 2, 3]
    latest = storage.latest_checkpoint("j1")
    assert latest is not None and latest.id == "z3"
    assert storage.latest_checkpoint("nothing") is None


def test_equal_steps_keep_write_order_and_latest_is_last_written(storage: Storage) -> None:
    # Parallel delegates end on the same step; ids deliberately sort against write order.
    for checkpoint_id in ("c", "b", "a"):
        storage.store_checkpoint(checkpoint("j1", "r1", 4, checkpoint_id=checkpoint_id))

    assert [c.id for c in storage.list_checkpoints("j1")] == ["c", "b", "a"]
    latest = storage.latest_checkpoint("j1")
    assert latest is not None and latest.id == "a"


def test_write_order_survives_a_new_process_reading(files: FileStorage, tmp_path: Path) -> None:
    for checkpoint_id in ("c", "b", "a"):
        files.store_checkpoint(checkpoint("j1", "r1", 4, checkpoint_id=checkpoint_id))

    reader = FileStorage(tmp_path / "perstack")
    latest = reader.latest_checkpoint("j1")
    assert latest is not None and latest.id == "a"


def test_corrupt_checkpoints_are_skipped_with_one_warning(
    files: FileStorage, warnings: Warnings
) -> None:
    files.store_checkpoint(checkpoint("j1", "r1", 1))
    files.store_checkpoint(checkpoint("j1", "r1", 2))
    directory = job_dir(files, "j1") / "checkpoints"
    whole = (directory / "cp-r1-2.json").read_bytes()
    (directory / "truncated.json").write_bytes(whole[: len(whole) // 2])
    (directory / "garbage.json").write_bytes(b"\x00\x01 not json")
    (directory / "empty.json").write_bytes(b"")
    (directory / "wrong.json").write_bytes(b'{"stepNumber": 9, "hello": "world"}')

    assert [c.id for c in files.list_checkpoints("j1")] == ["cp-r1-1", "cp-r1-2"]
    assert [c.id for c in files.list_checkpoints("j1")] == ["cp-r1-1", "cp-r1-2"]

    prefix = f"warning: skipped corrupt file {directory}/"
    skipped = sorted(w.removeprefix(prefix).split(": ")[0] for w in warnings)
    assert skipped == ["empty.json", "garbage.json", "truncated.json", "wrong.json"]
    assert all(w.startswith("warning: skipped corrupt file ") for w in warnings)


def test_latest_checkpoint_falls_back_past_a_corrupt_newest_file(files: FileStorage) -> None:
    files.store_checkpoint(checkpoint("j1", "r1", 1))
    files.store_checkpoint(checkpoint("j1", "r1", 2))
    path = job_dir(files, "j1") / "checkpoints" / "cp-r1-2.json"
    path.write_bytes(path.read_bytes()[:-20])

    latest = files.latest_checkpoint("j1")
    assert latest is not None and latest.id == "cp-r1-1"


def test_checkpoint_with_unusual_key_order_is_still_read(files: FileStorage) -> None:
    original = checkpoint("j1", "r1", 7)
    data = original.to_json_dict()
    reordered = {"messages": data.pop("messages"), **data}  # stepNumber no longer near the top
    directory = job_dir(files, "j1") / "checkpoints"
    directory.mkdir(parents=True)
    (directory / f"{original.id}.json").write_bytes(orjson.dumps(reordered))

    assert wire(files.latest_checkpoint("j1")) == wire(original)


def test_default_warning_goes_to_stderr(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    files = FileStorage(tmp_path)
    directory = tmp_path / "jobs" / "j1" / "checkpoints"
    directory.mkdir(parents=True)
    (directory / "bad.json").write_text("{")

    assert files.list_checkpoints("j1") == []
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith(f"warning: skipped corrupt file {directory / 'bad.json'}: ")


# --- events -------------------------------------------------------------------------


def test_events_listed_in_timestamp_order_with_filters(storage: Storage) -> None:
    make = EventFactory("j1")
    first = [make.start_run("r1", 1), *make.tool_step("r1", 1)]
    child = [make.start_run("r2", 2), make.complete("r2", 2)]
    later = make.tool_step("r1", 3)
    stored = first + child + later
    for event in reversed(stored):
        storage.store_event(event)

    assert wire(storage.list_events("j1")) == wire(stored)
    assert wire(storage.list_events("j1", run_id="r2")) == wire(child)
    assert wire(storage.list_events("j1", max_step=2)) == wire(first + child)
    refs = storage.list_event_files("j1", types={"callTools", "completeRun"})
    assert [(r.type, r.step, r.run_id) for r in refs] == [
        ("callTools", 1, "r1"),
        ("completeRun", 2, "r2"),
        ("callTools", 3, "r1"),
    ]
    assert wire(storage.read_event(refs[1])) == wire(child[1])
    assert storage.list_events("nothing") == []


def test_event_file_names_follow_upstream_layout(files: FileStorage) -> None:
    event = EventFactory("j1").call_tools("r1", 4)
    files.store_event(event)

    path = job_dir(files, "j1") / "runs" / "r1" / f"event-{event.timestamp}-4-callTools.json"
    assert path.read_bytes() == event.to_json()
    (ref,) = files.list_event_files("j1")
    assert (ref.path, ref.timestamp, ref.step, ref.type, ref.run_id) == (
        path,
        event.timestamp,
        4,
        "callTools",
        "r1",
    )


def test_store_event_writes_the_callers_bytes(storage: Storage) -> None:
    event = EventFactory("j1").stream_reasoning("r1", 1, "abc")
    data = event.to_json()
    storage.store_event(event, data)
    (ref,) = storage.list_event_files("j1")
    document = storage.read_event_raw(ref)
    assert document is not None and document.raw == data


def test_colliding_event_names_are_bumped_never_overwritten(storage: Storage) -> None:
    make = EventFactory("j1")
    a = make.stream_reasoning("r1", 1, "a")
    b = a.model_copy(update={"id": "b", "delta": "b"})  # same timestamp, step and type
    c = make.stream_reasoning("r1", 1, "c")  # timestamp a+1: the name b was bumped to
    for event in (a, b, c):
        storage.store_event(event)

    assert [e.delta for e in storage.list_events("j1")] == ["a", "b", "c"]  # type: ignore[attr-defined]
    assert [e.timestamp for e in storage.list_events("j1")] == [
        a.timestamp,
        a.timestamp,
        c.timestamp,
    ]
    if isinstance(storage, FileStorage):
        names = sorted(p.name for p in (storage.root / "jobs/j1/runs/r1").iterdir())
        ts = a.timestamp
        assert names == [f"event-{t}-1-streamReasoning.json" for t in (ts, ts + 1, ts + 2)]


def test_memory_storage_breaks_timestamp_ties_by_write_order() -> None:
    memory = MemoryStorage()
    make = EventFactory("j1")
    first = make.call_tools("r1", 1)
    second = make.resolve("r1", 1).model_copy(update={"timestamp": first.timestamp})
    third = make.start_generation("r1", 1).model_copy(update={"timestamp": first.timestamp})
    for event in (first, second, third):
        memory.store_event(event)
    assert [e.type for e in memory.list_events("j1")] == [
        "callTools", "resolveToolResults", "startGeneration"
    ]  # fmt: skip


def test_same_millisecond_upstream_events_follow_the_step_order(files: FileStorage) -> None:
    # Upstream files can share a millisecond; their names carry no write order, so the
    # order within a step (spec §5) decides.
    make = EventFactory("j1")
    events = [make.start_generation("r1", 2), make.call_tools("r1", 2), make.resolve("r1", 2)]
    run_dir = job_dir(files, "j1") / "runs" / "r1"
    run_dir.mkdir(parents=True)
    for event in reversed(events):
        (run_dir / f"event-{T0}-2-{event.type}.json").write_bytes(
            event.model_copy(update={"timestamp": T0}).to_json()
        )
    assert [e.type for e in files.list_events("j1")] == [e.type for e in events]


def test_runtime_events_are_not_stored(storage: Storage) -> None:
    storage.store_event(SkillConnected(job_id="j1", run_id="r1", skill_name="x"))  # type: ignore[arg-type]
    assert storage.list_event_files("j1") == []


def test_corrupt_event_files_are_skipped_with_a_warning(
    files: FileStorage, warnings: Warnings
) -> None:
    make = EventFactory("j1")
    good = make.call_tools("r1", 1)
    files.store_event(good)
    run_dir = job_dir(files, "j1") / "runs" / "r1"
    (run_dir / f"event-{T0 + 50}-1-callTools.json").write_bytes(good.to_json()[:40])
    (run_dir / f"event-{T0 + 51}-1-notAnEvent.json").write_bytes(b'{"type":"notAnEvent"}')
    (run_dir / "event-x-y-callTools.json").write_bytes(b"{}")

    assert wire(files.list_events("j1")) == wire([good])
    assert len(warnings) == 3
    assert any("event-x-y-callTools.json: not an event file name" in w for w in warnings)


def test_temp_files_are_ignored_and_stale_ones_removed(files: FileStorage) -> None:
    make = EventFactory("j1")
    files.store_event(make.call_tools("r1", 1))
    files.store_checkpoint(checkpoint("j1", "r1", 1))
    run_dir = job_dir(files, "j1") / "runs" / "r1"
    cp_dir = job_dir(files, "j1") / "checkpoints"
    fresh, stale = run_dir / ".tmp-1-1", run_dir / ".tmp-1-2"
    stale_cp = cp_dir / ".tmp-1-3"
    for path in (fresh, stale, stale_cp):
        path.write_bytes(b'{"half":')
    old = time.time() - atomic.STALE_TEMP_SECONDS - 60
    for path in (stale, stale_cp):
        os.utime(path, (old, old))

    assert len(files.list_events("j1")) == 1
    assert len(files.list_checkpoints("j1")) == 1
    assert fresh.exists() and not stale.exists() and not stale_cp.exists()


# --- atomic writes ------------------------------------------------------------------


@pytest.fixture(params=["anonymous", "named-temp", "no-hard-links"])
def write_mode(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Each way `atomic` can make a file appear: O_TMPFILE, temp + link/rename, rename only."""
    monkeypatch.setattr(atomic._Support, "anonymous_files", request.param == "anonymous")
    monkeypatch.setattr(atomic._Support, "hard_links", request.param != "no-hard-links")
    if request.param == "anonymous" and not atomic._O_TMPFILE:
        pytest.skip("no O_TMPFILE on this system")
    return str(request.param)


def test_writes_in_every_mode(files: FileStorage, write_mode: str) -> None:
    make = EventFactory("j1")
    a = make.stream_reasoning("r1", 1, "a")
    files.store_event(a)
    files.store_event(a.model_copy(update={"delta": "b"}))  # same name: bumped
    for step in (1, 1):
        files.store_checkpoint(checkpoint("j1", "r1", step))  # second one replaces
    files.store_job(job("j1"))
    files.store_job(job("j1", steps=2))

    assert [e.delta for e in files.list_events("j1")] == ["a", "b"]  # type: ignore[attr-defined]
    assert len(files.list_checkpoints("j1")) == 1
    assert files.retrieve_job("j1") == job("j1", steps=2)
    leftovers = [p for p in job_dir(files, "j1").rglob(".*")]
    assert leftovers == []


def test_failed_write_leaves_old_file_and_no_temp(
    files: FileStorage, write_mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    files.store_job(job("j1", steps=1))
    before = (job_dir(files, "j1") / "job.json").read_bytes()

    def interrupted(fd: int, data: bytes) -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr(atomic.os, "write", interrupted)
    with pytest.raises(KeyboardInterrupt):
        files.store_job(job("j1", steps=2))
    monkeypatch.setattr(atomic.os, "write", os.write)

    assert (job_dir(files, "j1") / "job.json").read_bytes() == before
    assert sorted(p.name for p in job_dir(files, "j1").iterdir()) == ["job.json"]


def test_link_refused_at_runtime_falls_back_without_losing_the_name(
    files: FileStorage, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(atomic._Support, "anonymous_files", bool(atomic._O_TMPFILE))
    monkeypatch.setattr(atomic._Support, "hard_links", True)

    def no_links(src: str, dst: str, **_: object) -> None:
        raise OSError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(atomic.os, "link", no_links)
    event = EventFactory("j1").stream_reasoning("r1", 1, "a")
    files.store_event(event)

    (ref,) = files.list_event_files("j1")
    assert ref.timestamp == event.timestamp  # the first name was free, and it was used
    assert (atomic._Support.anonymous_files, atomic._Support.hard_links) == (False, False)


WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from runtime.storage import FileStorage
    from tests.storage_samples import EventFactory, checkpoint

    files = FileStorage(Path(sys.argv[1]))
    make = EventFactory("j1")
    big = "x" * 200_000  # large files make a kill mid-write likely
    step = 0
    while True:
        step += 1
        files.store_event(make.stream_reasoning("r1", step, big))
        files.store_checkpoint(checkpoint("j1", "r1", step % 3, checkpoint_id=f"cp{step % 3}"))
        if step == 20:
            print("ready", flush=True)
    """
)


def test_sigkill_mid_write_leaves_only_whole_files(tmp_path: Path) -> None:
    root = tmp_path / "perstack"
    child = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(root)],
        stdout=subprocess.PIPE,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert child.stdout is not None
    assert child.stdout.readline() == b"ready\n"
    child.send_signal(signal.SIGKILL)
    child.wait()

    warnings = Warnings()
    reader = FileStorage(root, on_warning=warnings)
    events = reader.list_events("j1")
    assert len(events) >= 20
    assert [e.step_number for e in events] == list(range(1, len(events) + 1))
    assert len(reader.list_checkpoints("j1")) == 3
    assert warnings == []


# --- run settings -------------------------------------------------------------------


def setting(job_id: str, run_id: str, updated_at: int) -> dict[str, object]:
    return {
        "jobId": job_id,
        "runId": run_id,
        "expertKey": "writer",
        "model": "claude-sonnet-4-5",
        "startedAt": updated_at,
        "updatedAt": updated_at,
        "env": {"OPENAI_API_KEY": "[redacted]"},
    }


def test_run_setting_round_trip_and_restore_only_bumps_updated_at(storage: Storage) -> None:
    storage.store_run_setting("j1", "r1", setting("j1", "r1", T0))
    assert storage.retrieve_run_setting("j1", "r1") == setting("j1", "r1", T0)

    storage.store_run_setting("j1", "r1", {**setting("j1", "r1", T0), "model": "changed"})
    stored = storage.retrieve_run_setting("j1", "r1")
    assert stored is not None
    assert stored["model"] == "claude-sonnet-4-5"
    assert stored["updatedAt"] > T0
    assert {k: v for k, v in stored.items() if k != "updatedAt"} == {
        k: v for k, v in setting("j1", "r1", T0).items() if k != "updatedAt"
    }
    assert storage.retrieve_run_setting("j1", "nope") is None


def test_runs_newest_first_and_latest_run_across_jobs(storage: Storage) -> None:
    storage.store_run_setting("j1", "r1", setting("j1", "r1", T0 + 1))
    storage.store_run_setting("j1", "r2", setting("j1", "r2", T0 + 3))
    storage.store_run_setting("j2", "r3", setting("j2", "r3", T0 + 2))

    assert [s["runId"] for s in storage.list_runs("j1")] == ["r2", "r1"]
    assert storage.latest_run() == ("j1", "r2")
    storage.store_run_setting("j2", "r3", {})  # touched again: now the newest
    assert storage.latest_run() == ("j2", "r3")


def test_run_setting_without_updated_at_gets_one(storage: Storage) -> None:
    storage.store_run_setting("j1", "r1", {"jobId": "j1"})
    stored = storage.retrieve_run_setting("j1", "r1")
    assert stored is not None and isinstance(stored["updatedAt"], int)


# --- upstream layout ----------------------------------------------------------------


def write_upstream_job(root: Path, job_id: str, statuses: list[str], mtime: float) -> None:
    """A job as upstream Perstack leaves it: checkpoints and events, no job.json."""
    make = EventFactory(job_id)
    jobs = root / "jobs" / job_id
    (jobs / "checkpoints").mkdir(parents=True)
    run_dir = jobs / "runs" / "r1"
    run_dir.mkdir(parents=True)
    for step, status in enumerate(statuses, start=1):
        cp = checkpoint(job_id, "r1", step, status=status, expert_key="coordinator")
        (jobs / "checkpoints" / f"{cp.id}.json").write_bytes(cp.to_json())
        event = make.call_tools("r1", step)
        (run_dir / f"event-{event.timestamp}-{step}-callTools.json").write_bytes(event.to_json())
    os.utime(jobs, (mtime, mtime))


def test_upstream_job_is_reconstructed_from_checkpoints(files: FileStorage) -> None:
    write_upstream_job(files.root, "up1", ["proceeding", "completed"], mtime=1_700_000_000.25)
    write_upstream_job(files.root, "up2", ["proceeding", "proceeding"], mtime=1_700_000_100.0)

    done = files.retrieve_job("up1")
    assert done is not None
    assert (done.status, done.coordinator_expert_key, done.total_steps) == (
        "completed",
        "coordinator",
        2,
    )
    assert done.started_at == 1_700_000_000_250
    assert done.usage == checkpoint("up1", "r1", 2).usage
    running = files.retrieve_job("up2")
    assert running is not None and running.status == "running"
    assert [j.id for j in files.list_jobs()] == ["up2", "up1"]
    assert len(files.list_events("up1")) == 2


def test_job_without_record_or_checkpoints_is_not_listed(files: FileStorage) -> None:
    (files.root / "jobs" / "empty").mkdir(parents=True)
    assert files.retrieve_job("empty") is None
    assert files.list_jobs() == []


def test_corrupt_job_record_falls_back_to_reconstruction(
    files: FileStorage, warnings: Warnings
) -> None:
    write_upstream_job(files.root, "j1", ["completed"], mtime=1_700_000_000)
    (files.root / "jobs" / "j1" / "job.json").write_text('{"id": "j1"')
    reconstructed = files.retrieve_job("j1")
    assert reconstructed is not None and reconstructed.status == "completed"
    assert len(warnings) == 1 and "job.json" in warnings[0]


def test_job_record_that_is_not_a_job_is_reported_and_reconstructed(
    files: FileStorage, warnings: Warnings
) -> None:
    write_upstream_job(files.root, "j1", ["proceeding"], mtime=1_700_000_000)
    (files.root / "jobs" / "j1" / "job.json").write_text('{"id": "j1", "status": 3}')
    data = files.job_data("j1")
    assert data is not None and data["status"] == "running" and data["totalSteps"] == 1
    assert len(warnings) == 1 and "not a job" in warnings[0]


# --- ids ----------------------------------------------------------------------------


@pytest.mark.parametrize("bad", ["", "../x", "a/b", "a\\b", ".hidden", "x\0y"])
def test_ids_that_would_escape_the_root_are_refused(storage: Storage, bad: str) -> None:
    with pytest.raises(PerstackError, match="Invalid job id"):
        storage.store_job(job(bad))
    with pytest.raises(PerstackError, match="Invalid run id"):
        storage.store_run_setting("j1", bad, {})
    assert storage.retrieve_job(bad) is None
    assert storage.list_event_files(bad) == []
    assert storage.retrieve_checkpoint("j1", bad) is None


def test_memory_storage_returns_independent_copies() -> None:
    memory = MemoryStorage()
    original = checkpoint("j1", "r1", 1)
    memory.store_checkpoint(original)
    original.messages.clear()
    loaded = memory.retrieve_checkpoint("j1", original.id)
    assert loaded is not None and len(loaded.messages) == 2
    loaded.messages.clear()
    again = memory.retrieve_checkpoint("j1", original.id)
    assert again is not None and len(again.messages) == 2


# --- selecting a checkpoint ---------------------------------------------------------


def select(storage: Storage, **options: object):  # type: ignore[no-untyped-def]
    defaults: dict[str, object] = {
        "continue_latest": False,
        "continue_job": None,
        "resume_from": None,
    }
    return select_checkpoint(storage, **{**defaults, **options})  # type: ignore[arg-type]


def test_select_nothing_without_options(storage: Storage) -> None:
    assert select(storage) is None


def test_select_errors_have_the_spec_messages(storage: Storage) -> None:
    with pytest.raises(PerstackError, match=r"^--resume-from requires --continue-job$"):
        select(storage, resume_from="cp1")
    with pytest.raises(PerstackError, match=r"^No checkpoints found for job j9$"):
        select(storage, continue_job="j9")
    storage.store_checkpoint(checkpoint("j1", "r1", 1))
    with pytest.raises(PerstackError, match=r"^Checkpoint cp9 not found in job j1$"):
        select(storage, continue_job="j1", resume_from="cp9")
    empty = MemoryStorage()
    with pytest.raises(PerstackError, match=r"^No runs found$"):
        select(empty, continue_latest=True)
    empty.store_run_setting("j5", "r5", setting("j5", "r5", T0))
    with pytest.raises(PerstackError, match=r"^No checkpoint found$"):
        select(empty, continue_latest=True)


def test_select_continue_job_and_resume_from(storage: Storage) -> None:
    for step in (1, 2, 3):
        storage.store_checkpoint(checkpoint("j1", "r1", step))
    chosen = select(storage, continue_job="j1")
    assert chosen is not None and chosen.id == "cp-r1-3"
    chosen = select(storage, continue_job="j1", resume_from="cp-r1-2")
    assert chosen is not None and chosen.id == "cp-r1-2"


def test_select_continue_uses_newest_run_setting(storage: Storage) -> None:
    storage.store_checkpoint(checkpoint("j1", "r1", 5))
    storage.store_checkpoint(checkpoint("j2", "r2", 1))
    storage.store_run_setting("j1", "r1", setting("j1", "r1", T0 + 9))
    storage.store_run_setting("j2", "r2", setting("j2", "r2", T0 + 1))
    chosen = select(storage, continue_latest=True)
    assert chosen is not None and chosen.job_id == "j1"
    chosen = select(storage, continue_latest=True, continue_job="j2")
    assert chosen is not None and chosen.job_id == "j2"


def test_select_continue_on_upstream_jobs_uses_newest_job(files: FileStorage) -> None:
    write_upstream_job(files.root, "older", ["completed"], mtime=1_700_000_000)
    write_upstream_job(files.root, "newer", ["proceeding", "completed"], mtime=1_700_000_500)
    chosen = select(files, continue_latest=True)
    assert chosen is not None and (chosen.job_id, chosen.step_number) == ("newer", 2)
