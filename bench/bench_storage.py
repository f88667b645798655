"""Per-step cost of FileStorage: one step's events plus its checkpoint.

Run: ``uv run python bench/bench_storage.py [--steps N]``. Prints the median and p95 cost
of storing one step (8 events whose JSON the caller already has, as the runtime does,
plus one checkpoint serialised here) in a temporary directory on the same disk as the
system temp directory (pass ``--dir`` to measure another disk: ``/tmp`` is a RAM disk on
some systems). For scale it also times writing the same bytes *non-atomically* (plain
create + write), the floor any one-file-per-event layout pays.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from runtime.model import ExpertMessage, TextPart, UserMessage
from runtime.storage import FileStorage
from tests.storage_samples import EventFactory, checkpoint


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--dir", type=Path, default=None, help="scratch parent directory")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as scratch:
        files = FileStorage(Path(scratch))
        make = EventFactory("job1")
        history = [UserMessage(contents=[TextPart(text="Write a report " * 20)])]
        costs, floors = [], []
        plain_dir = Path(scratch, "plain")
        plain_dir.mkdir()
        for step in range(1, args.steps + 1):
            history.append(ExpertMessage(contents=[TextPart(text="thinking " * 40)]))
            events = [*make.tool_step("run1", step), make.stream_reasoning("run1", step),
                      make.stream_reasoning("run1", step)]  # fmt: skip
            payloads = [(event, event.to_json()) for event in events]  # the runtime's own copy
            state = checkpoint("job1", "run1", step, messages=list(history))
            started = time.perf_counter()
            for event, data in payloads:
                files.store_event(event, data)
            files.store_checkpoint(state)
            costs.append(time.perf_counter() - started)
            started = time.perf_counter()
            for index, data in enumerate([data for _, data in payloads] + [state.to_json()]):
                fd = os.open(plain_dir / f"{step}-{index}.json", os.O_WRONLY | os.O_CREAT, 0o644)
                os.write(fd, data)
                os.close(fd)
            floors.append(time.perf_counter() - started)
        print(f"{len(events)} events + 1 checkpoint per step, {args.steps} steps, "
              f"history up to {len(history)} messages")  # fmt: skip
        for label, samples in (("FileStorage", costs), ("plain writes", floors)):
            samples.sort()
            median = statistics.median(samples) * 1000
            p95 = samples[int(len(samples) * 0.95)] * 1000
            print(f"{label:>12} per step: median {median:.3f} ms, p95 {p95:.3f} ms")


if __name__ == "__main__":
    main()
