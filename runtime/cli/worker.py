"""``perstack worker``: run jobs of ``perstack serve --engine temporal`` on this machine.

See docs/scale-out.md. The worker needs what the server has: Temporal's address, the
applications (``--config`` or ``--serve-config``, as for ``serve``) and the shared job
storage (``PERSTACK_STORAGE_URL=s3://…``, a bucket, or ``PERSTACK_STORAGE_PATH``, a folder
every machine mounts).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

__all__ = ["worker_command"]


@click.command("worker")
@click.option("--temporal-address", required=True, metavar="HOST:PORT",
              help="Temporal's frontend.")  # fmt: skip
@click.option("--namespace", default="default", show_default=True,
              help="The Temporal namespace.")  # fmt: skip
@click.option("--task-queue", default="perstack", show_default=True,
              help="The task queue `perstack serve --engine temporal` puts jobs on.")  # fmt: skip
@click.option("--concurrency", default=10, show_default=True, type=click.IntRange(1, 10_000),
              help="At most this many jobs (or parallel delegates) at a time.")  # fmt: skip
@click.option("--config", "config", metavar="PATH",
              help="The perstack.toml of application default.")  # fmt: skip
@click.option("--serve-config", metavar="PATH",
              help="The server's file of applications (docs/serve.md).")  # fmt: skip
@click.option("--workspaces", metavar="DIR",
              help="Where this worker keeps its copies of the jobs' workspaces "
                   "(default: a temporary folder, removed when it stops).")  # fmt: skip
@click.option("--verbose", is_flag=True, help="Tracebacks for unexpected errors.")
def worker_command(
    temporal_address: str,
    namespace: str,
    task_queue: str,
    concurrency: int,
    config: str | None,
    serve_config: str | None,
    workspaces: str | None,
    verbose: bool,
) -> int:
    """Run the jobs a `perstack serve --engine temporal` hands to Temporal."""
    import asyncio

    from runtime.distributed.worker import WorkerOptions, exit_without_teardown, run_worker
    from runtime.errors import PerstackError
    from runtime.server.settings import load_applications
    from runtime.storage import storage_location

    cwd = Path.cwd()
    try:
        applications = load_applications(cwd, config, serve_config, [])
        location = storage_location(cwd, os.environ)
        options = WorkerOptions(
            address=temporal_address,
            namespace=namespace,
            task_queue=task_queue,
            concurrency=concurrency,
            applications={name: app.config_path for name, app in applications.items()},
            storage=location.resolve() if isinstance(location, Path) else location,
            local_root=Path(workspaces).resolve() if workspaces else None,
        )
        asyncio.run(run_worker(options, ready=_say))
        code = 0
    except PerstackError as exc:
        _say(f"Error: {exc}")
        code = 1
    exit_without_teardown(code)
    return code


def _say(line: str) -> None:
    sys.stderr.write(line + "\n")
    sys.stderr.flush()
