"""``perstack start --open <job>``: a job id, a job folder elsewhere, or a capture, on screen."""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.helpers import Project
from tests.workbench.helpers import copy_project, fast_snap, make_app
from tests.workbench.test_stored_jobs import finished, rows_of, run_once, tree_of


async def test_open_a_job_id_shows_it_and_a_query_continues_it(tmp_path: Path) -> None:
    project = copy_project("snap", tmp_path)
    job_id, rows, tree = await run_once(project)
    app = make_app(project, open_job=job_id, providers=fast_snap(project))
    async with app.run_test(size=(120, 36)) as pilot:
        await app.wait_until(lambda: app.runs.job_id == job_id and finished(app))
        assert rows_of(app) == rows and tree_of(app) == tree
        await pilot.click("#query-input")
        await pilot.press(*"Which shore first?", "enter")
        await app.wait_until(lambda: finished(app))
        assert app.view.job_id == job_id  # the same job, followed up
        assert rows_of(app)[: len(rows)] == rows


async def test_open_a_folder_elsewhere_shows_it_and_a_query_starts_a_new_job(
    tmp_path: Path,
) -> None:
    project = copy_project("snap", tmp_path)
    job_id, rows, tree = await run_once(project)
    elsewhere = tmp_path / "attachment" / job_id
    stored = tmp_path / "storage" / "jobs" / job_id  # PERSTACK_STORAGE_PATH (conftest)
    shutil.copytree(stored, elsewhere)
    shutil.rmtree(stored)  # not in this project any more
    app = make_app(project, open_job=str(elsewhere), providers=fast_snap(project))
    async with app.run_test(size=(120, 36)) as pilot:
        await app.wait_until(lambda: app.runs.job_id == job_id and finished(app))
        assert rows_of(app) == rows and tree_of(app) == tree
        assert app.query_one("#header").expert == "lead"
        await pilot.click("#query-input")
        await pilot.press(*"Survey the lake", "enter")
        await app.wait_until(lambda: app.view.job_id not in (None, job_id) and finished(app))
        assert app.state == "completed"
        assert [r.label for r in app.view.rows if r.kind == "query"][0] == "Survey the lake"


async def test_open_something_that_is_no_job_says_so(tmp_path: Path) -> None:
    project = copy_project("snap", tmp_path)
    app = make_app(project, open_job="./no-such.jsonl", providers=fast_snap(project))
    async with app.run_test(size=(120, 36)):
        await app.wait_until(
            lambda: any("no such file or folder" in n.message for n in app._notifications)
        )
        assert app.runs.job_id is None and app.state == "ready"


def test_open_is_for_the_workbench(tmp_path: Path) -> None:
    result = Project(copy_project("snap", tmp_path)).run("start", "--open", "x", "--json")
    assert result.code == 1 and result.stdout == ""
    assert result.stderr.startswith("Error: --open shows a job in the workbench")


def test_a_cut_expert_column_keeps_a_parallel_runs_number() -> None:
    from workbench.widgets.timeline import _fit_actor

    assert _fit_actor("└ ", "researcher #12", 12) == "└ resea… #12"
    assert _fit_actor("", "scout #1", 12) == "scout #1"
    assert _fit_actor("└ ", "researchers", 12) == "└ researche…"
