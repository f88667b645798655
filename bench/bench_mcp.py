"""The per-call overhead of a trivial MCP tool over each transport, before and after (issue 18).

Run: ``uv run python bench/bench_mcp.py`` (``--rounds N``, ``--calls N``, ``--before REF``).

"Before" is the runtime of ``REF`` (default ``main``), exported with ``git archive`` into a
temporary folder; "after" is this checkout. Both talk to the same toolbox test server (its
``echo`` tool: the server's own cost is the same for both), over stdio, legacy SSE and
streamable HTTP; the SSE and HTTP servers are shared by every sample.

Each sample is a fresh interpreter that connects one skill per transport, warms up, then
times ``--calls`` sequential calls of ``echo`` per transport (``McpSkill.call``: what a
step's tool call costs in the skill layer, the SDK and the transport). A last figure,
``client``, is the skill layer alone: the stdio session is made to answer at once with a
real result, so the machine's noise in the transport does not drown the difference. Rounds alternate
which side goes first, so both sides of each ratio run under the same load; the figure is
the median over rounds of each sample's median call, with the median and range of the
rounds' after/before ratios (a noisy machine shows in the range).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import textwrap
from io import BytesIO
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TOOLBOX = ROOT / "tests" / "skills" / "servers" / "toolbox.py"
TRANSPORTS = ("stdio", "sse", "http")

SAMPLE = textwrap.dedent(
    """
    import asyncio, json, os, statistics, sys, time
    from pathlib import Path
    from runtime.config.models import (
        McpSseSkillConfig, McpStdioSkillConfig, McpStreamableHttpSkillConfig,
    )
    from runtime.skills.manager import SkillContext
    from runtime.skills.mcp import McpSkill

    toolbox, sse, http, calls = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    wanted = sys.argv[5].split(",")
    configs = {
        "stdio": McpStdioSkillConfig(name="s", command=sys.executable, args=[toolbox]),
        "sse": McpSseSkillConfig(name="s", endpoint=sse, allow_private_network=True),
        "http": McpStreamableHttpSkillConfig(
            name="s", endpoint=http, allow_private_network=True
        ),
    }

    async def main():
        context = SkillContext(workspace=Path("."), env=dict(os.environ))
        figures = {}
        for transport, config in configs.items():
            if transport not in wanted:
                continue
            skill = McpSkill(config)
            await skill.start(context)
            try:
                for _ in range(20):
                    await skill.call("echo", {"text": "warm"})
                times = []
                for n in range(calls):
                    began = time.perf_counter()
                    await skill.call("echo", {"text": f"call {n}"})
                    times.append(time.perf_counter() - began)
                figures[transport] = statistics.median(times) * 1e6
                if transport == "stdio":
                    # The skill layer alone: the session answers at once with a real result.
                    session = skill._connection.session
                    result = await session.call_tool("echo", arguments={"text": "x"})
                    real = session.call_tool

                    async def instant(*args, **kwargs):
                        return result

                    session.call_tool = instant
                    times = []
                    for _ in range(calls * 20):
                        began = time.perf_counter()
                        await skill.call("echo", {"text": "x"})
                        times.append(time.perf_counter() - began)
                    session.call_tool = real
                    figures["client"] = statistics.median(times) * 1e6
            finally:
                await skill.close()
        return figures

    print(json.dumps(asyncio.run(main())))
    """
)


def export_runtime(ref: str, into: Path) -> Path:
    """The ``runtime`` package of ``ref``, written under ``into`` (a git archive)."""
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", "--format=tar", ref, "runtime"],
        check=True,
        capture_output=True,
    ).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into


def start_server(transport: str) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [sys.executable, str(TOOLBOX), "--transport", transport],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    assert process.stdout is not None
    port = int(process.stdout.readline().split()[1])
    return process, f"http://127.0.0.1:{port}/{'sse' if transport == 'sse' else 'mcp'}"


def sample(
    tree: Path, sse: str, http: str, calls: int, transports: list[str]
) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    done = subprocess.run(
        [sys.executable, "-c", SAMPLE, str(TOOLBOX), sse, http, str(calls), ",".join(transports)],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    return json.loads(done.stdout.splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--before", default="main")
    parser.add_argument("--transports", default=",".join(TRANSPORTS))
    args = parser.parse_args()
    transports = [t for t in args.transports.split(",") if t in TRANSPORTS]
    servers = [start_server("sse"), start_server("http")]
    try:
        with tempfile.TemporaryDirectory(prefix="perstack-bench-mcp-") as temp:
            trees = {"before": export_runtime(args.before, Path(temp)), "after": ROOT}
            names = [*transports, "client"] if "stdio" in transports else transports
            results: dict[str, dict[str, list[float]]] = {
                side: {t: [] for t in names} for side in trees
            }
            for round_number in range(args.rounds):
                order = ("before", "after") if round_number % 2 == 0 else ("after", "before")
                for side in order:
                    figures = sample(
                        trees[side], servers[0][1], servers[1][1], args.calls, transports
                    )
                    for transport, micros in figures.items():
                        results[side][transport].append(micros)
    finally:
        for process, _ in servers:
            process.terminate()
            process.wait(10)
    print(f"per-call time of `echo` (median of {args.rounds} rounds x {args.calls} calls)")
    print(f"{'transport':<10} {'before':>10} {'after':>10} {'ratio':>7}   round ratios (median, range)")
    for transport in results["after"]:
        before = statistics.median(results["before"][transport])
        after = statistics.median(results["after"][transport])
        ratios = [
            a / b
            for a, b in zip(results["after"][transport], results["before"][transport], strict=True)
        ]
        spread = f"{statistics.median(ratios):.2f} ({min(ratios):.2f}-{max(ratios):.2f})"
        print(
            f"{transport:<10} {before:>8.1f}µs {after:>8.1f}µs {after / before:>6.2f}x   {spread}"
        )


if __name__ == "__main__":
    main()
