"""Replay, fork and diff on a 2,000-step job (issue 13's figures).

Run: ``uv run python bench/bench_replay.py [--steps 2000] [--keep DIR]``.

It runs a 2,000-step job (10,000 events) with the real CLI on the scripted provider, then
measures (targets in brackets):

* loading the stored job into the views: the first rows (the first batch of events read
  and turned into timeline rows; what a viewer draws first) [<= 1 s], and the whole
  replay index (rows, tree and cursor index of every event); also from a ``.jsonl``
  capture of the same job, and in a fresh process (imports included);
* moving the replay cursor: a step forward from a random place, then the tree, the header
  and the 40 rows above the cursor as they were [p95 <= 50 ms]; and reading the checkpoint
  at the cursor (the whole history, from storage) for the checkpoint panel;
* ``perstack fork`` at step 1,000: launch to its first model request [<= 0.5 s];
* ``perstack diff`` of the job and a 2,000-step fork of it that differs in 20 steps:
  wall time and peak memory of the command [<= 1.5 s, <= 300 MiB].

The machine may be shared: CPU time is printed beside wall time for the commands.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_run import CONFIG, LOOP_RULE, PERSTACK, SCRIPT  # noqa: E402

#: Turns at which the diff's fork lists the directory instead of reading notes.txt.
CHANGED_TURNS = list(range(1050, 2000, 50))


def env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("PERSTACK_")}


def make_job(root: Path, steps: int) -> tuple[str, list[dict]]:
    """Run the looping job; return its id and its printed events."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "perstack.toml").write_text(CONFIG)
    (root / "notes.txt").write_text("A short note the looping Expert reads at every step.\n")
    loop = LOOP_RULE.format(steps=steps) if steps > 1 else ""
    (root / "script.toml").write_text(loop + SCRIPT)
    done = subprocess.run(
        [PERSTACK, "run", "looper", "go", "--max-steps", str(steps * 2)],
        cwd=root, env=env(), capture_output=True, check=True,
    )  # fmt: skip
    (root / "job.jsonl").write_bytes(done.stdout)
    events = [json.loads(line) for line in done.stdout.splitlines()]
    return events[0]["jobId"], events


def checkpoint_at_step(events: list[dict], step: int) -> str:
    for event in events:
        if event["type"] == "continueToNextStep" and event["stepNumber"] == step:
            return event["checkpoint"]["id"]
    raise SystemExit(f"no checkpoint at step {step}")


def timed_fork(root: Path, job_id: str, checkpoint: str, *, to_the_end: bool) -> dict[str, float]:
    """``perstack fork``: time to its first ``startGeneration`` (then stopped, unless
    ``to_the_end``)."""
    args = [PERSTACK, "fork", job_id, checkpoint, "--max-steps", "100000"]
    return timed_launch(args, root, to_the_end=to_the_end)


def timed_launch(args: list[str], root: Path, *, to_the_end: bool = False) -> dict[str, float]:
    """A command printing events: time to its first ``startGeneration`` (then stopped,
    unless ``to_the_end``)."""
    start = time.perf_counter()
    process = subprocess.Popen(args, cwd=root, stdout=subprocess.PIPE, env=env())
    assert process.stdout is not None
    first = None
    for line in process.stdout:
        if first is None and b'"type":"startGeneration"' in line:
            first = time.perf_counter() - start
            if not to_the_end:
                process.send_signal(signal.SIGTERM)
                break
    for _ in process.stdout:
        pass
    process.wait()
    return {"first_generation": first or float("nan"), "wall": time.perf_counter() - start}


