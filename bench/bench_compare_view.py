"""The compare view with four columns streaming (part of ``bench/bench_compare.py``).

Run alone: ``uv run python bench/bench_compare_view.py [--steps 500]``.

A child process opens the workbench headless (Textual's Pilot, 160x40) on a looping
scripted Expert, opens the compare view, and runs four models (``scripted:a`` … ``d``),
each a job of ``--steps`` steps, in-process as the view does. While they stream, it
presses ← and → every 50 ms; a press's latency runs from posting the key until the
column it selects has been marked and the screen refreshed after that (what a person
waits for). Reported: the 95th percentile and the worst press, the wall time, and the
child's peak RSS (``ru_maxrss``) [p95 <= 100 ms, peak <= 300 MiB].
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CONFIG = """
model = "scripted"
[provider]
providerName = "scripted"
[provider.setting]
script = "script.toml"

[experts."looper"]
instruction = "Loop."
"""
SCRIPT = """
[[rules]]
expert = "looper"
turn = "<{steps}"
[[rules.toolCalls]]
name = "readTextFile"
args = {{ path = "notes.txt" }}

[[rules]]
expert = "looper"
text = "done"
"""
MODELS = ["scripted:a", "scripted:b", "scripted:c", "scripted:d"]


def make_project(steps: int) -> Path:
    root = Path(tempfile.mkdtemp(prefix="perstack-bench-compare-view-"))
    (root / "perstack.toml").write_text(CONFIG)
    (root / "script.toml").write_text(SCRIPT.format(steps=steps))
    (root / "notes.txt").write_text("A short note the looping Expert reads at every step.\n")
    return root


def child(root: Path, steps: int) -> None:
    """Drive the view (see the module docstring) and print the figures as JSON."""
    from textual import events
    from textual.widgets import Input

    from runtime.cli.run import RunOptions
    from workbench.app import WorkbenchApp
    from workbench.session import Session, find_project
    from workbench.widgets.compare_column import CompareColumn

    session = Session(find_project(root), RunOptions("looper", "", max_steps=steps + 10))
    app = WorkbenchApp(session)
    marked: list[float] = []
    watch = CompareColumn.watch_selected

    def timed_watch(self: CompareColumn, selected: bool) -> None:
        watch(self, selected)
        if selected:
            marked.append(time.perf_counter())

    CompareColumn.watch_selected = timed_watch  # type: ignore[method-assign]
    latencies: list[float] = []
    result: dict[str, object] = {}

    async def press(key: str) -> float:
        start = time.perf_counter()
        refreshed = asyncio.Event()
        app.post_message(events.Key(key, None))
        while not marked or marked[-1] < start:
            await asyncio.sleep(0.001)
        app.call_after_refresh(refreshed.set)
        await asyncio.wait_for(refreshed.wait(), 30)
        return time.perf_counter() - start

    async def drive() -> None:
        async with app.run_test(size=(160, 40)) as pilot:
            app.query_one("#query-input", Input).value = f"Loop {steps} times"
            await pilot.press("f10")
            await pilot.pause()
            screen = app.screen
            for slot, model in enumerate(MODELS, start=1):
                screen.query_one(f"#model-{slot}", Input).value = model
            start = time.perf_counter()
            await pilot.press("ctrl+r")
            keys = ("right", "left")
            while screen.phase == "running":
                began = time.perf_counter()
                latencies.append(await press(keys[len(latencies) % 2]))
                await asyncio.sleep(max(0.0, 0.05 - (time.perf_counter() - began)))
            wall = time.perf_counter() - start
            runs = screen.comparison.runs if screen.comparison else []
            latencies.sort()
            result.update(
                wall=wall,
                statuses=[run.status for run in runs],
                steps=[run.steps for run in runs],
                presses=len(latencies),
                p95_ms=latencies[int(0.95 * (len(latencies) - 1))] * 1000 if latencies else 0,
                max_ms=latencies[-1] * 1000 if latencies else 0,
            )

    asyncio.run(drive())
    result["max_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(result))


def workbench_figures(steps: int) -> dict[str, object]:
    """Run :func:`child` in a fresh process and print its figures."""
    root = make_project(steps)
    done = subprocess.run(
        [sys.executable, __file__, "--child", str(root), "--steps", str(steps)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"compare view child failed: {done.stderr[-2000:]}")
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    print(
        f"workbench, 4 columns x {steps} steps streaming: {figures['wall']:.1f} s, statuses "
        f"{figures['statuses']}, key press p95 {figures['p95_ms']:.1f} ms (max "
        f"{figures['max_ms']:.1f} ms, {figures['presses']} presses) [<= 100 ms], peak RSS "
        f"{figures['max_rss_mib']:.0f} MiB [<= 300 MiB]"
    )
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--child", type=Path)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.steps)
    else:
        workbench_figures(args.steps)


if __name__ == "__main__":
    main()
