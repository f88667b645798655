"""Stored jobs on screen: ``perstack start --continue`` / ``--continue-job`` / ``--resume-from``."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import OptionList

from runtime.storage import FileStorage
from tests.workbench.helpers import Messages, copy_project, fast_snap, make_app
from workbench.screens.jobs import JobsScreen, format_age, job_line
from workbench.stored_jobs import JobSummary
from workbench.widgets.query_bar import QueryBar


def finished(app) -> bool:
    return not app.bridge.running and app.state not in ("ready", "running", "stopping", "loading")


def rows_of(app) -> list[tuple[int, str, str, str, str]]:
    return [(r.step, r.expert_key, r.kind, r.label, r.status) for r in app.view.rows]


def tree_of(app) -> dict[str, tuple[str | None, str, int]]:
    nodes = app.view.tree.nodes
    return {key: (node.parent_id, node.status, node.steps) for key, node in nodes.items()}


async def open_jobs_list(app, pilot) -> JobsScreen:
    """F2, and the list once its jobs are read."""
    await pilot.press("f2")
    screen = app.screen
    assert isinstance(screen, JobsScreen)
    await app.wait_until(lambda: screen.jobs is not None)
    return screen


async def run_once(project: Path, query: str = "Survey the lake") -> tuple[str, list, dict]:
    """Run the snap project's lead to completion; return its job, rows and tree."""
    app = make_app(project, expert="lead", query=query, providers=fast_snap(project))
    async with app.run_test(size=(120, 36)):
        await app.wait_until(lambda: finished(app))
        assert app.state == "completed"
        return app.view.job_id, rows_of(app), tree_of(app)


async def test_continue_shows_the_stored_job_and_a_follow_up_continues_it(tmp_path: Path) -> None:
    project = copy_project("snap", tmp_path)
    job_id, rows, tree = await run_once(project)
    providers = fast_snap(project)
    app = make_app(project, continue_latest=True, providers=providers)
    async with app.run_test(size=(120, 36)) as pilot:
        await app.wait_until(lambda: app.runs.job_id == job_id and finished(app))
        # The job as it was recorded: the same rows, the same delegation tree.
        assert app.state == "completed"
        assert rows_of(app) == rows
        assert tree_of(app) == tree
        assert app.query_one("#header").expert == "lead"
        assert app.query_one(QueryBar).mode == "Follow-up"
        assert len(app.query_one("#run-tree").root.children) == 1  # the lead, its delegates below
        # A query continues the same job, below what was there.
        await pilot.click("#query-input")
        await pilot.press(*"Which shore first?", "enter")
        await app.wait_until(lambda: finished(app))
        assert app.state == "completed" and app.view.job_id == job_id
        assert rows_of(app)[: len(rows)] == rows
        assert [r.label for r in app.view.rows if r.kind == "query"][-1] == "Which shore first?"
        request = providers.built[-1].requests[0]
        texts = [getattr(p, "text", "") for m in request.messages for p in m.contents]
        assert "Survey the lake" in texts and "Which shore first?" in texts


async def test_start_with_continue_and_a_query_shows_the_job_then_follows_up(
    tmp_path: Path,
) -> None:
    project = copy_project("snap", tmp_path)
    job_id, rows, _ = await run_once(project)
    app = make_app(
        project,
        expert="lead",
        query="And the islands?",
        continue_job=job_id,
        providers=fast_snap(project),
    )
    async with app.run_test(size=(120, 36)):
        await app.wait_until(lambda: app.runs.job_id == job_id and len(app.view.rows) > len(rows))
        await app.wait_until(lambda: finished(app))
        assert app.state == "completed" and app.view.job_id == job_id
        assert rows_of(app)[: len(rows)] == rows
        assert [r.label for r in app.view.rows if r.kind == "query"][-1] == "And the islands?"


async def test_resume_from_shows_the_job_as_far_as_that_checkpoint(tmp_path: Path) -> None:
    project = copy_project("snap", tmp_path)
    job_id, rows, _ = await run_once(project)
    storage = FileStorage(make_app(project).session.storage_root())
    earlier = next(
        cp
        for cp in storage.list_checkpoints(job_id)
        if cp.step_number == 5 and cp.expert.key == "lead"
    )
    app = make_app(
        project, continue_job=job_id, resume_from=earlier.id, providers=fast_snap(project)
    )
    async with app.run_test(size=(120, 36)) as pilot:
        await app.wait_until(lambda: app.runs.job_id == job_id and finished(app))
        assert app.view.max_step == 5
        # The rows of steps 1-5, as they were when step 5 ended.
        assert rows_of(app) == [row for row in rows if row[0] <= 5]
        await pilot.click("#query-input")
        await pilot.press(*"Again", "enter")
        await app.wait_until(lambda: finished(app))
        # The follow-up went on from step 5's checkpoint, not from the job's last one.
        assert app.state == "completed"
        again = [r for r in app.view.rows if r.kind == "query" and r.label == "Again"]
        assert [r.step for r in again] == [6]


