"""``perstack start --remote``: the workbench driving a real `perstack serve`, by Pilot.

The server is a real process on a free port (tests/server/harness.py); the workbench
talks to it over HTTP with runtime.client. What it shows must be what the same job shows
when read from the server's storage the way a local job is read.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from runtime.cli.run import RunOptions
from runtime.errors import PerstackError
from runtime.storage import FileStorage, default_storage_root
from tests.server.harness import KEY, Server, make_project, start_server
from tests.workbench.helpers import Messages
from workbench.bridge import RunBridge
from workbench.jobview import JobView
from workbench.remote import connect
from workbench.screens.answer import AnswerScreen
from workbench.screens.jobs import JobsScreen
from workbench.stored_jobs import load_stored_job
from workbench.widgets.query_bar import QueryBar


@pytest.fixture
def server(tmp_path: Path):
    running = start_server(make_project(tmp_path / "served", delay_ms=200))
    yield running
    running.stop()


def remote_app(server: Server, tmp_path: Path, expert: str = "", query: str = "", **options):
    from workbench.app import WorkbenchApp
    from workbench.session import Session, find_project

    local = tmp_path / "here"
    local.mkdir(exist_ok=True)
    (local / "perstack.toml").write_text('model = "x"\n[experts."local-only"]\ninstruction = "x"\n')
    session = Session(
        find_project(local), RunOptions(expert, query, **options), connect(server.url, KEY)
    )
    return WorkbenchApp(session, still=True)


def finished(app) -> bool:
    return not app.bridge.running and app.state not in ("ready", "running", "stopping", "loading")


def rows_of(view: JobView) -> list[tuple[int, str, str, str, str]]:
    return [(r.step, r.expert_key, r.kind, r.label, r.status) for r in view.rows]


def tree_of(view: JobView) -> dict[str, tuple[str | None, str, int, int]]:
    nodes = view.tree.nodes
    return {k: (n.parent_id, n.status, n.steps, n.total_tokens) for k, n in nodes.items()}


def stored_view(server: Server, job_id: str) -> JobView:
    """The job as the workbench shows it when read from the server's own storage."""
    root = default_storage_root(server.project.root, server.project.env())
    view = JobView()
    view.apply(load_stored_job(FileStorage(root), continue_job=job_id).events)
    return view


def server_job(server: Server, job_id: str) -> dict:
    with server.client() as http:
        return http.get(f"/api/v1/jobs/{job_id}").json()["data"]["job"]


async def test_remote_runs_follow_ups_the_job_list_and_details(server: Server, tmp_path: Path):
    app = remote_app(server, tmp_path, expert="lead", query="Go")
    messages = Messages()
    async with app.run_test(size=(140, 40), message_hook=messages) as pilot:
        # The server's Experts are offered, not the local file's; the editor is put away.
        header = app.query_one("#header")
        assert header.expert == "lead" and "local-only" not in header._experts
        assert app.screen.has_class("-hide-config")
        await pilot.press("ctrl+r")
        await app.wait_until(lambda: finished(app))
        assert app.state == "completed"
        job_id = app.view.job_id
        assert job_id is not None and messages.of(RunBridge.Started)[0].job_id == job_id
        assert server_job(server, job_id)["status"] == "completed"
        # Same rows and tree as the job read from the server's storage.
        first = stored_view(server, job_id)
        assert rows_of(app.view) == rows_of(first)
        assert tree_of(app.view) == tree_of(first)
        # A follow-up continues the same server job; nothing shown twice.
        assert app.query_one(QueryBar).mode == "Follow-up"
        await pilot.click("#query-input")
        await pilot.press(*"Again", "enter")
        await app.wait_until(lambda: finished(app))
        assert app.state == "completed" and app.view.job_id == job_id
        after = stored_view(server, job_id)
        assert rows_of(app.view) == rows_of(after)
        queries = [r.label for r in app.view.rows if r.kind == "query" and r.expert_key == "lead"]
        assert queries == ["Go", "Again"]
        # The details read the messages the step sent from the events received.
        app.open_details(app.view.rows[-1])
        await app.wait_until(lambda: getattr(app.screen, "loaded", False))
        sent = app.screen.query_one("#messages-text").text
        assert "Again" in sent and "no storage" not in sent
        await pilot.press("escape")
        # F2 lists the server's jobs; choosing one streams it onto the screen anew.
        await pilot.press("ctrl+n")
        assert app.view.job_id is None
        await pilot.press("f2")
        await app.wait_until(lambda: isinstance(app.screen, JobsScreen) and app.screen.jobs)
        listed = app.screen.jobs
        assert [(j.job_id, j.coordinator, j.status, j.query) for j in listed] == [
            (job_id, "lead", "completed", "Go")
        ]
        assert "on " + server.url in str(app.screen.query_one("#jobs-where").render())
        await pilot.press("enter")
        await app.wait_until(lambda: app.view.job_id == job_id and finished(app))
        assert rows_of(app.view) == rows_of(after) and tree_of(app.view) == tree_of(after)
        assert app.state == "completed"


