"""create-expert's cost per round on the fitness walkthrough, offline (issue 17).

Run: ``uv run python bench/bench_create_expert.py`` (``--repeat N``, default 5).

The walkthrough is the shipped demo (``perstack create-expert --demo``): round 1 designs
``fitness-assistant`` and ``pro-trainer``, writes three scenarios and runs them (one fails:
the log is not written), round 2 fixes the instruction and passes, round 3 confirms, then
the report. It runs in-process on the scripted provider, in a fresh demo project each
time, after one warm-up session (imports and first-use costs). For each round it reports
the wall time, the model calls (the team's and the Experts' under test), the time spent
inside the model (the scripted provider's ``generate``) and the rest: the runtime's own
overhead (the loop, events, storage, skills, scratch copies, the lab), per round and per
model call. Medians of ``--repeat`` sessions.

Then the same walkthrough end to end, ``perstack create-expert --demo --yes --json`` in a
new process (imports and process start included), median of 3.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from runtime.create_expert import CreateExpertOptions, CreateExpertSession  # noqa: E402
from runtime.create_expert.demo import DEMO_DESCRIPTION, DEMO_SCRIPT, install_demo  # noqa: E402
from runtime.providers.scripted import ScriptedProvider  # noqa: E402

PERSTACK = str(Path(sys.executable).parent / "perstack")


class TimedProvider(ScriptedProvider):
    """The scripted provider, timing every generation."""

    model_seconds = 0.0

    async def generate(self, request, sink):  # type: ignore[override]
        start = time.perf_counter()
        try:
            return await super().generate(request, sink)
        finally:
            self.model_seconds += time.perf_counter() - start


def one_session(root: Path) -> list[dict[str, float]]:
    """One walkthrough; per round: wall ms, model calls, model ms."""
    project = install_demo(root / "fitness")
    provider = TimedProvider.from_file(DEMO_SCRIPT)
    marks: list[float] = []

    def progress(line: str) -> None:
        if line.endswith(": started"):
            marks.append(provider.model_seconds)

    session = CreateExpertSession(
        CreateExpertOptions(DEMO_DESCRIPTION), cwd=project, provider=provider, progress=progress
    )
    outcome = asyncio.run(session.run())
    assert outcome.stable, outcome.stop_reason
    marks.append(provider.model_seconds)
    rounds = []
    for index, figure in enumerate(outcome.figures):
        model_ms = (marks[index + 1] - marks[index]) * 1000
        rounds.append(
            {
                "round": figure.number or "report",
                "wall": figure.wall_ms,
                "calls": figure.model_calls,
                "model": model_ms,
            }
        )
    return rounds


def cli_once(root: Path) -> float:
    root.mkdir(parents=True)
    start = time.perf_counter()
    completed = subprocess.run(
        [PERSTACK, "create-expert", "--demo", "--yes", "--json"],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    )
    wall = time.perf_counter() - start
    assert json.loads(completed.stdout)["stable"]
    return wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-create-expert-") as temp:
        root = Path(temp)
        one_session(root / "warm-up")
        sessions = [one_session(root / f"run-{i}") for i in range(args.repeat)]
        print(f"fitness walkthrough, scripted provider, median of {args.repeat} sessions")
        print(
            f"{'round':>7} {'wall ms':>8} {'calls':>6} {'model ms':>9} {'overhead ms':>12}"
            f" {'per call':>9}"
        )
        totals = {"wall": 0.0, "calls": 0.0, "model": 0.0}
        for index, first in enumerate(sessions[0]):
            wall = statistics.median(s[index]["wall"] for s in sessions)
            calls = statistics.median(s[index]["calls"] for s in sessions)
            model = statistics.median(s[index]["model"] for s in sessions)
            overhead = wall - model
            totals["wall"] += wall
            totals["calls"] += calls
            totals["model"] += model
            print(
                f"{first['round']!s:>7} {wall:8.0f} {calls:6.0f} {model:9.1f} {overhead:12.0f}"
                f" {overhead / calls:8.1f}"
            )
        overhead = totals["wall"] - totals["model"]
        print(
            f"{'total':>7} {totals['wall']:8.0f} {totals['calls']:6.0f} {totals['model']:9.1f}"
            f" {overhead:12.0f} {overhead / totals['calls']:8.1f}"
        )
        walls = [cli_once(root / f"cli-{i}") for i in range(3)]
        print(
            f"perstack create-expert --demo --yes --json: median {statistics.median(walls):.2f} s"
            f" (min {min(walls):.2f} s, max {max(walls):.2f} s)"
        )


if __name__ == "__main__":
    main()
