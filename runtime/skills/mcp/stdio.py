"""Launching a stdio MCP server: its command line, its environment, and the transport.

The transport is ours rather than the SDK's ``stdio_client`` for three reasons the spec
cares about: the server must see *only* the safe variables and its ``requiredEnv``
(§2.8; the SDK always adds ``USER``/``LOGNAME`` and friends), every stderr line becomes a
``skillStderr`` event (§4), and the runtime needs the process itself (its pid and exit
status) to report a crash with its reason and to leave no orphans. Everything above the
byte pipes (JSON-RPC framing, the session) is the SDK's.

The server runs in its own session (process group), so Ctrl+C in a terminal does not
reach it directly and one ``killpg`` ends it with every child it spawned (``npx``
launches node through a shell, for instance). The group is also registered with the
reaper (:mod:`runtime.skills.mcp.reaper`), which kills it if ``perstack`` itself is killed.
"""

from __future__ import annotations

import atexit
import os
import signal
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager, suppress
from typing import Any

from runtime.errors import PerstackError
from runtime.skills.mcp import reaper

__all__ = [
    "EXIT_GRACE_SECONDS",
    "launch_command",
    "server_env",
    "ServerProcess",
    "stdio_transport",
]

#: How long a server gets to exit by itself once its stdin closes (the MCP shutdown
#: sequence) before its process group is sent SIGTERM, then SIGKILL.
EXIT_GRACE_SECONDS = 2.0
_TERM_GRACE_SECONDS = 1.0
_STDERR_TAIL_LINES = 20

# Process groups of live servers, killed at interpreter exit if a run was torn down so
# abruptly that no close() ran (the event loop died with the task still inside).
_LIVE_GROUPS: set[int] = set()


def _kill_live_groups() -> None:
    for pgid in list(_LIVE_GROUPS):
        with suppress(OSError):
            os.killpg(pgid, signal.SIGKILL)
    _LIVE_GROUPS.clear()


atexit.register(_kill_live_groups)


def launch_command(
    skill_name: str, command: str, package_name: str | None, args: Sequence[str]
) -> tuple[str, list[str]]:
    """The command line of a stdio skill (spec §2.5, §8.4).

    Exactly one of ``packageName`` and non-empty ``args`` is allowed; ``npx`` gets ``-y``
    so it never stops to ask before installing. ``uvx`` needs no flag.

    Raises:
        PerstackError: Neither or both of ``packageName`` and ``args`` are given.
    """
    if not package_name and not args:
        raise PerstackError(
            f"Skill {skill_name} has no packageName or args. Please provide one of them."
        )
    if package_name and args:
        raise PerstackError(
            f"Skill {skill_name} has both packageName and args. Please provide only one of them."
        )
    argv = list(args) if args else [str(package_name)]
    if command == "npx" and "-y" not in argv:
        argv = ["-y", *argv]
    return command, argv