async def test_remote_answers_an_interactive_tool_and_stops_a_job(server: Server, tmp_path):
    app = remote_app(server, tmp_path, expert="asker", query="Hello")
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.press("ctrl+r")
        await app.wait_until(lambda: isinstance(app.screen, AnswerScreen))
        assert app.state == "waiting"
        job_id = app.view.job_id
        assert server_job(server, job_id)["status"] == "stoppedByInteractiveTool"
        await pilot.press(*"Ada", "enter")
        await app.wait_until(lambda: finished(app) and app.state == "completed")
        assert server_job(server, job_id)["status"] == "completed"
        assert rows_of(app.view) == rows_of(stored_view(server, job_id))
        assert app.view.rows[-1].status == "done"
        # Ctrl+T cancels a job on the server; it stays resumable there.
        await pilot.press("ctrl+n")
        app.query_one("#header").pick("slow")
        app.query_one(QueryBar).input.value = "Take your time"
        await pilot.press("ctrl+r")
        await app.wait_until(lambda: app.view.max_step >= 2)
        slow_job = app.view.job_id
        await pilot.press("ctrl+t")
        await app.wait_until(lambda: finished(app))
        assert app.state == "stopped"
        assert server_job(server, slow_job)["status"] == "cancelled"
        await pilot.click("#query-input")
        await pilot.press(*"Go on", "enter")
        await app.wait_until(lambda: finished(app))
        assert app.state == "completed" and app.view.job_id == slow_job
        assert server_job(server, slow_job)["status"] == "completed"


async def test_closing_the_workbench_leaves_the_server_job_running(server: Server, tmp_path):
    app = remote_app(server, tmp_path, expert="slow", query="Slowly")
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.press("ctrl+r")
        await app.wait_until(lambda: app.view.max_step >= 1)
        job_id = app.view.job_id
    # The app is gone; the job completes on the server anyway.
    with server.client() as http, http.stream("GET", f"/api/v1/jobs/{job_id}/stream") as sse:
        tail = "".join(sse.iter_text())
    assert '"status":"completed"' in tail


def test_connect_names_the_server_and_the_problem(server: Server) -> None:
    with pytest.raises(PerstackError) as wrong_key:
        connect(server.url, "not-the-key")
    assert server.url in str(wrong_key.value) and "PERSTACK_API_KEY" in str(wrong_key.value)
    assert "not-the-key" not in str(wrong_key.value)
    free = server.url.rsplit(":", 1)[0] + ":9"  # the discard port: nothing listens here
    with pytest.raises(PerstackError) as unreachable:
        connect(free, KEY, timeout=2)
    assert free in str(unreachable.value)


def test_start_remote_without_a_terminal_says_so_in_one_line(tmp_path: Path) -> None:
    from tests.helpers import Project

    result = Project(tmp_path).run("start", "--remote", "http://127.0.0.1:9")
    assert result.code == 1
    assert result.stderr.strip().splitlines() == [
        "Error: --remote opens the workbench; headless, use the client (docs/serve.md)"
    ]
