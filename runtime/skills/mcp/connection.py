"""One live MCP session, held open by a task of its own.

The SDK's transports and ``ClientSession`` are anyio context managers whose task groups
must be entered and exited by the same task. The runtime starts and closes a skill from
one task but calls tools from many (parallel tool calls run under ``asyncio.gather``), so
each connection gets an *owner task* that enters the transport and the session, reports
when the session is ready, and exits both when asked to close. Requests go straight to
the session from whichever task calls: the SDK's dispatcher correlates responses through
memory streams and is safe to use from any task of the same event loop.
"""

from __future__ import annotations

import asyncio
import importlib
import sys
import time
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any

from runtime.providers.base import ToolDefinition

#: Opens a transport: an async context manager giving ``(read, write, process | None)``.
TransportFactory = Callable[[], AbstractAsyncContextManager[Any]]

__all__ = [
    "Connected",
    "McpConnection",
    "StartTimeout",
    "describe_error",
    "is_connection_closed",
    "load_sdk",
]

_SDK_MODULES = ("mcp_types", "mcp.shared.message", "mcp.client.session")
_loaded: set[str] = set()


async def load_sdk(*extra_modules: str) -> None:
    """Import the SDK (about a second of CPU) in a worker thread.

    Off the event loop, so the servers of the other skills spawn meanwhile and boot while
    it loads; a stdio transport spawns its process first and only then waits for this.

    Args:
        extra_modules: More SDK modules to load the same way (a remote transport's).
    """
    wanted = [name for name in (*_SDK_MODULES, *extra_modules) if name not in _loaded]
    if not wanted:
        return

    def load() -> None:
        for name in wanted:
            importlib.import_module(name)  # the import lock makes concurrent loads safe
            _loaded.add(name)

    await asyncio.to_thread(load)


class StartTimeout(TimeoutError):
    """The server was not ready within the start timeout."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"no answer within {seconds:g} s")
        self.seconds = seconds


@dataclass(slots=True)
class Connected:
    """What a successful connection reports (durations in milliseconds).

    ``task_only`` names the tools that require task-augmented execution (MCP tasks), which
    this client does not support: they are not in ``tools``.
    """

    tools: list[ToolDefinition]
    server_info: dict[str, str] | None
    transport_ms: float
    handshake_ms: float
    discovery_ms: float
    task_only: list[str]


def _leaf(exc: BaseException) -> BaseException:
    # anyio task groups wrap failures in exception groups; the first leaf says what broke.
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc


def is_connection_closed(exc: BaseException) -> bool:
    """Whether ``exc`` is the SDK's "connection closed" error (the server went away)."""
    leaf = _leaf(exc)
    # Looked up, not imported: a failure before the SDK loaded is never this error.
    exceptions = sys.modules.get("mcp.shared.exceptions")
    if exceptions is None or not isinstance(leaf, exceptions.MCPError):
        return False
    import mcp_types

    return leaf.code == mcp_types.CONNECTION_CLOSED


def describe_error(exc: BaseException) -> str:
    """A one-line reason for a failure, without the exception-group wrapping."""
    leaf = _leaf(exc)
    if isinstance(leaf, FileNotFoundError):
        return f"command not found: {leaf.filename or leaf}"
    if isinstance(leaf, PermissionError):
        return f"command not executable: {leaf.filename or leaf}"
    if isinstance(leaf, StartTimeout):
        return str(leaf)
    if isinstance(leaf, TimeoutError):
        return "a request to the server timed out"
    # The first paragraph: a schema validation error goes on with the whole schema.
    text = " ".join(str(leaf).split("\n\n", 1)[0].split())
    return text or type(leaf).__name__


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 3)


def _definition(tool: Any, skill_name: str) -> ToolDefinition:
    annotations = tool.annotations
    return ToolDefinition(
        name=tool.name,
        description=tool.description,
        input_schema=dict(tool.input_schema),
        skill_name=skill_name,
        title=tool.title,
        annotations=(
            annotations.model_dump(by_alias=True, mode="json", exclude_none=True) or None
            if annotations is not None
            else None
        ),
        output_schema=dict(tool.output_schema) if tool.output_schema is not None else None,
    )


def _task_only(tool: Any) -> bool:
    execution = getattr(tool, "execution", None)
    return execution is not None and execution.task_support == "required"


async def _list_all_tools(
    session: Any, skill_name: str
) -> tuple[list[ToolDefinition], list[str]]:
    """Every tool (all pages), and the names of those that need task augmentation."""
    import mcp_types

    tools: list[ToolDefinition] = []
    task_only: list[str] = []
    cursor: str | None = None
    while True:
        params = mcp_types.PaginatedRequestParams(cursor=cursor) if cursor else None
        page = await session.list_tools(params=params)
        for tool in page.tools:
            if _task_only(tool):
                task_only.append(tool.name)
            else:
                tools.append(_definition(tool, skill_name))
        cursor = page.next_cursor
        if not cursor:
            return tools, task_only


async def _set_log_level(session: Any, level: str) -> None:
    """``logging/setLevel`` when the server logs (sent as a plain request: the SDK's helper
    warns that the capability is deprecated in the 2026 protocol, which we do not speak)."""
    import mcp_types

    capabilities = session.server_capabilities
    if capabilities is None or capabilities.logging is None:
        return
    request = mcp_types.SetLevelRequest(params=mcp_types.SetLevelRequestParams(level=level))
    await session.send_request(request, mcp_types.EmptyResult)


