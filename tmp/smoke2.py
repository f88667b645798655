import asyncio, sys, os, tempfile
from pathlib import Path
sys.path.insert(0, ".")
os.environ["PERSTACK_STORAGE_PATH"] = tempfile.mkdtemp()
from tests.workbench.helpers import copy_project, fast_snap, make_app
from tests.workbench.test_stored_jobs import finished
from workbench.screens.jobs import JobsScreen
from workbench.screens.diff import DiffScreen

async def main(tmp):
    project = copy_project("snap", tmp)
    app = make_app(project, expert="lead", query="Survey the lake", providers=fast_snap(project))
    async with app.run_test(size=(120, 36)) as pilot:
        await app.wait_until(lambda: finished(app))
        first = app.view.job_id
        await pilot.press("f8")
        await app.wait_until(lambda: app.replay.active)
        await pilot.press("g"); await pilot.pause()
        await pilot.press("4", "enter")
        await pilot.pause()
        print("at", app.replay.replay.header())
        await pilot.press("f"); await pilot.pause()
        await pilot.press(*"Go north only", "enter")
        await app.wait_until(lambda: isinstance(app.screen, DiffScreen) and app.screen.diff is not None, timeout=30)
        print("fork", app.view.job_id, app.state)
        d = app.screen.diff
        print("first div", d.first_divergence, app.screen.cursor_pair)
        app.save_screenshot("tmp/diff.svg")
        await pilot.press("escape")
        await pilot.press("f2")
        await app.wait_until(lambda: isinstance(app.screen, JobsScreen) and app.screen.jobs)
        print([ (j.job_id[:8], j.forked_from) for j in app.screen.jobs])
        app.save_screenshot("tmp/jobs.svg")
        await pilot.press("m", "down", "enter")
        await app.wait_until(lambda: isinstance(app.screen, DiffScreen) and app.screen.diff is not None)
        print("diff2", app.screen.job_a, app.screen.job_b)
asyncio.run(main(Path(tempfile.mkdtemp())))
