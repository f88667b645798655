"""The Python client (runtime.client) against the real `perstack serve`, over real HTTP."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from runtime.client import PerstackClient, SyncPerstackClient
from tests.server.harness import KEY, Server, make_project, start_server

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def server(tmp_path: Path):
    running = start_server(make_project(tmp_path / "project"))
    yield running
    running.stop()


def test_every_method_of_the_sync_client_against_the_real_server(server: Server) -> None:
    with SyncPerstackClient(server.url, api_key=KEY) as client:
        application = client.application()
        assert application.ok, application.error
        assert application.data.id == "default"
        assert [expert.key for expert in application.data.experts][:1] == ["lead"]
        started = client.jobs.start(application_id="default", expert_key="lead", query="Go")
        assert started.ok, started.error
        job_id = started.data.id
        with client.jobs.stream(job_id) as stream:
            types = [event.type for event in stream]
        assert types[0] == "initializeRuntime" and "completeRun" in types
        assert stream.completion is not None and stream.completion.status == "completed"
        # Full histories, rebuilt from the compact stream: the last checkpoint's history
        # equals the stored one.
        got = client.jobs.get(job_id)
        assert got.ok and got.data.status == "completed" and got.data.total_steps > 0
        checkpoints = client.jobs.checkpoints(job_id)
        assert checkpoints.ok and checkpoints.data
        files = client.jobs.files(job_id)
        assert files.ok and [f.path for f in files.data] == ["notes/result.md"]
        content = client.jobs.file(job_id, "notes/result.md")
        assert content.ok and content.data == b"# Result\nhello\n"
        page = client.jobs.list(take=5)
        assert page.ok and page.data.total == 1 and page.data.jobs[0].id == job_id
        again = client.jobs.continue_(job_id, query="Again")
        assert again.ok and again.data.status == "running"
        with client.jobs.stream(job_id) as stream:
            list(stream)
        assert stream.completion is not None and stream.completion.status == "completed"
        missing = client.jobs.get("nosuchjob")
        assert not missing.ok and missing.error.type == "http" and missing.error.status == 404


async def test_the_async_client_cancels_and_continues_a_job(server: Server) -> None:
    async with PerstackClient(server.url, api_key=KEY) as client:
        started = await client.jobs.start(application_id="default", expert_key="slow", query="x")
        assert started.ok, started.error
        job_id = started.data.id
        async with client.jobs.stream(job_id) as stream:
            async for event in stream:  # step 2 has begun: cancel
                if event.type == "startGeneration" and event.step_number == 2:
                    break
        cancelled = await client.jobs.cancel(job_id)
        assert cancelled.ok and cancelled.data.status == "cancelled"
        resumed = await client.jobs.continue_(job_id, query="go on")
        assert resumed.ok, resumed.error
        async with client.jobs.stream(job_id) as stream:
            events = [event async for event in stream]
        assert stream.completion is not None and stream.completion.status == "completed"
        assert events[-2].type == "completeRun"
        wrong = PerstackClient(server.url, api_key="not-the-key")
        denied = await wrong.jobs.get(job_id)
        await wrong.aclose()
        assert not denied.ok and denied.error.status == 401
        assert "not-the-key" not in repr(wrong) + str(denied.error)


def test_the_example_client_script_runs_as_documented() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "client" / "client.py")],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "greeting.txt: Hello, Ada!" in result.stdout
    assert "status='completed'" in result.stdout
