"""``perstack compare`` and the workbench's compare view on the instant test model (issue 14).

Run: ``uv run python bench/bench_compare.py [--steps 200] [--rounds 3] [--latency-ms 0]
[--view-steps 500] [--skip-view]``.

The model is the fake LLM server (tests/providers/fake_llm_server.py) run as a script in
its own process, answering every request at once (``--latency-ms`` adds a delay before
each reply, as a real model's would): a ``readTextFile`` call per step until the run has
taken the number of steps its query names, then an answer. Four models, two per SDK path
(``anthropic:claude-sonnet-4-5``, ``anthropic:claude-haiku-4-5``, ``openai:gpt-4.1``,
``openai:gpt-4.1-mini``), all served by it.

Figures (targets in brackets):

* **headless**: the wall time of ``perstack compare`` with the four models against the
  slowest of the four compared alone (``perstack compare`` with one ``--model``: the same
  process start, copy and read-back), each ``--steps`` steps; and the same for two models
  (one per SDK path), which on a 2-core machine fit one core each. The rounds interleave
  the commands (and a 1-step comparison: the fixed cost) so load from other jobs hits all
  alike; each ratio is the median of each round's ``N at once / slowest single``
  [<= 1.2]. The runs of a comparison each get a worker process (runtime/compare/
  processes.py), so on an instant model, where a run is all CPU, N runs cannot take less
  than ``start + (CPU - start) / min(N, CPUs)``, CPU being what the comparison's
  processes and the model server used: the script prints that floor, over the slowest
  single, beside each ratio;
* **workbench** (``--view-steps``, default 500): the compare view with four columns
  streaming four such runs in-process (the scripted provider, so that the machine's CPUs
  go on the view rather than on the HTTP round-trips): a key press's handling time (from
  the key to the screen refreshed) at the 95th percentile while they stream [<= 100 ms],
  and the process's peak memory [<= 300 MiB].

The per-step cost of the money figures is ``bench/bench_cost.py``'s (docs/performance.md).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

FAKE_SERVER = ROOT / "tests" / "providers" / "fake_llm_server.py"
PERSTACK = str(Path(sys.executable).parent / "perstack")
MODELS = [
    "anthropic:claude-sonnet-4-5",
    "anthropic:claude-haiku-4-5",
    "openai:gpt-4.1",
    "openai:gpt-4.1-mini",
]
CONFIG = """
model = "claude-sonnet-4-5"
[provider]
providerName = "anthropic"

