"""Time ``perstack log --job <id> --type callTools --json`` over a 100,000-event job.

Run: ``uv run python bench/bench_log.py [--shape streaming|steps] [--events N] [--keep DIR]``.

It writes a job through ``FileStorage`` (as the runtime would), then runs the real command
in a child process a few times and reports the wall time and the child's peak RSS
(``resource.getrusage(RUSAGE_CHILDREN).ru_maxrss``). The files are in the page cache by
then, as they are when someone inspects a job they just ran.

Two job shapes:

* ``streaming`` (default, what long real jobs look like): 250 steps whose reasoning
  streams in ~390 deltas each; every step's ``startGeneration``, ``continueToNextStep`` and
  checkpoint carry the whole, growing history (about 110 MB on disk in all).
* ``steps``: 11,111 short steps of 9 events (2 reasoning deltas), history capped at 20
  messages, so 11,111 ``callTools`` events and 11,111 checkpoints go into the output.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import orjson

from runtime.events import (
    CallTools,
    CompleteStreamingReasoning,
    ContinueToNextStep,
    FinishToolCall,
    ResolveToolResults,
    StartGeneration,
    StartStreamingReasoning,
    StreamReasoning,
)
from runtime.model import (
    Checkpoint,
    ExpertMessage,
    ExpertRef,
    InstructionMessage,
    Job,
    Step,
    TextPart,
    ThinkingPart,
    ToolCall,
    ToolCallPart,
    ToolMessage,
    ToolResult,
    ToolResultPart,
    Usage,
    UserMessage,
)
from runtime.storage import FileStorage

JOB_ID = "benchjob"
RUN_ID = "benchrun"
EXPERT = ExpertRef(key="writer", name="writer", version="1.0.0")


def generate(root: Path, shape: str, total_events: int) -> int:
    """Write the job; return how many callTools events it has."""
    storage = FileStorage(root)
    steps, deltas, history_cap = (250, None, None) if shape == "streaming" else (None, 2, 20)
    per_step_fixed = 7  # startGeneration … continueToNextStep, without the deltas
    if steps is None:
        steps = total_events // (per_step_fixed + deltas)  # type: ignore[operator]
    if deltas is None:
        deltas = total_events // steps - per_step_fixed
    clock = iter(range(1_767_225_600_000, 1_767_225_600_000 + 10 * total_events))
    history = [
        InstructionMessage(contents=[TextPart(text="You are a careful writer. " * 20)], cache=True),
        UserMessage(contents=[TextPart(text="Write a long report about the sea.")]),
    ]
    usage = Usage()
    storage.store_job(
        Job(id=JOB_ID, status="running", coordinator_expert_key="writer", started_at=next(clock))
    )
    written = 0

    def store(event_class: type, **fields: object) -> None:
        nonlocal written
        event = event_class(
            job_id=JOB_ID,
            run_id=RUN_ID,
            expert_key="writer",
            step_number=step,
            timestamp=next(clock),
            **fields,
        )
        storage.store_event(event, event.to_json())
        written += 1

    for step in range(1, steps + 1):
        if written >= total_events:
            break
        context = history if history_cap is None else history[:2] + history[2:][-history_cap:]
        store(StartGeneration, messages=context)
        store(StartStreamingReasoning)
        for index in range(deltas):
            store(StreamReasoning, delta=f"thought {index} ")
        reasoning = "".join(f"thought {index} " for index in range(deltas))
        store(CompleteStreamingReasoning, text=reasoning)
        call = ToolCall(
            id=f"call{step}",
            skill_name="@perstack/base",
            tool_name="readTextFile",
            args={"path": f"notes/{step}.md"},
        )
        said = ExpertMessage(
            contents=[
                ThinkingPart(thinking=reasoning[:500]),
                ToolCallPart(tool_call_id=call.id, tool_name=call.tool_name, args=call.args),
            ]
        )
        usage = usage + Usage(input_tokens=900, output_tokens=120, total_tokens=1020)
        store(CallTools, new_message=said, tool_calls=[call], usage=usage)
        result = TextPart(text='{"content":"' + "lorem ipsum " * 20 + '"}')
        store(
            ResolveToolResults,
            tool_results=[ToolResult(id=call.id, skill_name=call.skill_name,
                                     tool_name=call.tool_name, result=[result])],
        )  # fmt: skip
        answer = ToolMessage(
            contents=[ToolResultPart(tool_call_id=call.id, tool_name=call.tool_name,
                                     contents=[result])]
        )  # fmt: skip
        store(FinishToolCall, new_messages=[answer])
        history = [*history, said, answer]
        context = history if history_cap is None else history[:2] + history[2:][-history_cap:]
        state = Checkpoint(
            id=f"cp{step}", job_id=JOB_ID, run_id=RUN_ID, status="proceeding",
            step_number=step, messages=context, expert=EXPERT, usage=usage,
        )  # fmt: skip
        storage.store_checkpoint(state)
        following = state.model_copy(update={"id": f"cp{step + 1}", "step_number": step + 1})
        store(
            ContinueToNextStep,
            checkpoint=state,
            step=Step(step_number=step, started_at=0, usage=usage),
            next_checkpoint=following,
        )
    return min(steps, step)


def command() -> list[str]:
    script = Path(sys.executable).with_name("perstack")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "runtime.cli.log"]  # before `perstack` mounts `log`


def measure(
    root: Path, runs: int, expected: int, extra: list[str]
) -> tuple[list[float], list[float], int]:
    """Run the command ``runs`` times; return wall times, CPU times and the peak RSS.

    Each measurement runs in its own helper process so ``RUSAGE_CHILDREN`` sees only the
    ``perstack log`` children of that helper (not this process's earlier children).
    """
    helper = [sys.executable, "-c", _HELPER, str(root), str(runs), str(expected), *extra]
    report = subprocess.run(helper, capture_output=True, check=True, cwd=ROOT).stdout
    walls, cpus, peak_kib = orjson.loads(report)
    return walls, cpus, peak_kib


_HELPER = """
import os, resource, subprocess, sys, tempfile, time
import orjson
sys.path.insert(0, os.getcwd())
from bench.bench_log import JOB_ID, command
root, runs, expected, extra = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4:]
argv = [*command(), "log", "--job", JOB_ID, "--type", "callTools", "--json", *extra]
if argv[1] == "-m":
    argv.remove("log")
