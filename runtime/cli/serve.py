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
@click.option("--verbose", is_flag=True, help="Tracebacks for unexpected errors.")
def serve_command(
    host: str, port: int, config: str | None, serve_config: str | None, verbose: bool
) -> int:
    """Serve the project's Experts over HTTP: REST and Server-Sent Events."""
    from runtime.server.settings import Application, ServeSettings, hash_key, new_key
    from runtime.storage import default_storage_root

    cwd = Path.cwd()
    if serve_config is not None:
        from runtime.server.settings import load_serve_config

        applications = load_serve_config(Path(serve_config).resolve())
    else:
        from runtime.config import find_config

        key = os.environ.get(KEY_ENV) or ""
        if not key:
            key = new_key()
            # Shown once, on the terminal only: never stored, never on stdout.
            _say(f"No {KEY_ENV} set: this run's API key for application default is {key}")
        config_path = find_config(cwd, config)  # raises a one-line error when there is none
        applications = {"default": Application("default", Path(config_path), [hash_key(key)])}
    settings = ServeSettings(applications, default_storage_root(cwd, os.environ))
    return _serve(settings, host, port)


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
        serving = asyncio.create_task(server.serve())
        while not server.started and not serving.done():
            await asyncio.sleep(0.01)  # uvicorn has no started event to await
        if server.started:
            bound = server.servers[0].sockets[0].getsockname()
            names = ", ".join(sorted(settings.applications))
            _say(f"Serving {names} on http://{bound[0]}:{bound[1]} (Ctrl+C stops)")
        await serving

    asyncio.run(main())
    return 0


def _say(line: str) -> None:
    sys.stderr.write(line + "\n")
    sys.stderr.flush()
