"""Benchmarks of job storage on an S3-compatible object store (moto's server, loopback).

Run: ``uv run python bench/bench_s3.py`` (``--rounds N``, ``--steps N``, ``--latency-ms N``)

Figures:
* per-step overhead of ``perstack run`` with the S3 store against the file store:
  ((N-step run - 1-step run) / (N - 1)), both stores in each round, rounds interleaved;
* listing, in-process: every job record of J jobs (``list_jobs``) and every event of an
  M-event job (``list_events``, what ``perstack log`` reads), with the requests each
  costs: file store, S3 on loopback, and S3 behind a proxy that holds each answer
  ``--latency-ms`` (a network's round trip), batched against one request at a time.

moto's server answers one request at a time on this machine's 2 cores (~3-5 ms each), so
on loopback it is the server's own time that is measured; the latency proxy shows what
batching saves where round trips, not the server, cost the time.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_run import PERSTACK, project  # noqa: E402

from runtime.storage import (
    FileStorage,  # noqa: E402
    objectstore,  # noqa: E402
)
from runtime.storage import _s3 as s3_module  # noqa: E402
from runtime.storage.objectstore import ObjectStorage  # noqa: E402
from tests.s3_server import FlakyProxy, MotoServer  # noqa: E402
from tests.storage_samples import EventFactory, job  # noqa: E402


def run_seconds(root: Path, env: dict[str, str]) -> tuple[float, float]:
    """Wall time and CPU time (user + system) of one `perstack run`."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(
        [PERSTACK, "run", "looper", "go", "--max-steps", "1000"],
        cwd=root, env=env, stdout=subprocess.DEVNULL, check=True,
    )  # fmt: skip
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def per_step(args: argparse.Namespace, server: MotoServer) -> None:
    base = {k: v for k, v in os.environ.items() if not k.startswith("PERSTACK_")}
    long_root, short_root = project(args.steps), project(1)
    bucket = server.create_bucket("bench")
    stores = {
        "file": base,
        "s3": {**base, **server.env(), "PERSTACK_STORAGE_URL": f"s3://{bucket}/runs"},
    }
    if args.step_latency_ms:  # the same bucket, each answer held as over a network
        proxy = FlakyProxy(server.port, latency=args.step_latency_ms / 1000)
        stores[f"s3+{args.step_latency_ms:g}"] = {**stores["s3"], **server.env(proxy.endpoint)}
    run_seconds(short_root, stores["s3"])  # warm the file cache and bytecode
    overhead: dict[str, list[float]] = {name: [] for name in stores}
    cpu: dict[str, list[float]] = {name: [] for name in stores}
    for _ in range(args.rounds):
        for name, env in stores.items():
            long_run, short_run = run_seconds(long_root, env), run_seconds(short_root, env)
            overhead[name].append((long_run[0] - short_run[0]) / (args.steps - 1) * 1000)
            cpu[name].append((long_run[1] - short_run[1]) / (args.steps - 1) * 1000)
    print(f"per-step overhead of `perstack run` ({args.steps} vs 1 step, {args.rounds} rounds):")
    for name, values in overhead.items():
        rounds = ", ".join(f"{v:.1f}" for v in values)
        print(f"  {name:6} median {statistics.median(values):6.2f} ms   (rounds: {rounds});"
              f" CPU of perstack itself {statistics.median(cpu[name]):.2f} ms")  # fmt: skip
    ratio = [s / f for s, f in zip(overhead["s3"], overhead["file"])]
    print(f"  S3 minus file: {statistics.median(overhead['s3']) - statistics.median(overhead['file']):.2f} ms"
          f" per step; ratio median {statistics.median(ratio):.1f}x")  # fmt: skip


