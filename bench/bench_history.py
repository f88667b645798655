"""How a job's cost grows with its steps: wall time, stdout and storage (issue 12).

Run: ``uv run python bench/bench_history.py`` (``--steps 100,400,1600``; add
``--event-format upstream`` to measure upstream's shape, full histories in every event).

For each step count, the looping project of ``bench_run.py`` runs once through
``perstack run`` (scripted provider, one file read per step) and the script reports the
wall time, the time per step, the bytes printed on stdout and the bytes stored.
Targets: a 1,600-step job stores and prints at most 50 MB, at a per-step time at most
1.5x the 100-step job's.

Then the per-step overhead of a 200-step job, in-process (no process start to blur it):
(200-step run - 1-step run) / 199 with file storage, runs of both stream formats
interleaved, median of ``--repeat`` pairs [target <= 3 ms].
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from bench_run import PERSTACK, project  # noqa: E402

#: Projects to remove at the end: removing one right after its run slows the next (freeing
#: blocks on a disk mounted with discard spills into it).
LEFT_BEHIND: list[Path] = []


def tree_bytes(root: Path) -> int:
    return sum(path.stat().st_size for path in root.rglob("*") if path.is_file())


def measure(steps: int, event_format: str) -> dict[str, float]:
    root = project(steps)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PERSTACK_")}
    command = [PERSTACK, "run", "looper", "go", "--max-steps", str(steps + 10)]
    command += ["--event-format", event_format]
    start = time.perf_counter()
    completed = subprocess.run(command, cwd=root, env=env, capture_output=True, check=True)
    wall = time.perf_counter() - start
    stored = tree_bytes(root / "perstack")
    LEFT_BEHIND.append(root)
    return {"wall": wall, "stdout": len(completed.stdout), "storage": stored}


def in_process(steps: int, event_format: str) -> float:
    """Seconds for one in-process run of the looping project (file storage, stream kept)."""
    import asyncio
    import io

    from runtime import FileStorage, load_config, run, settings_from_config

    root = project(steps)
    setting = settings_from_config(
        load_config(root / "perstack.toml"), "looper", "go", workspace=root
    )
    setting.max_steps = steps + 10
    sink = io.BytesIO()
    cwd = os.getcwd()
    os.chdir(root)
    try:
        start = time.perf_counter()
        asyncio.run(
            run(
                setting,
                storage=FileStorage(root / "perstack"),
                raw_event_listener=lambda event, data: sink.write(data),
                event_format=event_format,  # type: ignore[arg-type]
            )
        )
        return time.perf_counter() - start
    finally:
        os.chdir(cwd)
        LEFT_BEHIND.append(root)


def overhead(repeat: int) -> None:
    import statistics

    for event_format in ("compact", "upstream"):
        in_process(5, event_format)  # warm up
    samples: dict[str, list[float]] = {"compact": [], "upstream": []}
    for _ in range(repeat):
        for event_format in samples:
            long, short = in_process(200, event_format), in_process(1, event_format)
            samples[event_format].append((long - short) / 199 * 1000)
    for event_format, values in samples.items():
        print(
            f"per-step overhead, 200 steps, {event_format:8} stream: "
            f"{statistics.median(values):.2f} ms (samples {', '.join(f'{v:.2f}' for v in values)})"
            "   [target <= 3 ms]"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", default="100,400,1600")
    parser.add_argument("--event-format", default="compact", choices=["compact", "upstream"])
    parser.add_argument("--repeat", type=int, default=5, help="pairs for the overhead figure")
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    counts = [int(n) for n in args.steps.split(",")]
    measure(counts[0], args.event_format)  # warm the file cache and bytecode
    print(f"event format: {args.event_format}")
    print(f"{'steps':>6} {'wall':>8} {'per step':>9} {'stdout':>10} {'storage':>10}")
    first_per_step = None
    for steps in counts:
        figures = measure(steps, args.event_format)
        per_step = figures["wall"] / steps * 1000
        first_per_step = first_per_step or per_step
        print(
            f"{steps:>6} {figures['wall']:>7.2f}s {per_step:>7.2f}ms "
            f"{figures['stdout'] / 1e6:>8.2f}MB {figures['storage'] / 1e6:>8.2f}MB"
            f"   (per step {per_step / first_per_step:.2f}x the first)"
        )
    overhead(args.repeat)
    for root in LEFT_BEHIND:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
