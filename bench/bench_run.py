"""Benchmarks of the headless runtime (`perstack run`) with the scripted provider.

Run: ``uv run python bench/bench_run.py`` (add ``--repeat N`` for more samples).

Figures (issue 2 targets in brackets):
* per-step overhead: (200-step run - 1-step run) / 199, checkpoint and event writes
  included [<= 3 ms];
* launch to first event and launch to first model request (``startGeneration``) [<= 0.3 s];
* 4 parallel delegates whose model answers take 1 s each: the job's duration [<= 1.1 s];
* peak memory (max RSS) of a 200-step run [<= 100 MiB].
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PERSTACK = str(Path(sys.executable).parent / "perstack")

CONFIG = """
model = "scripted"
[provider]
providerName = "scripted"
[provider.setting]
script = "script.toml"

[experts."looper"]
instruction = "Loop."

[experts."lead"]
instruction = "Lead."
delegates = ["w1", "w2", "w3", "w4"]
[experts."w1"]
instruction = "Work."
[experts."w2"]
instruction = "Work."
[experts."w3"]
instruction = "Work."
[experts."w4"]
instruction = "Work."
"""

LOOP_RULE = """
[[rules]]
expert = "looper"
turn = "<{steps}"
[[rules.toolCalls]]
name = "readTextFile"
args = {{ path = "notes.txt" }}
"""

SCRIPT = """
[[rules]]
expert = "looper"
text = "done"

[[rules]]
expert = "lead"
turn = 1
[[rules.toolCalls]]
name = "w1"
args = { query = "a" }
[[rules.toolCalls]]
name = "w2"
args = { query = "b" }
[[rules.toolCalls]]
name = "w3"
args = { query = "c" }
[[rules.toolCalls]]
name = "w4"
args = { query = "d" }
[[rules]]
expert = "w?"
delayMs = 1000
text = "worked"
[[rules]]
expert = "lead"
text = "all done"
"""


def project(steps: int) -> Path:
    root = Path(tempfile.mkdtemp(prefix="perstack-bench-"))
    (root / "perstack.toml").write_text(CONFIG)
    (root / "notes.txt").write_text("A short note the looping Expert reads at every step.\n")
    loop = LOOP_RULE.format(steps=steps) if steps > 1 else ""
    (root / "script.toml").write_text(loop + SCRIPT)
    return root


def timed_run(root: Path, expert: str, max_steps: int = 1000) -> dict[str, float]:
    """Run the CLI once; wall time, time to first event and to first startGeneration."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PERSTACK_")}
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.perf_counter()
    process = subprocess.Popen(
        [PERSTACK, "run", expert, "go", "--max-steps", str(max_steps)],
        cwd=root,
        stdout=subprocess.PIPE,
        env=env,
    )
    assert process.stdout is not None
    first_event = first_generation = None
    for line in process.stdout:
        now = time.perf_counter() - start
        if first_event is None:
            first_event = now
        if first_generation is None and b'"type":"startGeneration"' in line:
            first_generation = now
    process.wait()
    wall = time.perf_counter() - start
    if process.returncode != 0:
        raise SystemExit(f"perstack run failed with {process.returncode}")
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return {
        "wall": wall,
        "first_event": first_event or wall,
        "first_generation": first_generation or wall,
        # ru_maxrss of children is the max over all children so far: report it when it grew.
        "max_rss_mib": peak / 1024 if peak > before else float("nan"),
    }


def job_duration(root: Path) -> float:
    jobs = sorted((root / "perstack" / "jobs").iterdir(), key=lambda p: p.stat().st_mtime)
    job = json.loads((jobs[-1] / "job.json").read_text())
    return (job["finishedAt"] - job["startedAt"]) / 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--steps", type=int, default=200)
    args = parser.parse_args()

    long_project, short_project = project(args.steps), project(1)
    timed_run(short_project, "looper")  # warm the file cache and bytecode
    long_runs = [timed_run(long_project, "looper") for _ in range(args.repeat)]
    short_runs = [timed_run(short_project, "looper") for _ in range(args.repeat)]
    per_step_ms = (
        (statistics.median(r["wall"] for r in long_runs) - statistics.median(r["wall"] for r in short_runs))
        / (args.steps - 1)
        * 1000
    )
    first_event = statistics.median(r["first_event"] for r in short_runs)
    first_generation = statistics.median(r["first_generation"] for r in short_runs)

    # Peak memory: a fresh interpreter per measurement so ru_maxrss is this run's own.
    rss = subprocess.run(
        [sys.executable, __file__, "--rss-child", str(long_project)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()

    parallel_project = project(1)
    parallel = [timed_run(parallel_project, "lead") for _ in range(max(1, args.repeat // 2))]
    durations = []
    for _ in parallel:
        durations.append(job_duration(parallel_project))

    print(f"per-step overhead ({args.steps} vs 1 step): {per_step_ms:.2f} ms   [target <= 3 ms]")
    print(f"launch to first event:                {first_event * 1000:.0f} ms   [target <= 300 ms]")
    print(f"launch to first model request:        {first_generation * 1000:.0f} ms   [target <= 300 ms]")
    print(
        f"4 parallel 1 s delegates, job duration: {min(durations):.3f} s (wall incl. process "
        f"start {min(r['wall'] for r in parallel):.3f} s)   [target <= 1.1 s]"
    )
    print(f"peak memory of a {args.steps}-step run:      {rss} MiB   [target <= 100 MiB]")


def rss_child(root: Path) -> None:
    timed_run(root, "looper")
    print(f"{resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024:.1f}")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--rss-child":
        rss_child(Path(sys.argv[2]))
    else:
        main()
