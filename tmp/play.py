import asyncio, sys, os, json
sys.path.insert(0, ".")
from pathlib import Path
root = Path("/tmp/rwb-small"); job = json.load(open(root/"m.json"))["job"]
from runtime.cli.run import RunOptions
from workbench.app import WorkbenchApp
from workbench.session import Session, find_project
async def main():
    s = Session(find_project(root), RunOptions("", ""), open_job=job); s.replay = True
    app = WorkbenchApp(s)
    async with app.run_test(size=(120, 36)) as pilot:
        await app.wait_until(lambda: app.replay.active, timeout=60)
        r = app.replay.replay
        await pilot.press("s", "s")
        print("speed", app.replay.speed, "gap", [r.gap_ms(i) for i in range(1, 12)])
        await pilot.press("space")
        print("playing", app.replay.playing, app.replay._play_timer)
        await asyncio.sleep(1)
        print("cursor", r.cursor, app.replay.playing)
asyncio.run(main())
