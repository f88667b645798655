"""`perstack serve` with its jobs in a bucket on a real S3 HTTP API (moto's server)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import S3Bucket
from tests.server.harness import make_project, start_server

START = {"applicationId": "default", "expertKey": "lead", "query": "Go"}


def test_serve_keeps_jobs_in_the_bucket_and_log_reads_them(tmp_path: Path, s3: S3Bucket) -> None:
    project = make_project(tmp_path / "project")
    server = start_server(project, env=s3.storage_env())
    try:
        with server.client() as client:
            job = client.post("/api/v1/jobs", json=START).json()["data"]["job"]
            client.get(f"/api/v1/jobs/{job['id']}/stream")  # to the end
            listed = client.get(f"/api/v1/jobs/{job['id']}/checkpoints").json()["data"]
            last = listed["checkpoints"][-1]
            assert last["status"] == "completed" and "messagesBase" not in json.dumps(listed)
            one = client.get(f"/api/v1/jobs/{job['id']}/checkpoints/{last['id']}").json()
            assert one["data"]["checkpoint"] == last
    finally:
        assert server.stop() in (0, -15)  # uvicorn re-raises SIGTERM once it is done
    assert not (project.storage / "jobs").exists()  # jobs only in the bucket
    assert any(key.startswith(f"jobs/{job['id']}/checkpoints/") for key in s3.objects())

    logged = project.run("log", "--job", job["id"], "--json", env=s3.storage_env())
    assert logged.code == 0, logged.stderr
    data = json.loads(logged.stdout)
    assert data["job"]["status"] == "completed" and data["storagePath"] == s3.url
    assert {"lead", "helper"} <= {e["expertKey"] for e in data["events"]}