[experts."looper"]
instruction = "Loop."
"""


def child_env(base_url: str = "") -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PERSTACK_", "COLUMNS"))}
    env.update(
        ANTHROPIC_API_KEY="sk-ant-bench",
        ANTHROPIC_BASE_URL=base_url,
        OPENAI_API_KEY="sk-openai-bench",
        OPENAI_BASE_URL=f"{base_url}/v1",
    )
    return env


def start_server(latency_ms: int) -> tuple[subprocess.Popen[str], str]:
    command = [sys.executable, str(FAKE_SERVER), "--text", "Done."]
    command += ["--tool", "readTextFile", "--tool-args", '{"path": "notes.txt"}']
    if latency_ms:
        command += ["--latency-ms", str(latency_ms)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=child_env())
    assert process.stdout is not None
    return process, process.stdout.readline().strip()


def process_cpu(pid: int) -> float:
    """CPU seconds process ``pid`` has used so far (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Timed:
    """One command's wall time and the CPU time it (workers included) and the model
    server used."""

    def __init__(self, wall: float, cpu: float, server_cpu: float) -> None:
        self.wall, self.cpu, self.server_cpu = wall, cpu, server_cpu


def compare_once(
    root: Path, models: list[str], steps: int, base_url: str, server_pid: int
) -> Timed:
    """One ``perstack compare`` (its copies removed afterwards)."""
    command = [PERSTACK, "compare", "looper", f"Loop {steps} times", "--json"]
    command += ["--max-steps", str(steps * 2)]
    for model in models:
        command += ["--model", model]
    before, server_before = resource.getrusage(resource.RUSAGE_CHILDREN), process_cpu(server_pid)
    start = time.perf_counter()
    done = subprocess.run(command, cwd=root, env=child_env(base_url), capture_output=True)
    elapsed = time.perf_counter() - start
    after, server_after = resource.getrusage(resource.RUSAGE_CHILDREN), process_cpu(server_pid)
    if done.returncode != 0:
        raise SystemExit(f"perstack compare failed: {done.stderr.decode()[-500:]}")
    shutil.rmtree(root / "perstack", ignore_errors=True)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return Timed(elapsed, cpu, server_after - server_before)


def headless(steps: int, rounds: int, latency_ms: int) -> None:
    server, base_url = start_server(latency_ms)
    root = Path(tempfile.mkdtemp(prefix="bench-compare-"))
    pair = [MODELS[0], MODELS[2]]  # one per SDK path
    cpus = usable_cpus()
    try:
        (root / "perstack.toml").write_text(CONFIG)
        (root / "notes.txt").write_text("A short note the looping Expert reads at every step.\n")

        def once(models: list[str], count: int) -> Timed:
            return compare_once(root, models, count, base_url, server.pid)

        once(MODELS[:1], 2)  # warm the bytecode and the disk cache
        figures: dict[str, list[float]] = {}
        for _ in range(rounds):
            start = once(MODELS[:1], 1)
            singles = [once([model], steps) for model in MODELS]
            four = once(MODELS, steps)
            two = once(pair, steps)
            slowest = max(single.wall for single in singles)
            slowest2 = max(singles[0].wall, singles[2].wall)
            # The least N runs can take on this machine: the start (one process, before
            # the workers) then every process's CPU (the model server's too) spread over
            # the cores.
            floor4 = start.wall + (four.cpu + four.server_cpu - start.wall) / min(4, cpus)
            floor2 = start.wall + (two.cpu + two.server_cpu - start.wall) / min(2, cpus)
            for name, value in (
                ("start", start.wall), ("slowest", slowest), ("four", four.wall),
                ("ratio4", four.wall / slowest), ("slowest2", slowest2), ("two", two.wall),
                ("ratio2", two.wall / slowest2),
                ("single_cpu", statistics.mean(s.cpu + s.server_cpu for s in singles)),
                ("four_cpu", four.cpu + four.server_cpu), ("two_cpu", two.cpu + two.server_cpu),
                ("floor4", floor4 / slowest), ("floor2", floor2 / slowest2),
            ):  # fmt: skip
                figures.setdefault(name, []).append(value)
            print(
                f"  round: 1 step {start.wall:.2f} s; singles "
                f"{', '.join(f'{s.wall:.2f}' for s in singles)} s (CPU "
                f"{', '.join(f'{s.cpu:.2f}+{s.server_cpu:.2f}' for s in singles)} s); four at "
                f"once {four.wall:.2f} s (CPU {four.cpu:.2f}+{four.server_cpu:.2f} s; ratio "
                f"{four.wall / slowest:.2f}, floor {floor4 / slowest:.2f}); two at once "
                f"{two.wall:.2f} s (CPU {two.cpu:.2f}+{two.server_cpu:.2f} s; ratio "
                f"{two.wall / slowest2:.2f}, floor {floor2 / slowest2:.2f}); load "
                f"{os.getloadavg()[0]:.2f}",
                flush=True,
            )
        med = {name: statistics.median(values) for name, values in figures.items()}
        print(
            f"headless, 4 models x {steps} steps (latency {latency_ms} ms a reply): slowest "
            f"single {med['slowest']:.2f} s, comparison {med['four']:.2f} s, ratio "
            f"{med['ratio4']:.2f} [<= 1.2] (floor on {cpus} CPUs {med['floor4']:.2f})\n"
            f"headless, 2 models x {steps} steps: slowest single {med['slowest2']:.2f} s, "
            f"comparison {med['two']:.2f} s, ratio {med['ratio2']:.2f} [<= 1.2] (floor "
            f"{med['floor2']:.2f})\n"
            f"  fixed cost (a 1-step comparison) {med['start']:.2f} s; CPU (perstack and "
            f"its workers + the model server): a single run {med['single_cpu']:.2f} s, four at"
            f" once {med['four_cpu']:.2f} s, two at once {med['two_cpu']:.2f} s; floor = "
            f"(start + (CPU - start) / min(N, {cpus} CPUs)) / slowest single"
        )
    finally:
        server.terminate()
        server.wait()
        shutil.rmtree(root, ignore_errors=True)


def usable_cpus() -> int:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--latency-ms", type=int, default=0)
    parser.add_argument("--view-steps", type=int, default=500)
    parser.add_argument("--skip-view", action="store_true")
    args = parser.parse_args()
    headless(args.steps, args.rounds, args.latency_ms)
    if not args.skip_view:
        sys.path.insert(0, str(ROOT / "bench"))
        from bench_compare_view import workbench_figures

        workbench_figures(args.view_steps)


if __name__ == "__main__":
    main()
