import asyncio, sys, os, tempfile
sys.path.insert(0, ".")
os.environ["PERSTACK_STORAGE_PATH"] = tempfile.mkdtemp()
from pathlib import Path
from tests.workbench.helpers import copy_project, fast_snap, make_app
from tests.workbench.test_stored_jobs import finished
async def main():
    project = copy_project("snap", Path(tempfile.mkdtemp()))
    app = make_app(project, expert="lead", query="Survey the lake", providers=fast_snap(project))
    async with app.run_test(size=(120, 36)) as pilot:
        await app.wait_until(lambda: finished(app))
        await pilot.press("f8"); await app.wait_until(lambda: app.replay.active)
        r = app.replay.replay
        await pilot.press("space"); await asyncio.sleep(0.5); await pilot.press("space")
        print("c", r.cursor, app.replay.playing, app.focused)
        await pilot.press("s", "s"); print(app.replay.speed)
        await pilot.press("space"); print("playing", app.replay.playing, app.replay._play_timer)
        await asyncio.sleep(0.5); print("c", r.cursor, app.replay.playing, [r.gap_ms(i) for i in range(r.cursor, r.cursor+3)])
asyncio.run(main())
