"""Benchmarks of `perstack run` through the SDK-backed providers, against an instant model.

Run: ``uv run python bench/bench_providers.py`` (``--repeat``, ``--steps``, ``--paths``).

The model is the fake LLM server (tests/providers/fake_llm_server.py) run as a script in its
own process: it answers every request at once, with a ``readTextFile`` call per step until
the run has taken the number of steps its query names. The real CLI is launched for every
sample, exactly as ``bench/bench_run.py`` measures the runtime with the scripted provider.

Figures (issue 3 targets in brackets), medians of ``--repeat`` samples taken round-robin
over the paths, so bursts of load from other jobs on a shared machine hit each path alike:

* launch to the first model request: from starting the ``perstack`` process to the request
  reaching the server (the server logs ``time.monotonic()``, which is system-wide) [<= 0.7 s
  through the Anthropic path];
* per-step overhead: (wall time of a 200-step run - that of a 1-step run) / 199, the whole
  process each time, so event and checkpoint writes, the request bodies and the background
  SDK import are all in [<= 4 ms]; and the same with CPU time (user + system of the child,
  steadier than wall time on a shared machine).

Paths: ``scripted`` (the runtime's own figure, as a baseline under the same load),
``anthropic`` (as users launch it: requests go without the SDK until it is loaded, and
its import starts only once a request has waited 0.2 s for its answer, so against this
instant model never; the bench counts the requests an SDK sent), ``anthropic-sdk`` (the SDK imported before the CLI starts, so every request
goes through it: the SDK path's own per-step cost) and ``openai``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FAKE_SERVER = ROOT / "tests" / "providers" / "fake_llm_server.py"
PERSTACK = str(Path(sys.executable).parent / "perstack")
#: The CLI with the anthropic SDK already imported: every request goes through the SDK.
SDK_FIRST = [
    sys.executable,
    "-c",
    "from runtime._bytecode import cache_bytecode; cache_bytecode(); "
    "import anthropic; from workbench.cli import main; main()",
]

CONFIG = """
model = "{model}"
reasoningBudget = "none"

[provider]
providerName = "{provider}"
{setting}
[experts."looper"]
instruction = "Read notes.txt until told to stop."
"""

SCRIPT = """
[[rules]]
expert = "looper"
turn = "<{steps}"
[[rules.toolCalls]]
name = "readTextFile"
args = {{ path = "notes.txt" }}

[[rules]]
text = "Done."
"""


@dataclass(frozen=True)
class Route:
    """One way of reaching the model."""

    provider: str
    model: str
    command: tuple[str, ...] = (PERSTACK,)


PATHS = {
    "scripted": Route("scripted", "scripted"),
    "anthropic": Route("anthropic", "claude-sonnet-4-6"),
    "anthropic-sdk": Route("anthropic", "claude-sonnet-4-6", tuple(SDK_FIRST)),
    "openai": Route("openai", "gpt-4.1"),
}


class ModelServer:
    """The fake server in a child process; collects the arrival time of each request."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(FAKE_SERVER), "--text", "Done.", "--log"]
            + ["--tool", "readTextFile", "--tool-args", '{"path": "notes.txt"}'],
            stdout=subprocess.PIPE,
            text=True,
            env=child_env(),
        )
        assert self.process.stdout is not None
        self.base_url = self.process.stdout.readline().strip()
        self.arrivals: list[tuple[float, bool]] = []  # (time.monotonic(), sent by an SDK)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            moment, _, via = line.split()
            self.arrivals.append((float(moment), via == "sdk"))

    def cpu_seconds(self) -> float:
        """User + system CPU the server has used so far (from /proc; Linux only)."""
        try:
            fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return float("nan")
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def since(self, moment: float) -> list[tuple[float, bool]]:
        return [arrival for arrival in list(self.arrivals) if arrival[0] >= moment]

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait()


def project(path: Route, steps: int, parent: Path) -> Path:
    root = Path(tempfile.mkdtemp(prefix=f"{path.provider}-{steps}-", dir=parent))
    setting = '[provider.setting]\nscript = "script.toml"\n' if path.provider == "scripted" else ""
    config = CONFIG.format(model=path.model, provider=path.provider, setting=setting)
    (root / "perstack.toml").write_text(config)
    # A 1-step run has no looping rule ("turn < 1" would match nothing, an error).
    script = SCRIPT.format(steps=steps) if steps > 1 else SCRIPT.split("\n\n", 1)[1]
    (root / "script.toml").write_text(script)
    (root / "notes.txt").write_text("A short note the looping Expert reads at every step.\n")
    return root


#: ``--no-pycache``: turn off the command's own bytecode cache (runtime/_bytecode.py), so
#: that where PYTHONDONTWRITEBYTECODE is set every launch compiles from source.
_KEEP_BYTECODE_SETTING = False


def child_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PERSTACK_", "ANTHROPIC_"))}
    if _KEEP_BYTECODE_SETTING:
        env["PERSTACK_BYTECODE_CACHE"] = "0"
    return env


