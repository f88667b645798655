"""The exec tool: run one program, without a shell, inside the workspace (spec §9).

* No shell: ``command`` and ``args`` go straight to ``exec``, so nothing is expanded.
* Environment: only the safe variables of the runtime's own process plus the call's
  ``env`` minus protected names (``runtime.skills.environment``): API keys never reach
  the child.
* ``cwd`` is confined to the workspace like every other path.
* ``timeout`` (ms, default 60000, 0 = none) kills the child's whole process group, so a
  grandchild holding the pipes open cannot keep the call alive.
* Output is capped at 10 MiB per stream, like Node's ``maxBuffer``.

Failures use upstream's exec-specific shape ``{"error": <message>, "stdout"?, "stderr"?}``.
"""

from __future__ import annotations

import asyncio
import os
import signal
from typing import Any

from runtime.skills.base.paths import Workspace
from runtime.skills.base.results import ToolError
from runtime.skills.environment import safe_env

__all__ = ["exec_command", "DEFAULT_TIMEOUT_MS", "MAX_OUTPUT_BYTES", "NO_OUTPUT"]

DEFAULT_TIMEOUT_MS = 60_000
MAX_OUTPUT_BYTES = 10 * 1024 * 1024
NO_OUTPUT = "Command executed successfully, but produced no output."
_CHUNK = 64 * 1024


def _kill_group(process: asyncio.subprocess.Process) -> None:
    """SIGKILL the child's process group (the child leads it: ``start_new_session``)."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        # The group is gone (every member exited); the child may still need reaping.
        if process.returncode is None:
            try:
                process.kill()
            except ProcessLookupError:
                pass


class _Capture:
    """Both output streams of one child, read concurrently up to the cap."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.stdout = bytearray()
        self.stderr = bytearray()
        self.overflowed: str | None = None

    async def pump(self, stream: asyncio.StreamReader, buffer: bytearray, name: str) -> None:
        while chunk := await stream.read(_CHUNK):
            if self.overflowed:
                continue  # keep draining so the child is never blocked on a full pipe
            buffer.extend(chunk)
            if len(buffer) > MAX_OUTPUT_BYTES:
                del buffer[MAX_OUTPUT_BYTES:]
                self.overflowed = name
                _kill_group(self.process)

    async def run(self) -> int:
        assert self.process.stdout is not None and self.process.stderr is not None
        await asyncio.gather(
            self.pump(self.process.stdout, self.stdout, "stdout"),
            self.pump(self.process.stderr, self.stderr, "stderr"),
        )
        return await self.process.wait()


def _text(data: bytearray) -> str:
    return bytes(data).decode("utf-8", errors="replace")


async def exec_command(ws: Workspace, args: dict[str, Any]) -> dict[str, Any]:
    """Run ``args["command"]`` with ``args["args"]`` and return ``{"output"}`` or an error.

    Args:
        ws: The run's workspace (``cwd`` must resolve inside it).
        args: The validated tool arguments.
    """
    command, argv = args["command"], list(args["args"])
    want_stdout, want_stderr = args["stdout"], args["stderr"]
    timeout_ms = args.get("timeout")
    if timeout_ms is None:
        timeout_ms = DEFAULT_TIMEOUT_MS
    try:
        cwd = ws.resolve(args["cwd"])
        process = await asyncio.create_subprocess_exec(
            command,
            *argv,
            cwd=cwd,
            env=safe_env(os.environ, args["env"]),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,  # its own process group, killed as a whole on timeout
        )
    except (ToolError, OSError, ValueError) as error:
        return {"error": str(error)}

    capture = _Capture(process)
    message: str | None = None
    finished = False
    try:
        limit = timeout_ms / 1000 if timeout_ms > 0 else None
        returncode = await asyncio.wait_for(capture.run(), limit)
        finished = not capture.overflowed
        if capture.overflowed:
            message = f"{capture.overflowed} maxBuffer length exceeded"
        elif returncode != 0:
            message = f"Command failed: {' '.join([command, *argv])}\n{_text(capture.stderr)}"
    except TimeoutError:
        message = f"Command timed out after {timeout_ms}ms."
    finally:
        # Timed out, overflowed or the call was cancelled: leave nothing of it running.
        # A command that finished normally keeps any background process it started.
        if not finished:
            _kill_group(process)
            await process.wait()

    stdout, stderr = _text(capture.stdout), _text(capture.stderr)
    if message is not None:
        result: dict[str, Any] = {"error": message}
        if stdout and want_stdout:
            result["stdout"] = stdout
        if stderr and want_stderr:
            result["stderr"] = stderr
        return result
    output = (stdout if want_stdout else "") + (stderr if want_stderr else "")
    return {"output": output if output.strip() else NO_OUTPUT}
