"""Keystroke latency of the perstack.toml editor on a 2,000-line file, diagnostics on.

Run: ``uv run python bench/bench_editor.py [--lines 2000] [--keys 120]``.

The real :class:`~workbench.widgets.config_editor.ConfigEditor` runs headless (Textual
still renders every frame, it just does not write it to a terminal). Keys are typed in
bursts like a person types (one every ~80 ms), with pauses just longer than the
diagnostics debounce, so half of the keys land while the buffer is being validated in
its thread. A key's latency is the time from sending it to the end of the first frame
that shows it. The budget (issue 7) is 50 ms per keystroke.

It also reports how long one validation of the buffer takes (in its thread, off the
keystroke path). The machine's load average is printed: other processes on a shared
2-core box add their share to every figure.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from textual.app import App, ComposeResult  # noqa: E402

from tests.workbench.toml_samples import big_config  # noqa: E402
from workbench.widgets.config_editor import DEFAULT_DEBOUNCE, ConfigEditor  # noqa: E402
from workbench.widgets.diagnostics import validate_text  # noqa: E402

BUDGET_MS = 50.0
TYPING_GAP_S = 0.08


class BenchApp(App[None]):
    """The editor alone; records when a frame first shows the awaited edit."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path
        self.expect: tuple[int, int] | None = None  # (row, line length) the frame must show
        self.sent_at = 0.0
        self.shown = asyncio.Event()
        self.latencies: list[float] = []
        self.validating_during: list[bool] = []
        self.validations = 0
        self.problems = 0  # stays 0: the buffer must stay valid for a full validation

    def compose(self) -> ComposeResult:
        yield ConfigEditor(self.path)

    def on_config_editor_diagnostics_changed(self, _message: object) -> None:
        self.validations += 1
        self.problems += len(_message.diagnostics)  # type: ignore[attr-defined]

    def _display(self, screen, renderable) -> None:  # noqa: ANN001 (Textual's private hook)
        super()._display(screen, renderable)
        if self.expect is None:
            return
        row, length = self.expect
        if len(self.query_one(ConfigEditor).text_area.document.get_line(row)) == length:
            self.latencies.append((time.perf_counter() - self.sent_at) * 1000)
            self.expect = None
            self.shown.set()


def validating(app: App[None]) -> bool:
    """Whether a diagnostics worker (a validation in its thread) is running now."""
    from textual.worker import WorkerState

    return any(
        worker.group == "diagnostics" and worker.state is WorkerState.RUNNING
        for worker in app.workers
    )


async def measure(path: Path, keys: int, freeze: bool) -> BenchApp:
    app = BenchApp(path)
    async with app.run_test(size=(120, 40)) as pilot:
        editor = app.query_one(ConfigEditor)
        area = editor.text_area
        area.cursor_blink = False
        area.focus()
        while app.validations < 1:  # the first validation of the file as opened
            await pilot.pause()
        if freeze:
            # What the workbench does once it is up: long-lived objects (modules, Textual's
            # and pydantic's classes, the open document) leave the collector's full passes.
            gc.freeze()
        # Type inside an instruction (a multi-line string) so that the buffer stays valid
        # and every validation does the whole job, not only the TOML syntax check.
        middle = area.document.line_count // 2
        row = next(
            index
            for index in range(middle, area.document.line_count)
            if area.document.get_line(index).startswith("You answer")
        )
        area.move_cursor((row, len(area.document.get_line(row))))
        area.scroll_cursor_visible(center=True)
        await pilot.pause()
        for index in range(keys):
            if index and index % 10 == 0:
                # A pause just past the debounce: the next key comes the moment the
                # validation of the buffer has started in its thread.
                await asyncio.sleep(DEFAULT_DEBOUNCE - TYPING_GAP_S - 0.1)
                validations = app.validations
                async with asyncio.timeout(5):
                    while not validating(app) and app.validations == validations:
                        await asyncio.sleep(0.001)
            length = len(area.document.get_line(row))
            app.expect, app.shown = (row, length + 1), asyncio.Event()
            app.validating_during.append(validating(app))
            app.sent_at = time.perf_counter()
            await pilot.press("x")
            await asyncio.wait_for(app.shown.wait(), 10)
            await asyncio.sleep(TYPING_GAP_S)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=2000)
    parser.add_argument("--keys", type=int, default=120)
    parser.add_argument(
        "--no-freeze",
        action="store_true",
        help="leave start-up objects to the collector (no gc.freeze())",
    )
    options = parser.parse_args()

    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "perstack.toml"
        text = big_config(options.lines)
        path.write_text(text)
        lines = len(text.splitlines())

        runs = []
        for _ in range(5):
            started = time.perf_counter()
            validate_text(text, path)
            runs.append((time.perf_counter() - started) * 1000)

        app = asyncio.run(measure(path, options.keys, not options.no_freeze))

    latencies = sorted(app.latencies)
    during = [ms for ms, busy in zip(app.latencies, app.validating_during, strict=True) if busy]
    p95 = latencies[int(len(latencies) * 0.95) - 1]
    print(
        f"perstack.toml: {lines} lines; {len(latencies)} keystrokes, diagnostics on"
        f"{'' if options.no_freeze else ', start-up objects frozen (gc.freeze)'}; "
        f"{len(gc.get_objects())} objects tracked by the collector"
    )
    print(
        f"keystroke to frame: median {statistics.median(latencies):.1f} ms, "
        f"p95 {p95:.1f} ms, max {latencies[-1]:.1f} ms (budget {BUDGET_MS:.0f} ms)"
    )
    if during:
        print(
            f"  while a validation ran ({len(during)} keys): median "
            f"{statistics.median(during):.1f} ms, max {max(during):.1f} ms"
        )
    slow = [
        f"#{index}: {ms:.0f}{'*' if busy else ''}"
        for index, (ms, busy) in enumerate(zip(app.latencies, app.validating_during, strict=True))
        if ms > BUDGET_MS
    ]
    if slow:
        print(f"  over budget (* = a validation was running): {', '.join(slow)}")
    print(
        f"validation of the whole buffer (in its thread): median "
        f"{statistics.median(runs):.1f} ms; problems found while typing: {app.problems}"
    )
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
