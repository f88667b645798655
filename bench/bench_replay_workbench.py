"""Replay in the workbench on a 2,000-step job (issue 13's workbench figures).

Run: ``uv run python bench/bench_replay_workbench.py [--steps 2000] [--moves 300] [--keep DIR]``.

It runs a 2,000-step job (10,000 events) with the real CLI on the scripted provider
(``bench_replay.make_job``), then drives the real workbench headless at 120x36 through
Textual's Pilot, and measures (targets in brackets):

* choosing the job in F2: from Enter to its first rows painted on screen [<= 1 s];
* entering replay (F8): reading the job into the replay index, until its first picture;
* moving the replay cursor one step (→) from a random place anywhere in the job: from the
  key to the repaint of the timeline, the tree and the header (one compositor pass; the
  key's handler updates all three before it) [p95 <= 50 ms]; and, apart, the checkpoint
  panel's update that follows once the cursor rests (one read of a whole checkpoint from
  storage in a thread, then the text on screen).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_replay import make_job  # noqa: E402


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def drive(root: Path, job_id: str, moves: int) -> dict[str, float]:
    from textual import events

    from runtime.cli.run import RunOptions
    from workbench.app import WorkbenchApp
    from workbench.screens.jobs import JobsScreen
    from workbench.session import Session, find_project
    from workbench.widgets.timeline import Timeline

    painted: list[float] = []
    render_line = Timeline.render_line

    def timed_render_line(self: Timeline, y: int):  # type: ignore[no-untyped-def]
        strip = render_line(self, y)
        if y >= 1 and self.shown_count:
            painted.append(time.perf_counter())
        return strip

    Timeline.render_line = timed_render_line  # type: ignore[method-assign]
    app = WorkbenchApp(Session(find_project(root), RunOptions("", "")))
    show_job = app.show_job

    def timed_show_job(*args):  # type: ignore[no-untyped-def]
        show_job(*args)
        changed.append(time.perf_counter())

    app.show_job = timed_show_job  # type: ignore[method-assign]
    figures: dict[str, float] = {}

    changed: list[float] = []  # when the screen's state last changed (see the wrappers)

    async def until_painted(start: float, condition=lambda: True, timeout: float = 30) -> float:
        """Seconds from ``start`` to the first paint of the timeline after the state change
        ``condition()`` waits for (the rows it asks for are then on screen)."""
        deadline = time.perf_counter() + timeout
        while not condition():
            if time.perf_counter() > deadline:
                raise SystemExit("the condition never held")
            await asyncio.sleep(0.0005)
        since = max(t for t in [start, *changed] if t >= start) if changed else start
        while not (painted and painted[-1] >= since):
            if time.perf_counter() > deadline:
                raise SystemExit(f"nothing painted in time ({len(painted)} paints)")
            await asyncio.sleep(0.0005)
        return next(p for p in painted if p >= since) - start

    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press("f2")
        await app.wait_until(lambda: isinstance(app.screen, JobsScreen) and bool(app.screen.jobs))
        await pilot.pause()
        start = began = time.perf_counter()
        app.screen.query_one("#jobs-list").action_select()
        figures["first_rows_s"] = await until_painted(
            start, lambda: app.view.job_id == job_id and app.query_one(Timeline).shown_count > 0
        )
        await app.wait_until(lambda: app.runs.job_id == job_id and app.state != "loading")
        await pilot.pause()
        figures["whole_s"] = time.perf_counter() - began
        figures["rows"] = len(app.view.rows)

        start = time.perf_counter()
        app.post_message(events.Key("f8", None))
        figures["enter_replay_s"] = await until_painted(start, lambda: app.replay.active, 60)
        replay = app.replay.replay
        assert replay is not None
        figures["events"] = len(replay)
        ends = replay._marks["step"]
        rng = random.Random(13)
        latencies, handler, panel = [], [], []
        show_checkpoint = app.replay._show_checkpoint
        checkpoint_read = app.replay._checkpoint_read
        asked: list[float] = []

        def timed_checkpoint() -> None:
            asked.append(time.perf_counter())
            show_checkpoint()

        def timed_read(*args) -> None:  # type: ignore[no-untyped-def]
            checkpoint_read(*args)
            panel.append(time.perf_counter() - asked[-1])

        app.replay._show_checkpoint = timed_checkpoint  # type: ignore[method-assign]
        app.replay._checkpoint_read = timed_read  # type: ignore[method-assign]
        moved = app.replay.moved

        def timed_moved() -> None:
            began = time.perf_counter()
            moved()
            changed.append(time.perf_counter())
            handler.append(changed[-1] - began)

        app.replay.moved = timed_moved  # type: ignore[method-assign]
        for _ in range(moves):
            app.replay.seek(rng.choice(ends[:-1]))
            await asyncio.sleep(0.3)  # the checkpoint panel of that place, done
            before = replay.cursor
            start = time.perf_counter()
            app.post_message(events.Key("right", None))
            latencies.append(await until_painted(start, lambda: replay.cursor != before))
        await asyncio.sleep(0.1)
    figures.update(
        move_p50_ms=statistics.median(latencies) * 1000,
        move_p95_ms=percentile(latencies, 0.95) * 1000,
        move_max_ms=max(latencies) * 1000,
        handler_p95_ms=percentile(handler, 0.95) * 1000,
        panel_p50_ms=statistics.median(panel) * 1000,
        panel_p95_ms=percentile(panel, 0.95) * 1000,
        moves=len(latencies),
    )
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--moves", type=int, default=300)
    parser.add_argument("--keep", type=Path, help="Keep the project (and reuse it) here.")
    args = parser.parse_args()
    root = args.keep or Path(tempfile.mkdtemp(prefix="perstack-bench-replay-wb-"))
    marker = root / "bench-workbench.json"
    if marker.exists():
        job_id = json.loads(marker.read_text())["job"]
    else:
        job_id, _ = make_job(root, args.steps)
        marker.write_text(json.dumps({"job": job_id}))
    figures = asyncio.run(drive(root, job_id, args.moves))
    print(f"job: {args.steps} steps, {figures['events']:.0f} events, {figures['rows']:.0f} rows")
    print(f"  F2 -> first rows painted:        {figures['first_rows_s'] * 1000:.0f} ms   [target <= 1 s]")
    print(f"  F2 -> the whole job on screen:   {figures['whole_s'] * 1000:.0f} ms")
    print(f"  F8 -> replay on screen:          {figures['enter_replay_s'] * 1000:.0f} ms")
    print(
        f"  one step (→), key to repaint:    p50 {figures['move_p50_ms']:.1f} ms, p95 "
        f"{figures['move_p95_ms']:.1f} ms, max {figures['move_max_ms']:.1f} ms over "
        f"{figures['moves']} moves   [target p95 <= 50 ms]"
    )
    print(f"    of which the handler (timeline, tree, header): p95 {figures['handler_p95_ms']:.1f} ms")
    print(
        f"  checkpoint panel after a rest:   p50 {figures['panel_p50_ms']:.1f} ms, p95 "
        f"{figures['panel_p95_ms']:.1f} ms"
    )


if __name__ == "__main__":
    main()