class Requests:
    """Counts obstore calls made by the storage (in this process)."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        for name in ("get", "list", "list_with_delimiter", "put"):
            real = getattr(s3_module.obstore, name)

            def counted(*a: Any, _real: Any = real, _name: str = name, **k: Any) -> Any:
                self.counts[_name] += 1
                return _real(*a, **k)

            setattr(s3_module.obstore, name, counted)

    def measure(self, action: Callable[[], Any]) -> tuple[float, str]:
        self.counts.clear()
        start = time.perf_counter()
        action()
        elapsed = time.perf_counter() - start
        return elapsed, " + ".join(f"{n} {k.upper().replace('_WITH_DELIMITER', '')}"
                                   for k, n in sorted(self.counts.items()))  # fmt: skip


def fill(storage: Any, jobs: int, events: int) -> None:
    for index in range(jobs):
        storage.store_job(job(f"job{index:04}"))
    make = EventFactory("big")
    steps = 0
    while steps * 6 < events:
        steps += 1
        for event in make.tool_step("r1", steps):
            storage.store_event(event)
    storage.store_job(job("big"))
    storage.flush()


def listing(args: argparse.Namespace, server: MotoServer, requests: Requests) -> None:
    folder = Path(tempfile.mkdtemp(prefix="perstack-s3-bench-"))
    bucket = server.create_bucket("bench")
    url = f"s3://{bucket}/listing"
    proxy = FlakyProxy(server.port, latency=args.latency_ms / 1000)
    fill(FileStorage(folder), args.jobs, args.events)
    fill(ObjectStorage(url, env=server.env()), args.jobs, args.events)
    places = {
        "file": lambda: FileStorage(folder),
        "S3 loopback": lambda: ObjectStorage(url, env=server.env()),
        f"S3 +{args.latency_ms:g} ms": lambda: ObjectStorage(url, env=server.env(proxy.endpoint)),
    }

    def one_by_one_jobs(storage: Any) -> None:
        for job_id in storage.list_job_ids():
            storage.retrieve_job(job_id)

    def one_by_one_events(storage: Any) -> None:
        saved, objectstore.READ_AHEAD = objectstore.READ_AHEAD, 0
        try:
            storage.list_events("big")
        finally:
            objectstore.READ_AHEAD = saved

    print(f"\nlisting ({args.jobs + 1} job records; a job of {args.events} events), median of 3:")
    for label, opened in places.items():
        cases = [
            ("list_jobs", lambda s: s.list_jobs()),
            ("list_events", lambda s: s.list_events("big")),
        ]
        if label != "file":
            cases += [
                ("  one request at a time: jobs", one_by_one_jobs),
                ("  one request at a time: events", one_by_one_events),
            ]
        for name, action in cases:
            times, counted = [], ""
            for _ in range(3):
                storage = opened()
                elapsed, counted = requests.measure(lambda: action(storage))
                times.append(elapsed)
            shown = f"   [{counted}]" if counted else ""
            print(f"  {label:13} {name:32} {statistics.median(times) * 1000:8.0f} ms{shown}")
    proxy.close()


def chain(args: argparse.Namespace, server: MotoServer) -> None:
    """Reading the last checkpoint of a long run (each names the one before it as its
    base) from a new store, as a worker taking the job over does: one file after another,
    against the first few then the rest in one batch (``compact.SERIAL_READS``)."""
    from runtime.model import TextPart, UserMessage
    from runtime.storage import compact
    from tests.storage_samples import checkpoint

    bucket = server.create_bucket("chain")
    url = f"s3://{bucket}/bench"
    writer = ObjectStorage(url, env=server.env())
    messages: list[Any] = []
    steps = 200
    for step in range(1, steps + 1):
        messages = [*messages, UserMessage(contents=[TextPart(text=f"step {step} " * 20)])]
        writer.store_checkpoint(checkpoint("long", "r1", step, messages=messages))
    writer.flush()
    proxy = FlakyProxy(server.port, latency=args.latency_ms / 1000)
    serial_reads = compact.SERIAL_READS
    print(f"the last checkpoint of a {steps}-step run, read from a new store (median of "
          f"{args.rounds}):")  # fmt: skip
    for where, endpoint in (("loopback", None), (f"+{args.latency_ms:g} ms", proxy.endpoint)):
        for label, reads in (("one by one", 10**9), ("batched", serial_reads)):
            compact.SERIAL_READS = reads
            times = []
            for _ in range(args.rounds):
                reader = ObjectStorage(url, env=server.env(endpoint))
                start = time.perf_counter()
                found = reader.retrieve_checkpoint("long", f"cp-r1-{steps}")
                times.append(time.perf_counter() - start)
                assert found is not None and len(found.messages) == steps
            print(f"  S3 {where:<10} {label:<10} {statistics.median(times) * 1000:7.0f} ms")
    compact.SERIAL_READS = serial_reads


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--events", type=int, default=1200)
    parser.add_argument("--latency-ms", type=float, default=10.0)
    parser.add_argument("--step-latency-ms", type=float, default=0.0,
                        help="per step, also with each answer held this long")  # fmt: skip
    parser.add_argument("--only", choices=["steps", "listing", "chain"])
    args = parser.parse_args()
    server = MotoServer()
    try:
        if args.only in (None, "steps"):
            per_step(args, server)
        if args.only in (None, "listing"):
            listing(args, server, Requests())
        if args.only in (None, "chain"):
            chain(args, server)
    finally:
        server.stop()


if __name__ == "__main__":
    main()
