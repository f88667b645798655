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


def server_job_time(steps: int, repeat: int = 3) -> float:
    root = project(steps)
    process, url = start_server(root)
    try:
        async def timed() -> float:
            headers = {"Authorization": f"Bearer {KEY}"}
            async with httpx2.AsyncClient(base_url=url, headers=headers, timeout=300) as client:
                await run_job(client, "warm")
                times = []
                for _ in range(repeat):
                    t = time.perf_counter()
                    await run_job(client, "go")
                    times.append(time.perf_counter() - t)
                return statistics.median(times)

        return asyncio.run(timed())
    finally:
        process.terminate()
        process.wait()


def cli_job_time(steps: int, repeat: int = 3) -> float:
    root = project(steps)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PERSTACK_")}
    times = []
    for _ in range(repeat + 1):
        t = time.perf_counter()
        subprocess.run([PERSTACK, "run", "looper", "go"], cwd=root, env=env,
                       stdout=subprocess.DEVNULL, check=True)  # fmt: skip
        times.append(time.perf_counter() - t)
    return statistics.median(times[1:])


def main() -> None:
    root = project(20)
    process, url = start_server(root)
    try:
        asyncio.run(bench(url, process.pid))
    finally:
        process.terminate()
        process.wait()
    server = (server_job_time(200) - server_job_time(1)) / 199 * 1000
    cli = (cli_job_time(200) - cli_job_time(1)) / 199 * 1000
    print(f"per-step overhead: through the server {server:.2f} ms, perstack run {cli:.2f} ms, "
          f"ratio {server / cli:.2f}x   [target <= 1.5x]")  # fmt: skip


if __name__ == "__main__":
    main()
