"""A ``perstack worker``: runs jobs handed to Temporal, on any machine that reaches it.

It polls one task queue for the job workflows (thin: they only decide what runs next)
and the ``perstack.run`` activities (the work), at most ``concurrency`` activities at a
time. Jobs are read from and written to the shared storage; each job works in a folder
of this machine's own, synced with the shared copy at each checkpoint.

Before it polls, it warms up (see :func:`_warm_up`), so its first job does not wait for
imports. SIGTERM or Ctrl+C stops it: the parts of jobs it runs unwind and go back to Temporal,
which hands them to another worker at once.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import sys
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from runtime.errors import PerstackError

__all__ = ["WorkerOptions", "connect", "exit_without_teardown", "run_worker"]

#: Temporal's API key for a cloud namespace (TLS is then on).
API_KEY_ENV = "TEMPORAL_API_KEY"


@dataclass
class WorkerOptions:
    """What ``perstack worker`` was started with.

    Attributes:
        address: Temporal's frontend, ``host:port``.
        namespace: The Temporal namespace.
        task_queue: The task queue the server puts jobs on.
        concurrency: At most this many parts of jobs at a time.
        applications: Application name -> its ``perstack.toml``.
        storage: The shared job storage: a folder every machine mounts, or an
            ``s3://bucket/prefix`` URL.
        local_root: Where this worker keeps its copies of workspaces (``None``: a
            temporary folder, removed when the worker stops).
    """

    address: str
    namespace: str
    task_queue: str
    concurrency: int
    applications: dict[str, Path]
    storage: Path | str
    local_root: Path | None = None


def exit_without_teardown(code: int) -> None:
    """End the process now, skipping the interpreter's teardown: temporalio's Rust threads
    can crash it (``PyGILState_Release`` at finalization, temporalio/sdk-python#300)."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


async def connect(address: str, namespace: str, identity: str | None = None) -> Any:
    """A Temporal client.

    Raises:
        PerstackError: Temporal cannot be reached (one line).
    """
    from temporalio.client import Client

    api_key = os.environ.get(API_KEY_ENV) or None
    try:
        return await Client.connect(
            address,
            namespace=namespace,
            api_key=api_key,
            tls=bool(api_key),
            identity=identity,
            connect_timeout=timedelta(seconds=10),
        )
    except Exception as exc:  # the SDK raises RuntimeError with the transport's reason
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise PerstackError(f"cannot reach Temporal at {address}: {reason}") from None


async def run_worker(options: WorkerOptions, ready: Callable[[str], None]) -> None:
    """Run the worker until SIGTERM or SIGINT; ``ready`` gets one line once it polls."""
    from temporalio.worker import Worker

    from runtime.distributed.activity import JobActivities, WorkerHost
    from runtime.distributed.relay import relay_for
    from runtime.distributed.workflows import DelegateWorkflow, JobWorkflow
    from runtime.distributed.workspaces import workspaces_for
    from runtime.storage import open_storage

    identity = f"perstack-worker@{socket.gethostname()}:{os.getpid()}"
    storage = open_storage(options.storage)
    # Reach the storage before taking any job (one line and exit 1 when it cannot be).
    await asyncio.to_thread(storage.list_job_ids)
    client = await connect(options.address, options.namespace, identity)
    local_root = options.local_root or Path(tempfile.mkdtemp(prefix="perstack-worker-"))
    jobs_loop = asyncio.new_event_loop()
    jobs_thread = threading.Thread(target=jobs_loop.run_forever, name="perstack-jobs")
    jobs_thread.start()
    host = WorkerHost(
        identity=identity,
        applications=options.applications,
        storage=storage,
        relay=relay_for(storage),
        workspaces=workspaces_for(storage),
        local_root=local_root,
        jobs_loop=jobs_loop,
    )
    worker = Worker(
        client,
        task_queue=options.task_queue,
        workflows=[JobWorkflow, DelegateWorkflow],
        activities=[JobActivities(host).run],
        max_concurrent_activities=options.concurrency,
        identity=identity,
        # A workflow's next task waits this long for the worker that ran its last one
        # (it has the workflow cached) before any worker takes it: short, so a lost worker
        # does not hold its jobs' workflows up.
        sticky_queue_schedule_to_start_timeout=timedelta(seconds=1),
        # Heartbeats go out at least this often (Temporal's default, 0.8 x the timeout,
        # leaves a busy machine little slack, and a cancel waits for the next one).
        max_heartbeat_throttle_interval=timedelta(seconds=1),
    )
    await asyncio.to_thread(_warm_up, options.applications)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        async with worker:
            ready(
                f"Worker {identity} runs jobs from task queue {options.task_queue} on "
                f"{options.address} (namespace {options.namespace}), at most "
                f"{options.concurrency} at a time; storage {options.storage} "
                "(Ctrl+C stops)"
            )
            await stop.wait()
    finally:
        jobs_loop.call_soon_threadsafe(jobs_loop.stop)
        await asyncio.to_thread(jobs_thread.join, 10)
        if options.local_root is None:
            shutil.rmtree(local_root, ignore_errors=True)


_WARM_UP = """
model = "scripted"
[provider]
providerName = "scripted"
[provider.setting]
rules = [
  { turn = 1, toolCalls = [{ name = "todo", args = { newTodos = ["warm up"] } }] },
  { text = "warm" },
]
[experts."warm"]
instruction = "Warm up."
"""


def _warm_up(applications: dict[str, Path]) -> None:
    """Do once, before polling, what a worker's first job would otherwise wait for: the
    runtime's imports and schemas (a two-step job of the scripted model, in memory) and
    each application's model SDK. A worker lives long; its first job should not pay ~1 s.
    """
    import importlib

    from runtime.config import load_config, parse_config_text
    from runtime.engine.api import run, settings_from_config
    from runtime.providers.factory import SUPPORTED_PROVIDERS
    from runtime.providers.prewarm import SDK_MODULES
    from runtime.storage import MemoryStorage

    with tempfile.TemporaryDirectory(prefix="perstack-warm-up-") as folder:
        config = parse_config_text(_WARM_UP, Path(folder) / "perstack.toml")
        setting = settings_from_config(config, "warm", "go", env={}, workspace=Path(folder))
        asyncio.run(run(setting, storage=MemoryStorage()))
    for path in applications.values():
        try:
            name = load_config(path).provider.provider_name
        except PerstackError:
            continue  # a job of this application reports it
        modules = [SUPPORTED_PROVIDERS.get(name, ""), *SDK_MODULES.get(name, ())]
        if name == "anthropic":
            modules.append("anthropic")  # its provider imports the SDK after a first request
        for module in filter(None, modules):
            try:
                importlib.import_module(module)
            except ImportError:
                pass  # the job meets it, with its own error