class McpConnection:
    """A session with one MCP server, owned by a background task.

    Args:
        skill_name: Names the MCP client (``<skill>-mcp-client``, as upstream).
        open_transport: Opens the transport (spawns the process, or connects over HTTP).
        session_options: Keyword arguments for ``ClientSession`` (the capability callbacks).
        log_level: Sent with ``logging/setLevel`` when the server logs.
    """

    def __init__(
        self,
        skill_name: str,
        open_transport: TransportFactory,
        session_options: dict[str, Any] | None = None,
        log_level: str | None = None,
    ) -> None:
        self.skill_name = skill_name
        self.process: Any = None
        self._open_transport = open_transport
        self._session_options = session_options or {}
        self._log_level = log_level
        self._session: Any = None
        self._ready: asyncio.Future[Connected] | None = None
        self._stop = asyncio.Event()
        self._owner: asyncio.Task[None] | None = None
        self._scope: Any = None
        self._failure: str | None = None

    async def open(self, timeout: float) -> Connected:
        """Connect, handshake and list the tools.

        Raises:
            Exception: Whatever stopped the connection (the caller words it); on failure
                the owner task has already cleaned up (the process is gone).
        """
        self._ready = ready = asyncio.get_running_loop().create_future()
        self._owner = asyncio.create_task(self._own(), name=f"mcp:{self.skill_name}")
        try:
            return await asyncio.wait_for(asyncio.shield(ready), timeout)
        except BaseException as exc:
            # Our own deadline, not a TimeoutError the owner reported through ``ready``.
            timed_out = isinstance(exc, TimeoutError) and not ready.done()
            await self.close()
            if timed_out:
                raise StartTimeout(timeout) from None
            raise

    async def _own(self) -> None:
        import anyio

        assert self._ready is not None
        failure: BaseException | None = None
        started = time.perf_counter()
        try:
            # A scope close() can cancel from its own task while the handshake is pending.
            with anyio.CancelScope() as self._scope:
                async with self._open_transport() as (read_stream, write_stream, process):
                    # A stdio transport yields once spawned and the SDK is loaded; the
                    # handshake is timed from the spawn (the server boots meanwhile).
                    self.process = process
                    opened = process.spawned_at if process is not None else time.perf_counter()
                    await load_sdk()
                    import mcp_types
                    from mcp.client.session import ClientSession

                    client_info = mcp_types.Implementation(
                        name=f"{self.skill_name}-mcp-client", version="1.0.0"
                    )
                    async with ClientSession(
                        read_stream,
                        write_stream,
                        client_info=client_info,
                        **self._session_options,
                    ) as session:
                        init = await session.initialize()
                        if self._log_level is not None:
                            await _set_log_level(session, self._log_level)
                        shaken = time.perf_counter()
                        tools, task_only = await _list_all_tools(session, self.skill_name)
                        listed = time.perf_counter()
                        self._session = session
                        info = init.server_info
                        self._ready.set_result(
                            Connected(
                                tools=tools,
                                server_info=(
                                    {"name": info.name, "version": info.version} if info else None
                                ),
                                transport_ms=_ms(opened - started),
                                handshake_ms=_ms(shaken - opened),
                                discovery_ms=_ms(listed - shaken),
                                task_only=task_only,
                            )
                        )
                        await self._stop.wait()
        except BaseException as exc:  # reported to the opener, or kept for later calls
            failure = exc
            if not isinstance(exc, Exception):
                raise
        finally:
            self._session = None
            if not self._ready.done():
                self._ready.set_exception(
                    failure
                    if isinstance(failure, Exception)
                    else ConnectionAbortedError("closed before the server was ready")
                )
            self._failure = describe_error(failure) if failure else "the connection is closed"

    @property
    def session(self) -> Any:
        """The live ``ClientSession``, or None once the connection is gone."""
        return self._session

    async def gone_reason(self) -> str:
        """Why the server stopped answering: its exit status when it is a process."""
        if self.process is not None:
            # A crash closes stdout a moment before the exit status is collected.
            for _ in range(50):
                if self.process.returncode is not None:
                    break
                await asyncio.sleep(0.01)
            return self.process.exit_reason()
        return self._failure or "the server closed the connection"

    async def close(self) -> None:
        """Close the session and the transport (the process ends). Safe to call twice.

        Shielded: a caller cancelled while closing does not stop the owner task from
        finishing the shutdown.
        """
        owner = self._owner
        if owner is None:
            return
        if self._ready is not None and not self._ready.done():
            # Still connecting: abandon the handshake. Through the anyio scope once the
            # owner runs, so the transport's shielded shutdown still stops the process.
            if self._scope is not None:
                self._scope.cancel()
            else:
                owner.cancel()
        self._stop.set()
        if not owner.done():
            await asyncio.shield(asyncio.wait({owner}))
        if self._ready is not None and not self._ready.done():
            self._ready.cancel()  # the owner was cancelled before it ever ran
        if self._ready is not None and self._ready.done() and not self._ready.cancelled():
            self._ready.exception()  # mark retrieved: the opener already saw it
