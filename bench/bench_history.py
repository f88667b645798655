"""How a job's cost grows with its steps: wall time, stdout and storage (issue 12).

Run: ``uv run python bench/bench_history.py`` (``--steps 100,400,1600``; add
``--event-format upstream`` to measure upstream's shape, full histories in every event).

For each step count, the looping project of ``bench_run.py`` runs once through
``perstack run`` (scripted provider, one file read per step) and the script reports the
wall time, the time per step, the bytes printed on stdout and the bytes stored.
Targets: a 1,600-step job stores and prints at most 50 MB, at a per-step time at most
1.5x the 100-step job's.
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
    shutil.rmtree(root)
    return {"wall": wall, "stdout": len(completed.stdout), "storage": stored}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", default="100,400,1600")
    parser.add_argument("--event-format", default="compact", choices=["compact", "upstream"])
    args = parser.parse_args()
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


if __name__ == "__main__":
    main()
