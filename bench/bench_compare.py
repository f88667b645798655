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
  process start, copy and read-back), each ``--steps`` steps; the rounds interleave the
  five commands so load from other jobs hits all alike; the ratio is the median of each
  round's ``four / slowest single`` [<= 1.2];
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


def compare_once(root: Path, models: list[str], steps: int, base_url: str) -> float:
    """Wall seconds of one ``perstack compare`` (its copies removed afterwards)."""
    command = [PERSTACK, "compare", "looper", f"Loop {steps} times", "--json"]
    command += ["--max-steps", str(steps * 2)]
    for model in models:
        command += ["--model", model]
    start = time.perf_counter()
    done = subprocess.run(command, cwd=root, env=child_env(base_url), capture_output=True)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"perstack compare failed: {done.stderr.decode()[-500:]}")
    shutil.rmtree(root / "perstack", ignore_errors=True)
    return elapsed


def headless(steps: int, rounds: int, latency_ms: int) -> None:
    server, base_url = start_server(latency_ms)
    root = Path(tempfile.mkdtemp(prefix="bench-compare-"))
    try:
        (root / "perstack.toml").write_text(CONFIG)
        (root / "notes.txt").write_text("A short note the looping Expert reads at every step.\n")
        compare_once(root, MODELS[:1], 2, base_url)  # warm the bytecode and the disk cache
        ratios, fours, slowest = [], [], []
        for _ in range(rounds):
            singles = [compare_once(root, [model], steps, base_url) for model in MODELS]
            four = compare_once(root, MODELS, steps, base_url)
            fours.append(four)
            slowest.append(max(singles))
            ratios.append(four / max(singles))
            print(
                f"  round: singles {', '.join(f'{s:.2f}' for s in singles)} s; "
                f"four at once {four:.2f} s; ratio {four / max(singles):.2f}",
                flush=True,
            )
        print(
            f"headless, 4 models x {steps} steps (latency {latency_ms} ms a reply): "
            f"slowest single {statistics.median(slowest):.2f} s, comparison "
            f"{statistics.median(fours):.2f} s, ratio {statistics.median(ratios):.2f} "
            "[<= 1.2]"
        )
    finally:
        server.terminate()
        server.wait()
        shutil.rmtree(root, ignore_errors=True)


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