def timed_run(path: Route, root: Path, steps: int, server: ModelServer) -> dict[str, float]:
    """One `perstack run` of ``steps`` steps: wall, CPU, and launch to first model request."""
    env = child_env()
    env |= {
        "ANTHROPIC_API_KEY": "bench",
        "ANTHROPIC_BASE_URL": server.base_url,
        "OPENAI_API_KEY": "bench",
        "OPENAI_BASE_URL": f"{server.base_url}/v1",
    }
    command = [*path.command, "run", "looper", f"go {steps}", "--max-steps", str(steps + 5)]
    server_cpu = server.cpu_seconds()
    start = time.monotonic()
    process = subprocess.Popen(command, cwd=root, env=env, stdout=subprocess.PIPE)
    assert process.stdout is not None
    first_generation = None
    # Drained in large reads: the events (~35 MB for 200 steps) must be consumed, but
    # splitting them into lines here would compete for the 2 CPUs with what is measured.
    seen = b""
    while chunk := process.stdout.read1(1 << 20):
        if first_generation is None:
            seen = seen[-64:] + chunk
            if b'{"type":"startGeneration"' in seen:
                first_generation = time.monotonic()
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.monotonic() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"perstack run failed ({path}, {steps} steps)")
    arrivals = server.since(start)
    if path.provider == "scripted":
        first_request = first_generation
    else:
        first_request = arrivals[0][0] if arrivals else None
    assert first_request is not None, "no model request arrived"
    return {
        "wall": wall,
        "cpu": usage.ru_utime + usage.ru_stime,
        "server_cpu": server.cpu_seconds() - server_cpu,
        "via_sdk": sum(sdk for _, sdk in arrivals),
        "first_request": first_request - start,
        "steps": steps,
    }


def median(runs: list[dict[str, float]], key: str) -> float:
    return statistics.median(r[key] for r in runs)


def per_step_ms(long: list[dict[str, float]], short: list[dict[str, float]], key: str) -> float:
    """(median of the long runs - median of the short runs) / (steps - 1), in ms."""
    steps = int(long[0]["steps"])
    return (median(long, key) - median(short, key)) / (steps - 1) * 1000


def load() -> str:
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--paths", nargs="+", default=list(PATHS), choices=list(PATHS))
    parser.add_argument(
        "--no-pycache",
        action="store_true",
        help="keep the environment's PYTHONDONTWRITEBYTECODE (every launch compiles the "
        "project's modules again)",
    )
    args = parser.parse_args()
    global _KEEP_BYTECODE_SETTING
    _KEEP_BYTECODE_SETTING = args.no_pycache

    server = ModelServer()
    # A 200-step run stores ~40 MB of events and checkpoints; all of it is removed at the
    # end, not between runs: deleting frees blocks, and on a disk mounted with `discard`
    # that work would spill into the next measured run.
    scratch = Path(tempfile.mkdtemp(prefix="perstack-bench-providers-"))
    print(f"load average at start: {load()}   ({os.cpu_count()} CPUs)")
    try:
        roots = {
            name: (project(PATHS[name], 1, scratch), project(PATHS[name], args.steps, scratch))
            for name in args.paths
        }
        for name, (short_root, _) in roots.items():
            timed_run(PATHS[name], short_root, 1, server)  # warm file cache and bytecode
        short: dict[str, list[dict[str, float]]] = {name: [] for name in roots}
        long: dict[str, list[dict[str, float]]] = {name: [] for name in roots}
        # Round-robin over the paths, each 1-step run next to its 200-step run: a burst of
        # load from other jobs on the shared machine hits every path alike.
        for _ in range(args.repeat):
            for name, (short_root, long_root) in roots.items():
                short[name].append(timed_run(PATHS[name], short_root, 1, server))
                long[name].append(timed_run(PATHS[name], long_root, args.steps, server))
        for name in roots:
            report(name, short[name], long[name], args.steps)
        print(f"load average at the end: {load()}")
    finally:
        server.stop()
        shutil.rmtree(scratch, ignore_errors=True)


def report(
    name: str, short: list[dict[str, float]], long: list[dict[str, float]], steps: int
) -> None:
    first = median(short, "first_request") * 1000
    wall, cpu = per_step_ms(long, short, "wall"), per_step_ms(long, short, "cpu")
    server_cpu = per_step_ms(long, short, "server_cpu")
    print(
        f"{name:<14} launch to first model request {first:5.0f} ms; per step {wall:5.2f} ms "
        f"wall, {cpu:5.2f} ms CPU of perstack, {server_cpu:5.2f} ms CPU of the fake server"
    )
    samples = sorted(
        round((lg["wall"] - sh["wall"]) / (steps - 1) * 1000, 2)
        for sh, lg in zip(short, long, strict=True)
    )
    via_sdk = sorted(int(r["via_sdk"]) for r in long)
    print(
        f"{'':<14} {steps}-step run {median(long, 'wall'):.2f} s, 1-step run "
        f"{median(short, 'wall'):.2f} s; per-step samples (ms): {samples}; requests sent "
        f"by the SDK in each long run: {via_sdk}"
    )


if __name__ == "__main__":
    main()
