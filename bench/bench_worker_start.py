"""How fast can ``perstack compare`` get four worker processes ready to run? (issue 14)

Run: ``uv run python bench/bench_worker_start.py [--workers 4] [--rounds 5]``.

Each way starts, from a fresh interpreter that has imported what ``perstack compare``
has by the time its runs start (the CLI and ``runtime.compare``), ``--workers`` worker
processes, each ready to run once it has everything a run on the two SDK paths needs
imported (the engine, the skills, both providers, their HTTP stacks and the ``openai``
SDK) and the price table loaded. Figures: the wall time until every worker is ready and
the CPU time all the processes spent (this one's included; not measured for the
forkserver, which is not this process's child), medians over ``--rounds``
rounds that interleave the ways:

* ``fork``: what runtime/compare/processes.py does: import once here, then fork;
* ``forkserver``: multiprocessing's forkserver preloaded with the same modules;
* ``spawn``: a fresh interpreter per worker that imports them itself (as a plain
  subprocess would).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

MODULES = [
    "runtime.engine.api",
    "runtime.engine.jobs",
    "runtime.skills.factory",
    "runtime.storage.sources",
    "runtime.views.steps",
    "runtime.providers.anthropic",
    "runtime.providers.openai",
    "httpx2",
    "httpcore2",
    "openai",
]

PROBE = r"""
import os, sys, time, resource, importlib
sys.path.insert(0, {root!r})
start = time.perf_counter()
import runtime.cli.compare, runtime.compare  # what the CLI has when its runs start
import multiprocessing as mp
MODULES = {modules!r}
WAY, COUNT = {way!r}, {count}

def ready():
    for name in MODULES:
        importlib.import_module(name)
    from runtime.views.cost import PriceBook, RunModel
    from runtime.model import Usage
    PriceBook().price(Usage(), RunModel("anthropic", "claude-sonnet-4-5"), 0)

def worker(conn):
    ready()
    conn.send(1)
    conn.close()

if __name__ == "__main__":
    begin = time.perf_counter()
    if WAY == "fork":
        ready()
    ctx = mp.get_context(WAY)
    if WAY == "forkserver":
        ctx.set_forkserver_preload(MODULES)
    pipes, procs = [], []
    for _ in range(COUNT):
        parent, child = ctx.Pipe(duplex=False)
        p = ctx.Process(target=worker, args=(child,))
        p.start()
        child.close()
        pipes.append(parent)
        procs.append(p)
    for conn in pipes:
        conn.recv()
    wall = time.perf_counter() - begin
    for p in procs:
        p.join()
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime
    print(wall, cpu)
"""


def once(way: str, count: int) -> tuple[float, float]:
    code = PROBE.format(root=str(ROOT), modules=MODULES, way=way, count=count)
    with tempfile.TemporaryDirectory() as folder:  # a file: spawned workers import it
        script = Path(folder) / "probe.py"
        script.write_text(code)
        done = subprocess.run(
            [sys.executable, str(script)], capture_output=True, text=True, cwd=ROOT
        )
    if done.returncode != 0:
        raise SystemExit(done.stderr[-2000:])
    wall, cpu = done.stdout.split()
    return float(wall), float(cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    ways = ["fork", "forkserver", "spawn"]
    once("fork", 1)  # warm the disk cache
    results: dict[str, list[tuple[float, float]]] = {way: [] for way in ways}
    for _ in range(args.rounds):
        for way in ways:
            results[way].append(once(way, args.workers))
    for way in ways:
        walls = [wall for wall, _ in results[way]]
        # The forkserver is not this process's child once it has forked the workers: its
        # own CPU (the interpreter and the imports) is not in RUSAGE_CHILDREN.
        cpus = "n/a" if way == "forkserver" else f"{statistics.median(c for _, c in results[way]):.2f} s"
        print(
            f"{way:>10}: {args.workers} workers ready in {statistics.median(walls):.2f} s "
            f"(min {min(walls):.2f}), CPU {cpus}"
        )
    print(json.dumps({way: results[way] for way in ways}))


if __name__ == "__main__":
    main()
