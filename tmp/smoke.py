import asyncio, sys
from pathlib import Path
sys.path.insert(0, ".")
from tests.workbench.helpers import copy_project, fast_snap, make_app
from tests.workbench.test_stored_jobs import finished

async def main(tmp):
    project = copy_project("snap", tmp)
    app = make_app(project, expert="lead", query="Survey the lake", providers=fast_snap(project))
    async with app.run_test(size=(120, 36)) as pilot:
        await app.wait_until(lambda: finished(app))
        await pilot.press("f8")
        await app.wait_until(lambda: app.replay.active)
        r = app.replay.replay
        print("cursor", r.cursor, len(r), app.query_one("#timeline").shown_count)
        await pilot.press("right", "right", "right")
        print("cursor", r.cursor, r.header(), app.query_one("#timeline").shown_count)
        await app.wait_until(lambda: app.query_one("#checkpoint").text != "")
        print(app.query_one("#checkpoint").text[:600])
        print(app.query_one("#header").query_one("#status").render())
        await pilot.press("f")
        await pilot.pause()
        print(type(app.screen).__name__)
        app.save_screenshot("tmp/shot.svg")
import tempfile, os
os.environ["PERSTACK_STORAGE_PATH"] = tempfile.mkdtemp()
asyncio.run(main(Path(tempfile.mkdtemp())))
