"""Start a job on `perstack serve`, stream its events, read the file it wrote.

Run: ``uv run python examples/client/client.py``. It starts a server on this folder's
project (an offline scripted model: no API key needed), talks to it with the Python client
(``runtime.client``), then stops it. Against your own server, set PERSTACK_URL and
PERSTACK_API_KEY and it uses that one instead.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import subprocess
import sys
from pathlib import Path

from runtime.client import PerstackClient

HERE = Path(__file__).resolve().parent
#: `perstack serve`, run by this interpreter (the example needs no console script).
SERVE = "import sys; from runtime.cli import main; sys.exit(main(['serve', *sys.argv[1:]]))"


async def main(url: str, key: str) -> int:
    async with PerstackClient(url, api_key=key) as client:
        started = await client.jobs.start(
            application_id="default", expert_key="greeter", query="Please greet Ada"
        )
        if not started.ok:
            print(f"could not start: {started.error.type}: {started.error.message}")
            return 1
        job = started.data
        print(f"job {job.id}: {job.status}")
        async with client.jobs.stream(job.id) as stream:
            async for event in stream:
                print(f"  {event.type}")
        print(f"stream: {stream.result}")
        files = await client.jobs.files(job.id)
        for info in files.data if files.ok else []:
            content = await client.jobs.file(job.id, info.path)
            print(f"{info.path}: {content.data.decode().strip() if content.ok else content.error}")
        return 0


def serve_here() -> tuple[subprocess.Popen[bytes], str, str]:
    key = secrets.token_urlsafe(24)
    env = {**os.environ, "PERSTACK_API_KEY": key, "PERSTACK_STORAGE_PATH": str(HERE / "perstack")}
    server = subprocess.Popen(
        [sys.executable, "-c", SERVE, "--port", "0"],
        cwd=HERE, stderr=subprocess.PIPE, env=env,
    )  # fmt: skip
    assert server.stderr is not None
    for line in server.stderr:
        if b"Serving" in line:
            return server, line.decode().split(" on ")[1].split()[0], key
    raise SystemExit("perstack serve did not start")


if __name__ == "__main__":
    url, key = os.environ.get("PERSTACK_URL"), os.environ.get("PERSTACK_API_KEY")
    if url and key:
        sys.exit(asyncio.run(main(url, key)))
    server, url, key = serve_here()
    try:
        code = asyncio.run(main(url, key))
    finally:
        server.terminate()
        server.wait()
    sys.exit(code)
