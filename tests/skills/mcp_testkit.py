"""Helpers of the skill tests: server configurations, an event recorder, the process
table. (A module of its own so test files can import it; conftest is not importable.)"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SERVERS = Path(__file__).parent / "servers"
TOOLBOX = SERVERS / "toolbox.py"

#: Long-lived servers started by module fixtures, exempt from the per-test check.
_FIXTURE_PIDS: set[int] = set()


def pid_alive(pid: int) -> bool:
    """Whether ``pid`` is a live (non-zombie) process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


async def contents(skill: Any, tool: str, args: Any) -> list[Any]:
    """The parts of one call's result (``skill.call`` returns a ``CallResult``)."""
    return (await skill.call(tool, args)).contents


def child_pids() -> set[int]:
    """Live direct children of this test process, from the process table (/proc), but
    the reaper (one per process, it outlives the tests by design)."""
    me = os.getpid()
    children = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        state, ppid = fields[0], int(fields[1])
        if ppid == me and state != "Z":
            children.add(int(entry.name))
    from runtime.skills.mcp.reaper import reaper_pid

    return children - _FIXTURE_PIDS - {reaper_pid()}


@dataclass
class Recorder:
    """Collects runtime events emitted through a SkillContext."""

    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    _waiters: list[tuple[Callable[[str, dict[str, Any]], bool], asyncio.Future[None]]] = field(
        default_factory=list
    )

    def emit(self, event_type: str, **payload: Any) -> None:
        # Each payload must build the real event class, as the runtime will do.
        from runtime.events import EVENT_CLASSES, RunEvent

        cls = EVENT_CLASSES[event_type]
        where = {"expert_key": "x", "step_number": 1} if issubclass(cls, RunEvent) else {}
        cls(id="e", timestamp=0, job_id="j", run_id="r", **where, **payload)
        self.events.append((event_type, payload))
        for predicate, future in list(self._waiters):
            if not future.done() and predicate(event_type, payload):
                future.set_result(None)

    def of(self, event_type: str) -> list[dict[str, Any]]:
        return [payload for kind, payload in self.events if kind == event_type]

    def types(self) -> list[str]:
        return [kind for kind, _ in self.events]

    async def wait_for(self, predicate: Callable[[str, dict[str, Any]], bool]) -> None:
        """Wait until an event matching ``predicate`` is emitted (or was already)."""
        if any(predicate(kind, payload) for kind, payload in self.events):
            return
        future = asyncio.get_running_loop().create_future()
        self._waiters.append((predicate, future))
        await asyncio.wait_for(future, 30)


def toolbox_config(name: str = "toolbox", *options: str, **fields: Any) -> Any:
    """A stdio skill running the test server with ``options``."""
    from runtime.config.models import McpStdioSkillConfig

    return McpStdioSkillConfig(
        name=name, command=sys.executable, args=[str(TOOLBOX), *options], **fields
    )


def time_config(name: str = "time", **fields: Any) -> Any:
    """The third-party ``mcp-server-time`` as a stdio skill (UTC, no network)."""
    from runtime.config.models import McpStdioSkillConfig

    return McpStdioSkillConfig(
        name=name,
        command=sys.executable,
        args=["-m", "mcp_server_time", "--local-timezone", "UTC"],
        **fields,
    )


@dataclass
class HttpServer:
    """A toolbox server listening on 127.0.0.1."""

    url: str
    process: subprocess.Popen[str]


def start_toolbox(transport: str, port: int = 0) -> HttpServer:
    """A toolbox serving over SSE or streamable HTTP, once it listens (stop it yourself)."""
    process = subprocess.Popen(
        [sys.executable, str(TOOLBOX), "--transport", transport, "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline()  # "PORT <n>" once listening
    assert line.startswith("PORT "), f"server did not start: {line!r}"
    port = int(line.split()[1])
    path = "/sse" if transport == "sse" else "/mcp"
    return HttpServer(url=f"http://127.0.0.1:{port}{path}", process=process)


def stop(server: HttpServer, sig: int = signal.SIGTERM) -> None:
    """Stop a server from :func:`start_toolbox` and collect it."""
    if server.process.poll() is None:
        server.process.send_signal(sig)
    try:
        server.process.wait(5)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()


def serve_toolbox(transport: str) -> Iterator[HttpServer]:
    process = subprocess.Popen(
        [sys.executable, str(TOOLBOX), "--transport", transport],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    _FIXTURE_PIDS.add(process.pid)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()  # "PORT <n>" once listening
        assert line.startswith("PORT "), f"server did not start: {line!r}"
        port = int(line.split()[1])
        path = "/sse" if transport == "sse" else "/mcp"
        yield HttpServer(url=f"http://127.0.0.1:{port}{path}", process=process)
    finally:
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        _FIXTURE_PIDS.discard(process.pid)