def server_env(
    skill_name: str,
    required_env: Sequence[str],
    run_env: Mapping[str, str],
    process_env: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The whole environment of a stdio server (spec §2.8).

    Args:
        skill_name: For the error message.
        required_env: The skill's ``requiredEnv`` names, taken from ``run_env``.
        run_env: The run's environment (process environment plus ``.env`` files).
        process_env: Where the safe variables come from; ``os.environ`` by default.

    Raises:
        PerstackError: A required variable is missing or empty, before anything spawns.
    """
    from runtime.skills.environment import safe_env

    for name in required_env:
        if not run_env.get(name):
            raise PerstackError(f"Skill {skill_name} requires environment variable {name}")
    extra = {name: run_env[name] for name in required_env}
    return safe_env(os.environ if process_env is None else process_env, extra)


class ServerProcess:
    """A running stdio server, as the skill sees it.

    Attributes:
        pid: The server's pid (also its process-group id).
        spawned_at: ``time.perf_counter()`` right after the spawn.
        stderr_tail: The last lines it wrote to stderr, for error messages.
    """

    def __init__(self, process: Any) -> None:
        self._process = process
        self.pid: int = process.pid
        self.spawned_at = time.perf_counter()
        self.stderr_tail: deque[str] = deque(maxlen=_STDERR_TAIL_LINES)

    @property
    def returncode(self) -> int | None:
        """The exit status, or None while it runs."""
        return self._process.returncode

    def exit_reason(self) -> str:
        """Why the server is gone, in words: exit status and its last stderr line."""
        code = self.returncode
        if code is None:
            reason = "the server closed its connection"
        elif code < 0:
            reason = f"the server was killed by signal {-code}"
        else:
            reason = f"the server exited with code {code}"
        if self.stderr_tail:
            reason += f": {self.stderr_tail[-1]}"
        return reason


async def _wait_exit(process: Any, timeout: float) -> bool:
    """Whether ``process`` exited within ``timeout`` (polls: ``wait()`` also waits for
    pipe EOF, which a grandchild holding the pipes would delay forever)."""
    import anyio

    with anyio.move_on_after(timeout):
        while process.returncode is None:
            await anyio.sleep(0.01)
        return True
    return False


def _signal_group(pgid: int, sig: int) -> bool:
    """Signal a process group; whether it still had members."""
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # members we may not signal (or unreaped zombies): still there
    return True


async def _wait_group_gone(pgid: int, timeout: float) -> None:
    import anyio

    with anyio.move_on_after(timeout):
        while _signal_group(pgid, 0):
            await anyio.sleep(0.01)


async def _stop(process: Any) -> None:
    """Close stdin, give the server its grace period, then end its whole group."""
    import anyio

    pgid = process.pid  # start_new_session: the server leads its own group
    with suppress(Exception):
        await process.stdin.aclose()
    if not await _wait_exit(process, EXIT_GRACE_SECONDS):
        _signal_group(pgid, signal.SIGTERM)
        if not await _wait_exit(process, _TERM_GRACE_SECONDS):
            _signal_group(pgid, signal.SIGKILL)
            await _wait_exit(process, _TERM_GRACE_SECONDS)
    # Children the server left behind in its group (a shell's grandchildren, a worker it
    # spawned) would outlive it as orphans: end them too, politely first.
    if _signal_group(pgid, signal.SIGTERM):
        await _wait_group_gone(pgid, _TERM_GRACE_SECONDS / 2)
        _signal_group(pgid, signal.SIGKILL)
        await _wait_group_gone(pgid, _TERM_GRACE_SECONDS / 2)
    _LIVE_GROUPS.discard(pgid)
    reaper.forget(pgid)
    for stream in (process.stdout, process.stderr):
        with suppress(Exception):
            await stream.aclose()
    await anyio.lowlevel.checkpoint()


@asynccontextmanager
async def stdio_transport(
    command: str,
    args: Sequence[str],
    env: Mapping[str, str],
    on_stderr: Callable[[str], None],
) -> AsyncIterator[tuple[Any, Any, ServerProcess]]:
    """Spawn a stdio server and bridge its pipes to SDK message streams.

    Args:
        command: The executable (looked up on the given environment's ``PATH``).
        args: Its arguments.
        env: Its complete environment.
        on_stderr: Called with each non-blank stderr line, stripped.

    Yields:
        ``(read_stream, write_stream, process)``: the streams ``ClientSession`` takes,
        and the server process.

    Raises:
        OSError: The command could not be spawned (not found, not executable).
    """
    import anyio
    from anyio.streams.text import TextReceiveStream

    from runtime.skills.mcp.connection import load_sdk

    process = await anyio.open_process([command, *args], env=dict(env), start_new_session=True)
    _LIVE_GROUPS.add(process.pid)
    reaper.watch(process.pid)
    server = ServerProcess(process)
    try:
        await load_sdk()  # while the server boots
    except BaseException:
        with anyio.CancelScope(shield=True):
            await _stop(process)
        raise
    import mcp_types
    from mcp.shared.message import SessionMessage

    read_writer, read_stream = anyio.create_memory_object_stream[Any](0)
    write_stream, write_reader = anyio.create_memory_object_stream[Any](0)

    async def pump_stdout() -> None:
        buffer = ""
        try:
            async with read_writer:
                async for chunk in TextReceiveStream(process.stdout, errors="replace"):
                    *lines, buffer = (buffer + chunk).split("\n")
                    for line in lines:
                        if not line.strip():
                            continue
                        try:
                            message: Any = SessionMessage(
                                mcp_types.jsonrpc_message_adapter.validate_json(line, by_name=False)
                            )
                        except ValueError as exc:
                            message = exc  # the session reports unparsable lines
                        await read_writer.send(message)
        except (anyio.ClosedResourceError, anyio.BrokenResourceError, OSError):
            pass

    async def pump_stderr() -> None:
        buffer = ""
        with suppress(anyio.ClosedResourceError, anyio.BrokenResourceError, OSError):
            async for chunk in TextReceiveStream(process.stderr, errors="replace"):
                *lines, buffer = (buffer + chunk).split("\n")
                for line in lines:
                    _stderr_line(line)
        _stderr_line(buffer)

    def _stderr_line(line: str) -> None:
        text = line.strip()
        if text:
            server.stderr_tail.append(text)
            on_stderr(text)

    async def pump_stdin() -> None:
        try:
            async with write_reader:
                async for message in write_reader:
                    data = message.message.model_dump_json(by_alias=True, exclude_unset=True)
                    await process.stdin.send((data + "\n").encode())
        except (anyio.ClosedResourceError, anyio.BrokenResourceError, OSError):
            # The server stopped reading: end the session's view of the connection.
            await read_writer.aclose()

    async with anyio.create_task_group() as group:
        group.start_soon(pump_stdout)
        group.start_soon(pump_stderr)
        group.start_soon(pump_stdin)
        try:
            yield read_stream, write_stream, server
        finally:
            # Bounded and shielded: a cancelled caller must still not leak the server.
            with anyio.CancelScope(shield=True):
                write_stream.close()
                read_stream.close()
                await _stop(process)
            group.cancel_scope.cancel()
