import asyncio, sys, time, resource, json
from pathlib import Path
sys.path.insert(0, "."); sys.path.insert(0, "bench")
from bench_replay import make_job
root = Path(sys.argv[1]); steps = int(sys.argv[2])
marker = root / "m.json"
if marker.exists(): job_id = json.loads(marker.read_text())["job"]
else:
    job_id, _ = make_job(root, steps); marker.write_text(json.dumps({"job": job_id}))
def rss(): return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
async def main():
    from runtime.cli.run import RunOptions
    from workbench.app import WorkbenchApp
    from workbench.screens.jobs import JobsScreen
    from workbench.session import Session, find_project
    app = WorkbenchApp(Session(find_project(root), RunOptions("", "")))
    async with app.run_test(size=(120, 36)) as pilot:
        print("start", rss(), flush=True)
        await pilot.press("f2")
        await app.wait_until(lambda: isinstance(app.screen, JobsScreen) and bool(app.screen.jobs), timeout=120)
        print("listed", rss(), flush=True)
        t = time.perf_counter()
        await pilot.press("enter")
        await app.wait_until(lambda: app.runs.job_id == job_id and app.state != "loading", timeout=120)
        await pilot.pause()
        print("shown", rss(), time.perf_counter() - t, flush=True)
        t = time.perf_counter()
        await pilot.press("f8")
        await app.wait_until(lambda: app.replay.active, timeout=120)
        await pilot.pause()
        print("replay", rss(), time.perf_counter() - t, flush=True)
        for i in range(5):
            t = time.perf_counter()
            await pilot.press("right")
            print("move", rss(), time.perf_counter() - t, flush=True)
        await asyncio.sleep(0.2)
        print("panel", rss(), flush=True)
asyncio.run(main())
