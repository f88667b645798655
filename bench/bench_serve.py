"""Benchmarks of the Execution API (`perstack serve`) on the instant scripted model.

Run: ``uv run python bench/bench_serve.py``

Figures (issue 15 targets in brackets):
* ``POST /jobs`` to the first SSE ``message`` event, server warm: median and p95 of 30
  [<= 50 ms];
* 100 concurrent jobs of 20 steps with 100 SSE clients: all complete; event delivery
  (the event's own timestamp to its arrival at the client) at the 95th percentile
  [<= 100 ms]; the server's peak memory (VmHWM) [<= 500 MiB];
* per-step overhead through the server, ((200-step job - 1-step job) / 199, POST to
  ``complete``), against the same through ``perstack run`` [<= 1.5x].
"""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import httpx2  # noqa: E402
import orjson  # noqa: E402
from bench_run import CONFIG, LOOP_RULE, PERSTACK, SCRIPT  # noqa: E402

KEY = "bench-key"


def project(steps: int) -> Path:
    root = Path(tempfile.mkdtemp(prefix="perstack-serve-bench-"))
    (root / "perstack.toml").write_text("maxSteps = 1000\n" + CONFIG)
    (root / "notes.txt").write_text("A short note the looping Expert reads at every step.\n")
    loop = LOOP_RULE.format(steps=steps) if steps > 1 else ""
    (root / "script.toml").write_text(loop + SCRIPT)
    return root


def start_server(root: Path) -> tuple[subprocess.Popen[bytes], str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PERSTACK_")}
    env["PERSTACK_API_KEY"] = KEY
    process = subprocess.Popen(
        [PERSTACK, "serve", "--port", "0"], cwd=root, stderr=subprocess.PIPE, env=env
    )
    assert process.stderr is not None
    for line in process.stderr:
        text = line.decode()
        if "Serving" in text:
            return process, text.split(" on ")[1].split()[0]
    raise SystemExit("perstack serve did not start")


def peak_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def run_job(client: httpx2.AsyncClient, query: str, delays: list[float] | None = None,
                  first: list[float] | None = None) -> str:  # fmt: skip
    """Start a job and read its stream to ``complete``; returns the final status."""
    start = time.perf_counter()
    job = (await client.post("/api/v1/jobs", json={
        "applicationId": "default", "expertKey": "looper", "query": query,
    })).json()["data"]["job"]  # fmt: skip
    status = "?"
    event = None
    async with client.stream("GET", f"/api/v1/jobs/{job['id']}/stream") as response:
        async for line in response.aiter_lines():
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: ") and event == "message":
                if first is not None and not first:
                    first.append(time.perf_counter() - start)
                if delays is not None:
                    stamp = orjson.loads(line[6:])["timestamp"]
                    delays.append(time.time() * 1000 - stamp)
            elif line.startswith("data: ") and event == "complete":
                status = orjson.loads(line[6:])["status"]
    return status


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def bench(url: str, pid: int) -> None:
    headers = {"Authorization": f"Bearer {KEY}"}
    limits = httpx2.Limits(max_connections=400, max_keepalive_connections=400)
    async with httpx2.AsyncClient(base_url=url, headers=headers, timeout=120,
                                  limits=limits) as client:  # fmt: skip
        for _ in range(3):
            await run_job(client, "warm up")
        firsts = []
        for _ in range(30):
            first: list[float] = []
            await run_job(client, "first", first=first)
            firsts.extend(first)
        print(f"POST /jobs to first SSE message: median {statistics.median(firsts) * 1000:.1f} ms, "
              f"p95 {percentile(firsts, 0.95) * 1000:.1f} ms   [target <= 50 ms]")  # fmt: skip

        delays: list[float] = []
        start = time.perf_counter()
        statuses = await asyncio.gather(*(run_job(client, f"job {n}", delays) for n in range(100)))
        wall = time.perf_counter() - start
        done = statuses.count("completed")
        print(f"100 concurrent 20-step jobs: {done}/100 completed in {wall:.1f} s, "
              f"{len(delays)} events; delivery p95 {percentile(delays, 0.95):.0f} ms, "
              f"p50 {percentile(delays, 0.5):.0f} ms   [target <= 100 ms]")  # fmt: skip
        print(f"server peak memory: {peak_mib(pid):.0f} MiB   [target <= 500 MiB]")


def cli_job(root: Path) -> float:
    """Wall time of ``perstack run looper go`` in ``root``, stdout discarded."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PERSTACK_")}
    t = time.perf_counter()
    subprocess.run([PERSTACK, "run", "looper", "go"], cwd=root, env=env,
                   stdout=subprocess.DEVNULL, check=True)  # fmt: skip
    return time.perf_counter() - t


def per_step_overheads(rounds: int = 5) -> list[tuple[float, float]]:
    """(server, cli) per-step overhead in ms, one pair per round.

    Each round runs a 200-step and a 1-step job both ways, one after the other, so the
    two figures of a round share the machine's load of the moment (it is shared and
    noisy: comparing a minute-old figure with a new one measures the neighbours).
    """
    long_root, short_root = project(200), project(1)
    servers = [start_server(long_root), start_server(short_root)]
    try:
        async def rounds_() -> list[tuple[float, float]]:
            headers = {"Authorization": f"Bearer {KEY}"}
            clients = [
                httpx2.AsyncClient(base_url=url, headers=headers, timeout=300)
                for _, url in servers
            ]
            for client in clients:
                await run_job(client, "warm")
            cli_job(long_root), cli_job(short_root)  # warm the caches of both
            pairs = []
            for _ in range(rounds):
                timings = []
                for client, root in zip(clients, (long_root, short_root), strict=True):
                    t = time.perf_counter()
                    await run_job(client, "go")
                    timings.append((time.perf_counter() - t, cli_job(root)))
                (server_long, cli_long), (server_short, cli_short) = timings
                pairs.append((
                    (server_long - server_short) / 199 * 1000,
                    (cli_long - cli_short) / 199 * 1000,
                ))  # fmt: skip
            for client in clients:
                await client.aclose()
            return pairs

        return asyncio.run(rounds_())
    finally:
        for process, _ in servers:
            process.terminate()
            process.wait()


def main() -> None:
    root = project(20)
    process, url = start_server(root)
    try:
        asyncio.run(bench(url, process.pid))
    finally:
        process.terminate()
        process.wait()
    pairs = per_step_overheads()
    ratios = sorted(server / cli for server, cli in pairs)
    server = statistics.median(server for server, _ in pairs)
    cli = statistics.median(cli for _, cli in pairs)
    print(f"per-step overhead: through the server {server:.2f} ms, perstack run {cli:.2f} ms "
          f"(medians of {len(pairs)} rounds); ratio per round "
          f"{', '.join(f'{r:.2f}' for r in ratios)}, median {statistics.median(ratios):.2f}x"
          "   [target <= 1.5x]")  # fmt: skip


if __name__ == "__main__":
    main()