def timed_command(args: list[str], cwd: Path) -> dict[str, float]:
    """Wall time, CPU time and peak RSS of one command, in a fresh child process."""
    report = subprocess.run(
        [sys.executable, __file__, "--measure-child", str(cwd), "--", *args],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return json.loads(report)


def measure_child(cwd: str, args: list[str]) -> None:
    start = time.perf_counter()
    subprocess.run(args, cwd=cwd, env=env(), stdout=subprocess.DEVNULL, check=True)
    wall = time.perf_counter() - start
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    print(json.dumps({
        "wall": wall,
        "cpu": usage.ru_utime + usage.ru_stime,
        "max_rss_mib": usage.ru_maxrss / 1024,
    }))  # fmt: skip


def first_rows_child(cwd: str, name: str) -> None:
    """In a fresh process: open the job and turn its first batch of events into rows."""
    start = time.perf_counter()
    from runtime.storage.sources import open_job
    from runtime.views.activity import ActivityLog

    source = open_job(name, cwd=Path(cwd))
    log = ActivityLog()
    for count, (_, event) in enumerate(source.iter_events(), start=1):
        log.feed(event)
        if count == 256:
            break
    print(json.dumps({"first_rows": time.perf_counter() - start, "rows": len(log.rows)}))


def views(root: Path, job_id: str, moves: int) -> dict[str, float]:
    import runtime.events  # noqa: F401 - loaded in any viewer already (the data model)
    from runtime.storage.sources import open_job
    from runtime.views.activity import ActivityLog
    from runtime.views.replay import JobReplay

    figures: dict[str, float] = {}
    # A viewer has these modules loaded already: time the work, not the imports.
    start = time.perf_counter()
    source = open_job(job_id, cwd=root)
    log = ActivityLog()
    for count, (_, event) in enumerate(source.iter_events(), start=1):
        log.feed(event)
        if count == 256:
            break
    figures["first_rows"] = time.perf_counter() - start
    start, cpu = time.perf_counter(), time.process_time()
    replay = JobReplay.from_source(open_job(job_id, cwd=root))
    figures["whole_load"] = time.perf_counter() - start
    figures["whole_load_cpu"] = time.process_time() - cpu
    figures["events"] = len(replay)
    start, cpu = time.perf_counter(), time.process_time()
    JobReplay.from_source(open_job("job.jsonl", cwd=root))
    figures["capture_load"] = time.perf_counter() - start
    figures["capture_load_cpu"] = time.process_time() - cpu
    gc.freeze()  # what a viewer does once a job is loaded: its objects live on

    rng = random.Random(13)
    samples = []
    for _ in range(moves):
        replay.seek(rng.randrange(len(replay)))
        began = time.perf_counter()
        replay.next_step() if rng.random() < 0.5 else replay.prev_step()
        replay.header()
        replay.nodes_at()
        shown = replay.visible_count()
        rows = replay.rows_at(max(0, shown - 40), shown)
        assert len(rows) <= 40
        samples.append(time.perf_counter() - began)
    samples.sort()
    figures["move_p50_ms"] = statistics.median(samples) * 1000
    figures["move_p95_ms"] = samples[int(0.95 * len(samples))] * 1000
    figures["move_max_ms"] = samples[-1] * 1000
    checkpoint_samples = []
    for _ in range(100):
        replay.go_to_step(rng.randrange(1, 2001))
        began = time.perf_counter()
        held = replay.checkpoint_at()
        assert held is not None
        checkpoint_samples.append(time.perf_counter() - began)
    checkpoint_samples.sort()
    figures["checkpoint_p50_ms"] = statistics.median(checkpoint_samples) * 1000
    figures["checkpoint_p95_ms"] = checkpoint_samples[95] * 1000
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--moves", type=int, default=2000)
    parser.add_argument("--keep", type=Path, help="Keep the project (and reuse it) here.")
    args = parser.parse_args()
    root = args.keep or Path(tempfile.mkdtemp(prefix="perstack-bench-replay-"))
    marker = root / "bench.json"
    if marker.exists():
        made = json.loads(marker.read_text())
        job_id, fork_id, events = made["job"], made["fork"], []
        fork_point = made["fork_point"]
    else:
        job_id, events = make_job(root, args.steps)
        fork_point = checkpoint_at_step(events, args.steps // 2)
        # The diff's second job: the same job forked at its middle, with 19 steps changed.
        rules = "".join(
            f'[[rules]]\nexpert = "looper"\nturn = {turn}\n[[rules.toolCalls]]\n'
            f'name = "listDirectory"\nargs = {{ path = "." }}\n\n'
            for turn in CHANGED_TURNS
        )
        (root / "script.toml").write_text(rules + LOOP_RULE.format(steps=args.steps) + SCRIPT)
        before = {p.name for p in (root / "perstack" / "jobs").iterdir()}
        timed_fork(root, job_id, fork_point, to_the_end=True)
        fork_id = ({p.name for p in (root / "perstack" / "jobs").iterdir()} - before).pop()
        marker.write_text(json.dumps({"job": job_id, "fork": fork_id, "fork_point": fork_point}))

    small = root / "small"  # a fresh one-step job, for `perstack run`'s launch beside fork's
    if not small.exists():
        make_job(small, 1)
    figures = views(root, job_id, args.moves)
    cold = json.loads(subprocess.run(
        [sys.executable, __file__, "--first-rows-child", str(root), job_id],
        capture_output=True, text=True, check=True,
    ).stdout)  # fmt: skip
    forks, runs = [], []
    for _ in range(7):  # interleaved: both sides of the ratio under the same load
        forks.append(timed_fork(root, job_id, fork_point, to_the_end=False))
        runs.append(timed_launch([PERSTACK, "run", "looper", "go"], small))
    diffs = [timed_command([PERSTACK, "diff", job_id, fork_id, "--json"], root) for _ in range(3)]
    texts = [timed_command([PERSTACK, "diff", job_id, fork_id], root) for _ in range(3)]

    first_generation = statistics.median(f["first_generation"] for f in forks)
    run_generation = statistics.median(r["first_generation"] for r in runs)
    print(f"job: {figures['events']:.0f} events, {args.steps} steps   ({root})")
    print(f"first rows on screen (256 events read, rows made):  {figures['first_rows'] * 1000:.0f} ms"
          f"   [target <= 1 s]; in a fresh process, imports included: "
          f"{cold['first_rows'] * 1000:.0f} ms")  # fmt: skip
    for label, key in (("storage", "whole_load"), ("a .jsonl capture", "capture_load")):
        print(f"whole replay index from {label}: {figures[key] * 1000:.0f} ms wall, "
              f"{figures[key + '_cpu'] * 1000:.0f} ms CPU")  # fmt: skip
    print(f"cursor move (step, tree, header, 40 rows): p50 {figures['move_p50_ms']:.2f} ms, "
          f"p95 {figures['move_p95_ms']:.2f} ms, max {figures['move_max_ms']:.2f} ms"
          f"   [target p95 <= 50 ms]")  # fmt: skip
    print(f"checkpoint at the cursor (whole history):   p50 {figures['checkpoint_p50_ms']:.1f} ms, "
          f"p95 {figures['checkpoint_p95_ms']:.1f} ms")  # fmt: skip
    print(
        f"perstack fork at step {args.steps // 2}: launch to first model request "
        f"{first_generation * 1000:.0f} ms (median of {len(forks)})   [target <= 0.5 s]; "
        f"a new `perstack run` meanwhile: {run_generation * 1000:.0f} ms "
        f"(fork / run: {first_generation / run_generation:.2f})"
    )
    for label, runs in (("--json", diffs), ("text", texts)):
        wall = statistics.median(r["wall"] for r in runs)
        cpu = statistics.median(r["cpu"] for r in runs)
        rss = max(r["max_rss_mib"] for r in runs)
        print(f"perstack diff ({label}) of two {args.steps}-step jobs: {wall:.2f} s wall, "
              f"{cpu:.2f} s CPU, {rss:.0f} MiB peak   [target <= 1.5 s, <= 300 MiB]")  # fmt: skip
    if args.keep is None:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    if len(sys.argv) > 3 and sys.argv[1] == "--measure-child":
        measure_child(sys.argv[2], sys.argv[4:])
    elif len(sys.argv) == 4 and sys.argv[1] == "--first-rows-child":
        first_rows_child(sys.argv[2], sys.argv[3])
    else:
        main()