env = {**os.environ, "PERSTACK_STORAGE_PATH": root}
walls, cpus = [], []
with tempfile.TemporaryFile() as out:
    for _ in range(runs):
        out.seek(0)
        out.truncate()
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        subprocess.run(argv, stdout=out, env=env, check=True)
        walls.append(time.perf_counter() - started)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    out.seek(0)
    data = orjson.loads(out.read())
assert len(data["events"]) == expected, (len(data["events"]), expected)
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(orjson.dumps([walls, cpus, peak]).decode())
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", choices=["streaming", "steps"], default="streaming")
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--keep", type=Path, help="write the job here and keep it")
    args = parser.parse_args()
    root = args.keep or Path(tempfile.mkdtemp(prefix="perstack-bench-log-"))
    try:
        started = time.perf_counter()
        if not (root / "jobs" / JOB_ID / "job.json").exists():
            calls = generate(root, args.shape, args.events)
            print(f"generated in {time.perf_counter() - started:.1f} s")
        else:
            calls = len(FileStorage(root).list_event_files(JOB_ID, types={"callTools"}))
        events = len(FileStorage(root).list_event_files(JOB_ID))
        size = sum(p.stat().st_size for p in root.rglob("*") if p.is_file())
        print(f"job: {events} events ({calls} callTools), {size / 2**20:.0f} MiB on disk")
        for extra, expected in (([], min(calls, 100)), (["--take", "0"], calls)):
            walls, cpus, peak_kib = measure(root, args.runs, expected, extra)
            print(
                f"perstack log --job {JOB_ID} --type callTools --json {' '.join(extra)}".rstrip()
                + f": wall median {statistics.median(walls):.2f} s (min {min(walls):.2f}, "
                f"max {max(walls):.2f}, {args.runs} runs), CPU (user+sys) median "
                f"{statistics.median(cpus):.2f} s, peak RSS {peak_kib / 1024:.0f} MiB"
            )
        print(f"load average while measuring: {os.getloadavg()[0]:.1f} ({os.cpu_count()} CPUs)")
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
