"""The Execution API over real HTTP: `perstack serve` on a free port, curl and httpx2."""

from __future__ import annotations

import json
import signal
import subprocess
from pathlib import Path

import httpx2
import orjson
import pytest

from tests.server.harness import KEY, Server, make_project, parse_sse, start_server

START = {"applicationId": "default", "expertKey": "lead", "query": "Go"}


@pytest.fixture
def server(tmp_path: Path):
    running = start_server(make_project(tmp_path / "project"))
    yield running
    running.stop()


def curl(*args: str) -> str:
    result = subprocess.run(["curl", "-sS", *args], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_the_walkthroughs_curl_commands_start_stream_and_continue(server: Server) -> None:
    auth = f"Authorization: Bearer {KEY}"
    started = json.loads(
        curl("-X", "POST", f"{server.url}/api/v1/jobs", "-H", auth,
             "-H", "Content-Type: application/json", "-d", json.dumps(START))  # fmt: skip
    )
    job = started["data"]["job"]
    assert {"id", "applicationId", "expertKey", "status", "createdAt", "updatedAt",
            "totalSteps", "usage"} <= set(job)  # fmt: skip
    assert job["status"] == "running" and job["expertKey"] == "lead"
    assert job["usage"] == {"inputTokens": 0, "outputTokens": 0, "reasoningTokens": 0,
                            "totalTokens": 0, "cachedInputTokens": 0}  # fmt: skip

    frames = parse_sse(curl("-N", f"{server.url}/api/v1/jobs/{job['id']}/stream", "-H", auth))
    messages = [f for f in frames if f.event == "message"]
    assert [f.id for f in messages] == list(range(1, len(messages) + 1))
    assert messages[0].data["type"] == "initializeRuntime"
    assert any(f.data["type"] == "completeRun" for f in messages)
    assert frames[-1].event == "complete"
    assert frames[-1].data == {"status": "completed", "jobId": job["id"]}

    continued = json.loads(
        curl("-X", "POST", f"{server.url}/api/v1/jobs/{job['id']}/continue", "-H", auth,
             "-d", json.dumps({"query": "And again"}))  # fmt: skip
    )
    assert continued["data"]["job"]["status"] == "running"
    again = parse_sse(curl("-N", f"{server.url}/api/v1/jobs/{job['id']}/stream", "-H", auth))
    ids = [f.id for f in again if f.event == "message"]
    assert ids == list(range(1, len(ids) + 1)) and len(ids) > len(messages)
    assert again[-1].data["status"] == "completed"


def test_a_stream_resumed_with_last_event_id_gets_exactly_what_it_missed(server: Server) -> None:
    with server.client() as client:
        job = client.post("/api/v1/jobs", json=START).json()["data"]["job"]
        whole = parse_sse(client.get(f"/api/v1/jobs/{job['id']}/stream").text)
        seen = []
        with client.stream("GET", f"/api/v1/jobs/{job['id']}/stream") as response:
            for line in response.iter_lines():  # read a few events, then drop the connection
                if line.startswith("id: "):
                    seen.append(int(line[4:]))
                if len(seen) == 5:
                    break
        rest = client.get(
            f"/api/v1/jobs/{job['id']}/stream", headers={"Last-Event-ID": str(seen[-1])}
        ).text
    missed = [f.id for f in parse_sse(rest) if f.event == "message"]
    assert seen + missed == [f.id for f in whole if f.event == "message"]


def test_a_job_answers_an_interactive_tool_through_continue(server: Server) -> None:
    with server.client() as client:
        start = {**START, "expertKey": "asker", "query": "Greet me"}
        job = client.post("/api/v1/jobs", json=start).json()["data"]["job"]
        frames = parse_sse(client.get(f"/api/v1/jobs/{job['id']}/stream").text)
        assert frames[-1].data["status"] == "stoppedByInteractiveTool"
        call = next(f.data for f in frames if f.data.get("type") == "callInteractiveTool")
        answer = {
            "toolCallId": call["toolCall"]["id"],
            "toolName": "askUser",
            "skillName": "ask",
            "text": "Ada",
        }
        response = client.post(
            f"/api/v1/jobs/{job['id']}/continue", json={"interactiveToolCallResult": answer}
        )
        assert response.status_code == 202, response.text
        frames = parse_sse(client.get(f"/api/v1/jobs/{job['id']}/stream").text)
        assert frames[-1].data["status"] == "completed"
        done = [f.data for f in frames if f.data.get("type") == "completeRun"]
        assert done[-1]["text"] == "Nice to meet you."
        assert client.get(f"/api/v1/jobs/{job['id']}").json()["data"]["job"]["status"] == (
            "completed"
        )


def test_files_checkpoints_list_and_get(server: Server) -> None:
    with server.client() as client:
        job = client.post("/api/v1/jobs", json=START).json()["data"]["job"]
        client.get(f"/api/v1/jobs/{job['id']}/stream")  # to the end
        files = client.get(f"/api/v1/jobs/{job['id']}/files").json()["data"]["files"]
        assert [f["path"] for f in files] == ["notes/result.md"]
        content = client.get(f"/api/v1/jobs/{job['id']}/files/notes/result.md")
        assert content.text == "# Result\nhello\n"
        escape = client.get(f"/api/v1/jobs/{job['id']}/files/..%2F..%2Fperstack.toml")
        assert escape.status_code == 404
        checkpoints = client.get(f"/api/v1/jobs/{job['id']}/checkpoints").json()["data"]
        last = checkpoints["checkpoints"][-1]
        assert "messagesBase" not in json.dumps(checkpoints)  # full histories
        one = client.get(f"/api/v1/jobs/{job['id']}/checkpoints/{last['id']}").json()
        assert one["data"]["checkpoint"] == last
        second = client.post("/api/v1/jobs", json={**START, "query": "Second"}).json()
        page = client.get("/api/v1/jobs", params={"take": 1}).json()
        assert page["meta"] == {"total": 2, "take": 1, "skip": 0}
        assert page["data"]["jobs"][0]["id"] == second["data"]["job"]["id"]  # newest first
        assert client.get("/api/v1/jobs", params={"status": "completed"}).json()["meta"][
            "total"
        ] == 1


def _error(response: httpx2.Response, status: int, type_: str) -> dict:
    assert response.status_code == status, response.text
    body = response.json()["error"]
    assert body["type"] == type_ and body["message"]
    assert "Traceback" not in response.text
    return body


def test_every_error_is_json_with_the_right_status(server: Server) -> None:
    url = server.url
    _error(httpx2.get(f"{url}/api/v1/jobs"), 401, "unauthorized")
    _error(httpx2.get(f"{url}/api/v1/jobs", headers={"Authorization": "Bearer nope"}), 401,
           "unauthorized")  # fmt: skip
    with server.client() as client:
        _error(client.post("/api/v1/jobs", content=b"{not json"), 400, "bad_request")
        body = _error(client.post("/api/v1/jobs", json={**START, "query": 3}), 422, "validation")
        assert body["details"][0]["field"] == "query"
        missing = _error(client.post("/api/v1/jobs", json={"applicationId": "default"}), 422,
                         "validation")  # fmt: skip
        assert {d["field"] for d in missing["details"]} == {"expertKey", "query"}
        _error(client.get("/api/v1/jobs/nosuchjob"), 404, "not_found")
        _error(client.post("/api/v1/jobs", json={**START, "expertKey": "nobody"}), 404,
               "not_found")  # fmt: skip
        _error(client.post("/api/v1/jobs", json={**START, "applicationId": "other"}), 404,
               "not_found")  # fmt: skip
        _error(client.post("/api/v1/jobs", content=b"x" * 2_000_000), 413, "payload_too_large")
        slow = client.post("/api/v1/jobs", json={**START, "expertKey": "slow"}).json()
        job_id = slow["data"]["job"]["id"]
        _error(client.post(f"/api/v1/jobs/{job_id}/continue", json={"query": "more"}), 409,
               "conflict")  # fmt: skip
        _error(client.post(f"/api/v1/jobs/{job_id}/continue", json={}), 422, "validation")
        cancelled = client.post(f"/api/v1/jobs/{job_id}/cancel").json()["data"]["job"]
        assert cancelled["status"] == "cancelled"
    assert httpx2.get(f"{url}/health").json() == {"status": "ok"}
    assert httpx2.get(f"{url}/openapi.json").json()["info"]["title"] == "Perstack Execution API"


def test_a_cancelled_job_stays_resumable(server: Server) -> None:
    with server.client() as client:
        job = client.post("/api/v1/jobs", json={**START, "expertKey": "slow"}).json()
        job_id = job["data"]["job"]["id"]
        with client.stream("GET", f"/api/v1/jobs/{job_id}/stream") as response:
            for line in response.iter_lines():  # step 2 has begun: no sleeping
                if '"type":"startGeneration"' in line and '"stepNumber":2' in line:
                    break
        assert client.post(f"/api/v1/jobs/{job_id}/cancel").json()["data"]["job"]["status"] == (
            "cancelled"
        )
        frames = parse_sse(client.get(f"/api/v1/jobs/{job_id}/stream").text)
        assert frames[-1].data["status"] == "cancelled"
        again = client.post(f"/api/v1/jobs/{job_id}/continue", json={"query": "go on"})
        assert again.status_code == 202, again.text
        frames = parse_sse(client.get(f"/api/v1/jobs/{job_id}/stream").text)
        assert frames[-1].data["status"] == "completed"
        resumed = [f.data for f in frames if f.data.get("type") == "startRun"][-1]
        assert resumed["initialCheckpoint"]["status"] == "proceeding"  # from its checkpoint


def test_two_applications_never_see_each_others_jobs(tmp_path: Path) -> None:
    from runtime.server.settings import hash_key

    make_project(tmp_path / "a")
    make_project(tmp_path / "b")
    (tmp_path / "serve.toml").write_text(
        f'[applications.alpha]\nconfig = "a/perstack.toml"\napiKeyHashes = ["{hash_key("ka")}"]\n'
        f'[applications.beta]\nconfig = "b/perstack.toml"\napiKeyHashes = ["{hash_key("kb")}"]\n'
    )
    assert "ka" not in (tmp_path / "serve.toml").read_text()  # only hashes on disk
    project = make_project(tmp_path / "host")
    server = start_server(project, "--serve-config", str(tmp_path / "serve.toml"), key=None)
    try:
        with server.client("ka") as alpha, server.client("kb") as beta:
            start = {**START, "applicationId": "alpha"}
            job = alpha.post("/api/v1/jobs", json=start).json()["data"]["job"]
            assert job["applicationId"] == "alpha"
            _error(beta.get(f"/api/v1/jobs/{job['id']}"), 404, "not_found")
            _error(beta.get(f"/api/v1/jobs/{job['id']}/stream"), 404, "not_found")
            _error(beta.post(f"/api/v1/jobs/{job['id']}/cancel"), 404, "not_found")
            _error(beta.post("/api/v1/jobs", json=start), 404, "not_found")
            assert beta.get("/api/v1/jobs").json()["meta"]["total"] == 0
            assert alpha.get("/api/v1/jobs").json()["meta"]["total"] == 1
    finally:
        server.stop()


def test_a_job_running_when_the_server_stops_completes_after_the_restart(tmp_path: Path) -> None:
    project = make_project(tmp_path / "project", delay_ms=300)
    server = start_server(project)
    with server.client() as client:
        job = client.post("/api/v1/jobs", json={**START, "expertKey": "slow"}).json()
        job_id = job["data"]["job"]["id"]
        with client.stream("GET", f"/api/v1/jobs/{job_id}/stream") as response:
            for line in response.iter_lines():  # the second step has begun
                if '"type":"startGeneration"' in line and '"stepNumber":2' in line:
                    break
    # uvicorn re-raises the signal once its graceful shutdown is done.
    assert server.stop(signal.SIGTERM) in (0, -signal.SIGTERM)
    record = orjson.loads((project.storage / "server" / "jobs" / f"{job_id}.json").read_bytes())
    assert record["status"] == "running"  # resumable, not failed

    restarted = start_server(project)
    try:
        with restarted.client() as client:
            frames = parse_sse(client.get(f"/api/v1/jobs/{job_id}/stream").text)
        messages = [f for f in frames if f.event == "message"]
        assert [f.id for f in messages] == list(range(1, len(messages) + 1))
        assert frames[-1].data == {"status": "completed", "jobId": job_id}
        steps = [f.data["stepNumber"] for f in messages if f.data["type"] == "startGeneration"]
        assert steps == sorted(steps) and steps[-1] == 6  # in order, none lost
        assert [f.data["text"] for f in messages if f.data["type"] == "completeRun"] == [
            "Slowly done."
        ]
    finally:
        restarted.stop()


def test_a_client_that_disconnects_never_stops_its_job(server: Server) -> None:
    with server.client() as client:
        job = client.post("/api/v1/jobs", json={**START, "expertKey": "slow"}).json()
        job_id = job["data"]["job"]["id"]
        with client.stream("GET", f"/api/v1/jobs/{job_id}/stream") as response:
            next(iter(response.iter_lines()))
        frames = parse_sse(client.get(f"/api/v1/jobs/{job_id}/stream").text)
    assert frames[-1].data["status"] == "completed"


def test_the_key_never_reaches_disk_or_a_response(server: Server) -> None:
    with server.client() as client:
        job = client.post("/api/v1/jobs", json=START).json()["data"]["job"]
        text = client.get(f"/api/v1/jobs/{job['id']}/stream").text
        text += client.get("/openapi.json").text + client.get("/api/v1/jobs").text
    assert KEY not in text
    for path in server.project.root.rglob("*"):
        if path.is_file():
            assert KEY.encode() not in path.read_bytes(), path


def test_a_continue_that_cannot_start_leaves_the_job_as_it_was(server: Server) -> None:
    with server.client() as client:
        job = client.post("/api/v1/jobs", json=START).json()["data"]["job"]
        client.get(f"/api/v1/jobs/{job['id']}/stream")  # to the end
        config = server.project.root / "perstack.toml"
        config.write_text(config.read_text().replace('[experts."lead"]', '[experts."chief"]'))
        refused = client.post(f"/api/v1/jobs/{job['id']}/continue", json={"query": "more"})
        _error(refused, 400, "bad_request")
        assert client.get(f"/api/v1/jobs/{job['id']}").json()["data"]["job"]["status"] == (
            "completed"  # not left "running" with nothing behind it
        )