async def test_continue_without_a_stored_job_says_so_and_the_next_run_is_new(
    tmp_path: Path,
) -> None:
    project = copy_project("snap", tmp_path)
    messages = Messages()
    app = make_app(project, continue_latest=True, providers=fast_snap(project))
    async with app.run_test(size=(120, 36), message_hook=messages) as pilot:
        await app.wait_until(lambda: app.state == "ready" and not app.workers)
        assert app.runs.job_id is None and not app.view.rows
        assert any("No job to show" in (n.title or "") for n in app._notifications)
        assert app.query_one(QueryBar).mode == "Ask"
        await pilot.click("#query-input")
        await pilot.press(*"Survey", "enter")
        await app.wait_until(lambda: finished(app))
        assert app.state == "completed" and app.runs.job_id is not None


async def test_f2_lists_the_stored_jobs_and_shows_the_one_chosen(tmp_path: Path) -> None:
    project = copy_project("snap", tmp_path)
    first_id, first_rows, _ = await run_once(project, "Survey the lake")
    second_id, _, _ = await run_once(project, "Survey the river")
    app = make_app(project, expert="lead", providers=fast_snap(project))
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_jobs_list(app, pilot)
        # Newest first, each with what started it.
        assert [(job.job_id, job.query, job.status) for job in screen.jobs] == [
            (second_id, "Survey the river", "completed"),
            (first_id, "Survey the lake", "completed"),
        ]
        listed = screen.query_one(OptionList)
        assert "Survey the river" in str(listed.get_option_at_index(0).prompt)
        await pilot.press("down", "enter")
        await app.wait_until(lambda: app.runs.job_id == first_id and finished(app))
        assert not isinstance(app.screen, JobsScreen)
        assert rows_of(app) == first_rows
        assert app.query_one(QueryBar).mode == "Follow-up"


async def test_f2_with_no_stored_job_says_so_and_esc_closes(tmp_path: Path) -> None:
    project = copy_project("snap", tmp_path)
    app = make_app(project, expert="lead", providers=fast_snap(project))
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press("f2")
        screen = app.screen
        await app.wait_until(lambda: screen.jobs == [])
        listed = screen.query_one(OptionList)
        assert "No stored job yet" in str(listed.get_option_at_index(0).prompt)
        await pilot.press("escape")
        assert not isinstance(app.screen, JobsScreen)
        assert app.runs.job_id is None and app.state == "ready"


def test_a_job_line_says_status_expert_steps_tokens_age_id_and_query() -> None:
    now = 1_767_225_600_000
    job = JobSummary(
        "abcdefghijkl", "lead", "stoppedByError", 12, 3400, now - 2 * 3_600_000, "Survey\nthe lake"
    )
    line = job_line(job, now, width=100)
    assert line.split() == [
        "✗", "error", "lead", "12", "steps", "3.4k", "tok", "2", "h", "ago", "abcdefgh", "Survey", "the", "lake",
    ]  # fmt: skip
    narrow = job_line(job, now, width=60)
    assert len(narrow) <= 60 and "abcdefgh" not in narrow and "Survey" in narrow
    assert [format_age(now - ms, now) for ms in (5_000, 120_000, 7_200_000, 172_800_000)] == [
        "just now", "2 min ago", "2 h ago", "2 d ago",
    ]  # fmt: skip


async def test_f2_lines_fit_the_list_again_when_the_terminal_is_resized(tmp_path: Path) -> None:
    project = copy_project("snap", tmp_path)
    await run_once(project, "Survey the lake")
    app = make_app(project, expert="lead", providers=fast_snap(project))
    async with app.run_test(size=(140, 36)) as pilot:
        screen = await open_jobs_list(app, pilot)
        listed = screen.query_one(OptionList)

        def line() -> str:
            return str(listed.get_option_at_index(0).prompt)

        wide = line()
        await pilot.resize_terminal(70, 30)
        await app.wait_until(lambda: screen._width < 70)
        narrow = line()
        # Fitted to the narrower list: shorter, and no wider than the list itself.
        assert len(narrow) < len(wide) and len(narrow) <= listed.size.width
        await pilot.resize_terminal(140, 36)
        await app.wait_until(lambda: screen._width > 70)
        assert line() == wide
