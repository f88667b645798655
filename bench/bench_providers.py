"""Benchmarks of `perstack run` through the SDK-backed providers, against the fake LLM server.

Run: ``uv run python bench/bench_providers.py`` (``--steps``, ``--repeat`` for more samples).

The fake server (tests/providers/fake_llm_server.py) runs in this process as an instant model:
every request is answered at once, so the figures are the runtime's own cost.

Figures (issue 3 targets in brackets):
* launch to the first model request through the Anthropic path [<= 0.7 s], and through the
  OpenAI path; wall time, and the CPU time the `perstack` process had used when the request
  arrived (steadier than wall time on a loaded machine). Each with and without
  ``prewarm`` called first thing in the interpreter;
* per-step overhead through each path: the time from the first ``startGeneration`` event
  to the last of an N-step run, over N - 1 (launch excluded; the Anthropic SDK's background
  import, which overlaps the first steps, included), and the same over the run's last
  quarter (steady state), with the CPU per step there of perstack and of the fake server
  [<= 4 ms].
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "providers"))

from fake_llm_server import (  # noqa: E402
    AnthropicReply,
    FakeLLMServer,
    OpenAIReply,
    RecordedRequest,
    ToolCallSpec,
)

PERSTACK = str(Path(sys.executable).parent / "perstack")
PREWARMED = (
    "import sys; from runtime.providers.prewarm import prewarm; prewarm(sys.argv[1]); "
    "del sys.argv[1]; from workbench.cli import main; main()"
)

CONFIG = """
model = "{model}"
reasoningBudget = "none"

[provider]
providerName = "{provider}"

[experts."looper"]
instruction = "Read notes.txt until told to stop."
"""

PATHS = {"anthropic": "claude-sonnet-4-6", "openai": "gpt-4.1"}


class InstantModel:
    """Answers with a readTextFile call until the history holds ``steps - 1`` of them."""

    def __init__(self) -> None:
        self.steps = 1
        self.first_request: tuple[float, float] | None = None
        self.pid = 0
        # (CPU of the perstack process, CPU of the server thread) at each request.
        self.cpu_marks: list[tuple[float, float]] = []

    def __call__(self, request: RecordedRequest) -> Any:
        client_cpu = _cpu_seconds(self.pid)
        if self.first_request is None:
            self.first_request = (time.perf_counter(), client_cpu)
        self.cpu_marks.append((client_cpu, time.thread_time()))
        turns = sum(1 for m in request.body["messages"] if m["role"] == "assistant")
        call = ToolCallSpec(f"call_{turns}", "readTextFile", '{"path": "notes.txt"}')
        reply = AnthropicReply if request.path.endswith("/v1/messages") else OpenAIReply
        if turns < self.steps - 1:
            return reply(tool_calls=[call])
        return reply(text="done")


def _cpu_seconds(pid: int) -> float:
    """User + system CPU of a process so far (all its threads), from /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def project(provider: str) -> Path:
    root = Path(tempfile.mkdtemp(prefix=f"perstack-bench-{provider}-"))
    (root / "perstack.toml").write_text(CONFIG.format(provider=provider, model=PATHS[provider]))
    (root / "notes.txt").write_text("A short note the looping Expert reads at every step.\n")
    return root


def timed_run(
    server: FakeLLMServer, model: InstantModel, provider: str, steps: int, prewarmed: bool
) -> dict[str, float]:
    root = project(provider)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PERSTACK_", "ANTHROPIC_"))}
    env |= {
        "ANTHROPIC_API_KEY": "bench",
        "ANTHROPIC_BASE_URL": server.base_url,
        "OPENAI_API_KEY": "bench",
        "OPENAI_BASE_URL": f"{server.base_url}/v1",
    }
    command = [sys.executable, "-c", PREWARMED, provider] if prewarmed else [PERSTACK]
    command += ["run", "looper", "go", "--max-steps", str(steps + 5)]
    model.steps, model.first_request, model.cpu_marks = steps, None, []
    start = time.perf_counter()
    server_cpu = time.process_time()  # this process: the fake server's share
    process = subprocess.Popen(command, cwd=root, env=env, stdout=subprocess.PIPE)
    model.pid = process.pid
    assert process.stdout is not None
    generations = [
        json.loads(line)["timestamp"]
        for line in process.stdout
        if line.startswith(b'{"type":"startGeneration"')
    ]
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise SystemExit(f"perstack run failed with {process.returncode}")
    wall = time.perf_counter() - start
    assert model.first_request is not None, "no model request arrived"
    arrived, cpu = model.first_request
    return {
        "wall": wall,
        "cpu": usage.ru_utime + usage.ru_stime,
        "server_cpu": time.process_time() - server_cpu,
        "first_request": arrived - start,
        "first_request_cpu": cpu,
        "per_step": (generations[-1] - generations[0]) / max(1, len(generations) - 1) / 1000,
        "per_step_steady": _steady(generations) / 1000,
        # CPU per step in the steady state, of perstack and of the fake server (loaded
        # machines stretch wall time; CPU time stays put). /proc counts in clock ticks
        # (10 ms), hence the long runs.
        "per_step_cpu": _per_step(model.cpu_marks, 0),
        "per_step_server_cpu": _per_step(model.cpu_marks, 1),
    }


def _steady(timestamps: list[int]) -> float:
    """Milliseconds per step over the last quarter of the run."""
    tail = timestamps[len(timestamps) * 3 // 4 :]
    return (tail[-1] - tail[0]) / (len(tail) - 1) if len(tail) > 1 else float("nan")


def _per_step(marks: list[tuple[float, float]], which: int) -> float:
    # The last quarter of the run: by then the SDK has finished loading in the background
    # (that one-off cost shows in the whole-run figure).
    half = len(marks) * 3 // 4
    if len(marks) - half < 2:
        return float("nan")
    return (marks[-1][which] - marks[half][which]) / (len(marks) - 1 - half)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--providers", nargs="+", default=list(PATHS), choices=list(PATHS))
    args = parser.parse_args()

    model = InstantModel()
    with FakeLLMServer(model, record=False) as server:
        for provider in args.providers:
            timed_run(server, model, provider, 1, prewarmed=False)  # warm file caches
            for prewarmed in (False, True):
                runs = [
                    timed_run(server, model, provider, 1, prewarmed) for _ in range(args.repeat)
                ]
                label = f"{provider}{' + prewarm' if prewarmed else ''}"
                wall = statistics.median(r["first_request"] for r in runs)
                cpu = statistics.median(r["first_request_cpu"] for r in runs)
                print(
                    f"launch to first model request, {label:<19} {wall * 1000:6.0f} ms wall, "
                    f"{cpu * 1000:5.0f} ms CPU   [target <= 700 ms]"
                )
            runs = [
                timed_run(server, model, provider, args.steps, True) for _ in range(args.repeat)
            ]
            def median_ms(key: str) -> float:
                return statistics.median(r[key] for r in runs) * 1000

            print(
                f"per-step overhead, {provider:<10} ({args.steps} steps): "
                f"{median_ms('per_step'):.2f} ms wall over the run, "
                f"{median_ms('per_step_steady'):.2f} ms in the last quarter; there CPU "
                f"{median_ms('per_step_cpu'):.2f} ms perstack + "
                f"{median_ms('per_step_server_cpu'):.2f} ms fake server   [target <= 4 ms]"
            )

if __name__ == "__main__":
    main()
