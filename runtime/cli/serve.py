"""``perstack serve``: the Execution API for this project's Experts (see docs/serve.md)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import click

__all__ = ["serve_command"]

KEY_ENV = "PERSTACK_API_KEY"


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535),
              help="Port to listen on (0: any free port, printed at start).")  # fmt: skip
@click.option("--config", "config", metavar="PATH",
              help="The perstack.toml of application default.")  # fmt: skip
@click.option("--serve-config", metavar="PATH",
              help="A file of applications and key hashes (docs/serve.md).")  # fmt: skip
@click.option("--engine", type=click.Choice(["embedded", "temporal"]), default="embedded",
              show_default=True,
              help="Run jobs in this process, or hand them to Temporal's workers.")  # fmt: skip
@click.option("--temporal-address", metavar="HOST:PORT",
              help="Temporal's frontend (with --engine temporal).")  # fmt: skip
@click.option("--namespace", default="default", show_default=True,
              help="The Temporal namespace (with --engine temporal).")  # fmt: skip
@click.option("--task-queue", default="perstack", show_default=True,
              help="The task queue the workers poll (with --engine temporal).")  # fmt: skip
@click.option("--heartbeat-timeout", default=5.0, show_default=True,
              type=click.FloatRange(0.5, 3600),
              help="Seconds before a silent worker's job goes to another worker.")  # fmt: skip
@click.option("--verbose", is_flag=True, help="Tracebacks for unexpected errors.")
def serve_command(
    host: str,
    port: int,
    config: str | None,
    serve_config: str | None,
    engine: str,
    temporal_address: str | None,
    namespace: str,
    task_queue: str,
    heartbeat_timeout: float,
    verbose: bool,
) -> int:
    """Serve the project's Experts over HTTP: REST and Server-Sent Events."""
    from runtime.server.settings import (
        ServeSettings,
        TemporalOptions,
        hash_key,
        load_applications,
        new_key,
    )
    from runtime.storage import default_storage_root, storage_location

    temporal = None
    if engine == "temporal":
        if not temporal_address:
            raise click.UsageError("--engine temporal needs --temporal-address HOST:PORT")
        temporal = TemporalOptions(temporal_address, namespace, task_queue, heartbeat_timeout)
    elif temporal_address:
        raise click.UsageError("--temporal-address goes with --engine temporal")
    cwd = Path.cwd()
    hashes = []
    if serve_config is None:
        key = os.environ.get(KEY_ENV) or ""
        if not key:
            key = new_key()
            # Shown once, on the terminal only: never stored, never on stdout.
            _say(f"No {KEY_ENV} set: this run's API key for application default is {key}")
        hashes = [hash_key(key)]
    applications = load_applications(cwd, config, serve_config, hashes)
    # The server's own records stay in the local folder; jobs go where the environment says.
    location = storage_location(cwd, os.environ)
    local = location if isinstance(location, Path) else default_storage_root(cwd, os.environ)
    settings = ServeSettings(
        applications,
        local,
        storage=None if location == local else location,
        temporal=temporal,
    )
    if temporal is None:
        return _serve(settings, host, port)
    from runtime.distributed.worker import exit_without_teardown
    from runtime.errors import PerstackError

    try:
        code = _serve(settings, host, port)
    except PerstackError as exc:  # e.g. Temporal cannot be reached
        _say(f"Error: {exc}")
        code = 1
    exit_without_teardown(code)
    return code


def _serve(settings: Any, host: str, port: int) -> int:
    import asyncio

    import uvicorn

    from runtime.server.app import create_app

    app = create_app(settings)
    executor = app.state.executor

    class Server(uvicorn.Server):
        def handle_exit(self, sig: int, frame: Any) -> None:
            # Streams end first, so the graceful shutdown does not wait on them.
            loop = executor._server_loop
            if loop is not None:
                loop.call_soon_threadsafe(executor.begin_stop)
            super().handle_exit(sig, frame)

    server = Server(
        uvicorn.Config(
            app,
            host=host,
            port=port,
            log_level="warning",
            access_log=False,
            timeout_graceful_shutdown=10,
            lifespan="on",
        )  # fmt: skip
    )

    async def main() -> None:
        await executor.prepare()  # e.g. reach Temporal: a one-line error if it cannot
        serving = asyncio.create_task(server.serve())
        while not server.started and not serving.done():
            await asyncio.sleep(0.01)  # uvicorn has no started event to await
        if server.started:
            bound = server.servers[0].sockets[0].getsockname()
            names = ", ".join(sorted(settings.applications))
            engine = ""
            if settings.temporal is not None:
                engine = f" with Temporal at {settings.temporal.address}"
            _say(f"Serving {names} on http://{bound[0]}:{bound[1]}{engine} (Ctrl+C stops)")
        await serving

    asyncio.run(main())
    return 0


def _say(line: str) -> None:
    sys.stderr.write(line + "\n")
    sys.stderr.flush()
