"""An MCP server as a skill: stdio, legacy SSE or streamable HTTP (spec §8, D8, issue 18).

Lifecycle: ``start()`` checks the configuration (launch target, required variables,
endpoint) before anything spawns, then connects: ``skillStarting`` (stdio), the handshake
(declaring the client capabilities the skill leaves on: sampling, elicitation, roots),
``logging/setLevel``, the tool listing, ``skillConnected`` with its durations. ``close()``
ends the session and the process and emits ``skillDisconnected``.

Lock mode: built with the tool definitions of ``perstack.lock``, the skill offers them
without connecting and connects on its first call. If the live tools then differ from the
locked ones it emits a ``warning`` naming the skill and the tools, and offers the live
ones from then on.

Calls (:mod:`runtime.skills.mcp.calling`) send a progress token, are bounded by the skill's
tool timeout, and re-initialise a streamable-HTTP session the server dropped.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from runtime.errors import PerstackError
from runtime.providers.base import ToolDefinition
from runtime.skills.calls import CallResult
from runtime.skills.manager import Skill, SkillContext, filter_tools
from runtime.skills.mcp.calling import call_tool
from runtime.skills.mcp.client import ClientFeatures
from runtime.skills.mcp.connection import (
    McpConnection,
    StartTimeout,
    describe_error,
    is_connection_closed,
)

__all__ = ["McpSkill", "tool_drift"]

#: How long a server may take from spawn (or first request) to its tool list. Generous:
#: ``npx``/``uvx`` may download the package first.
DEFAULT_START_TIMEOUT = 120.0
#: One tool call's bound when neither the skill nor the file sets ``toolTimeout``.
DEFAULT_CALL_TIMEOUT = 60.0


def _comparable(tool: ToolDefinition) -> tuple[Any, ...]:
    return (
        tool.description,
        tool.input_schema,
        tool.title,
        tool.annotations,
        tool.output_schema,
    )


def tool_drift(locked: list[ToolDefinition], live: list[ToolDefinition]) -> dict[str, list[str]]:
    """How live tools differ from locked ones: ``{"added"|"removed"|"changed": [names]}``.

    A tool has changed when its description, input schema, title, annotations or output
    schema differ. Only non-empty categories are present; an empty dict means no drift.
    """
    old = {t.name: _comparable(t) for t in locked}
    new = {t.name: _comparable(t) for t in live}
    drift = {
        "added": sorted(new.keys() - old.keys()),
        "removed": sorted(old.keys() - new.keys()),
        "changed": sorted(n for n in old.keys() & new.keys() if old[n] != new[n]),
    }
    return {kind: names for kind, names in drift.items() if names}


class McpSkill(Skill):
    """A skill backed by an MCP server.

    Args:
        config: A ``McpStdioSkillConfig``, ``McpSseSkillConfig`` or
            ``McpStreamableHttpSkillConfig``.
        locked_tools: Tool definitions from ``perstack.lock``; when given, the skill
            connects on its first call instead of in ``start()``.
        start_timeout: Seconds a server may take to be ready.
        call_timeout: Seconds one tool call may take before the model is told it timed
            out (the skill's ``toolTimeout`` wins), so a hung server cannot hang the run.
    """

    kind = "mcp"

    def __init__(
        self,
        config: Any,
        *,
        locked_tools: list[ToolDefinition] | None = None,
        start_timeout: float = DEFAULT_START_TIMEOUT,
        call_timeout: float = DEFAULT_CALL_TIMEOUT,
    ) -> None:
        self.name = config.name
        self.rule = config.rule
        self.lazy = bool(getattr(config, "lazy_init", False)) and locked_tools is None
        self.config = config
        self.transport = {
            "mcpStdioSkill": "stdio",
            "mcpSseSkill": "sse",
            "mcpStreamableHttpSkill": "streamableHttp",
        }[config.type]
        self.start_timeout = start_timeout
        own = getattr(config, "tool_timeout", None)
        self.call_timeout = own / 1000 if own else call_timeout
        self._locked = list(locked_tools) if locked_tools is not None else None
        self._tools: list[ToolDefinition] = []
        self._context: SkillContext | None = None
        self._features: ClientFeatures | None = None
        self._watch: Any = None
        self._connection: McpConnection | None = None
        self._connect_lock = asyncio.Lock()
        self._connect_failure: str | None = None
        self._closed = False

    @property
    def where(self) -> str:
        """Where the server is, for error messages: ``streamable HTTP endpoint <url>``
        (empty for stdio: its errors carry the exit status instead)."""
        if self.transport == "stdio":
            return ""
        from runtime.skills.mcp.remote import endpoint_label

        return endpoint_label(self.transport, self.config.endpoint)

    # --- lifecycle ---------------------------------------------------------------

    async def start(self, context: SkillContext) -> None:
        """Check the configuration, then connect (or, in lock mode, offer the lock).

        Raises:
            PerstackError: A configuration problem, or the server did not start; one
                line naming the skill, the endpoint of a remote one, and the reason.
        """
        self._context = context
        self._features = ClientFeatures(self.name, self.config, context)
        self._closed = False
        self._launch_plan(context)  # raises before anything is spawned
        if self._locked is not None:
            self._tools = self._filtered(self._locked)
            return
        await self._connect(context)

    def _launch_plan(self, context: SkillContext) -> tuple[str, list[str], dict[str, str]]:
        """``(command, args, env)`` for stdio; validates the endpoint for remote skills."""
        config = self.config
        if self.transport == "stdio":
            from runtime.skills.mcp.stdio import launch_command, server_env

            command, args = launch_command(
                self.name, config.command, config.package_name, config.args
            )
            env = server_env(self.name, config.required_env, context.env)
            return command, args, env
        from runtime.skills.mcp.remote import check_endpoint

        check_endpoint(self.name, self.transport, config.endpoint, config.allow_private_network)
        return "", [], {}

    def _filtered(self, tools: list[ToolDefinition]) -> list[ToolDefinition]:
        return filter_tools(tools, self.config.pick, self.config.omit)

    def _transport_factory(self, context: SkillContext) -> Any:
        command, args, env = self._launch_plan(context)
        if self.transport == "stdio":
            from runtime.skills.mcp.stdio import stdio_transport

            def emit_stderr(line: str) -> None:
                context.emit_runtime("skillStderr", skill_name=self.name, message=line)

            context.emit_runtime("skillStarting", skill_name=self.name, command=command, args=args)
            return lambda: stdio_transport(command, args, env, emit_stderr)
        from runtime.skills.mcp.remote import SessionWatch, remote_transport

        self._watch = watch = SessionWatch() if self.transport == "streamableHttp" else None
        endpoint = self.config.endpoint
        return lambda: _with_no_process(remote_transport(self.transport, endpoint, watch))

    async def _connect(self, context: SkillContext) -> None:
        """Spawn or reach the server, handshake, list tools; emit the lifecycle events."""
        begun = time.perf_counter()
        features = self._features
        assert features is not None
        connection = McpConnection(
            self.name,
            self._transport_factory(context),
            features.session_options(),
            log_level=features.log_level,
        )
        try:
            connected = await connection.open(self.start_timeout)
        except Exception as exc:
            reason = describe_error(exc)
            process = connection.process
            if process is not None and is_connection_closed(exc):
                reason = await connection.gone_reason()  # its exit status and last words
            elif isinstance(exc, StartTimeout):
                if process is not None and process.stderr_tail:
                    reason += f" (last stderr line: {process.stderr_tail[-1]})"
            raise StartFailure(self.name, self.where, reason) from None
        self._connection = connection
        live = self._filtered(connected.tools)
        if self._locked is not None:
            self._warn_on_drift(context, live)
        self._tools = live
        # Named only when pick/omit would have offered them.
        task_only = [t.name for t in self._filtered(_named(connected.task_only))]
        if task_only:
            self._warn(
                context,
                f"Skill {self.name}: not offering {', '.join(task_only)}: "
                "the server runs them only as MCP tasks (task-augmented execution), "
                "which perstack does not support",
            )
        stdio = self.transport == "stdio"
        context.emit_runtime(
            "skillConnected",
            skill_name=self.name,
            server_info=connected.server_info,
            spawn_duration_ms=connected.transport_ms if stdio else None,
            handshake_duration_ms=connected.handshake_ms,
            tool_discovery_duration_ms=connected.discovery_ms,
            connect_duration_ms=round(connected.transport_ms + connected.handshake_ms, 3),
            total_duration_ms=round((time.perf_counter() - begun) * 1000, 3),
        )

    def _warn(self, context: SkillContext, message: str) -> None:
        context.emit_runtime("warning", skill_name=self.name, message=message)

    def _warn_on_drift(self, context: SkillContext, live: list[ToolDefinition]) -> None:
        drift = tool_drift(self._filtered(self._locked or []), live)
        if not drift:
            return
        details = "; ".join(f"{kind}: {', '.join(names)}" for kind, names in drift.items())
        self._warn(
            context,
            f"Skill {self.name}: tools differ from perstack.lock ({details}); "
            "using the live definitions. Run `perstack install` to update the lockfile.",
        )

    async def reconnect(self) -> str | None:
        """Start a new session with a remote server that dropped ours (or went away and
        may be back); why it failed, or None."""
        async with self._connect_lock:
            old, self._connection = self._connection, None
            if old is not None:
                await old.close()
            if self._closed or self._context is None:
                return f"skill {self.name} is not running"
            try:
                await self._connect(self._context)
            except StartFailure as exc:
                return exc.reason
        return None

    async def close(self) -> None:
        """End the session and the server process; emit ``skillDisconnected``."""
        self._closed = True
        async with self._connect_lock:  # let a first-call connect in flight finish
            connection, self._connection = self._connection, None
        if connection is None:
            return
        try:
            await connection.close()
        finally:
            if self._context is not None:
                self._context.emit_runtime("skillDisconnected", skill_name=self.name)

    # --- tools -----------------------------------------------------------------------

    def tools(self) -> list[ToolDefinition]:
        """The tools on offer (live once connected, else the locked ones), filtered."""
        return list(self._tools)

    @property
    def connected(self) -> bool:
        """Whether a session with the server is open."""
        return self._connection is not None

    @property
    def connection(self) -> McpConnection | None:
        """The open session, if any."""
        return self._connection

    @property
    def closed(self) -> bool:
        """Whether the skill was closed (calls after this fail)."""
        return self._closed

    @property
    def features(self) -> ClientFeatures | None:
        """The client's calls in flight and capability callbacks (once started)."""
        return self._features

    @property
    def session_watch(self) -> Any:
        """The streamable-HTTP session watch, if any (see ``remote.SessionWatch``)."""
        return self._watch

    @property
    def pid(self) -> int | None:
        """The stdio server's pid while it is connected (for diagnostics and tests)."""
        process = self._connection.process if self._connection else None
        return process.pid if process is not None else None

    async def ensure_connected(self) -> str | None:
        """Connect on first use (lock mode, or a remote server that was away); the reason
        it cannot, or None."""
        if self._connection is not None:
            return None
        async with self._connect_lock:
            if self._connection is not None:
                return None
            if self._closed or self._context is None:
                return f"skill {self.name} is not running"
            if self._connect_failure is not None:
                return self._connect_failure
            try:
                await self._connect(self._context)
            except StartFailure as exc:
                if self.transport != "stdio":
                    # A remote server may be back for the next call: try again then.
                    return f"MCP server {self.name} ({self.where}) is not available: {exc.reason}"
                # Remembered: a server that cannot start is not respawned on every call.
                self._connect_failure = str(exc)
                return self._connect_failure
        return None

    def tool(self, name: str) -> ToolDefinition | None:
        """The live (or locked) definition of tool ``name``."""
        return next((t for t in self._tools if t.name == name), None)

    async def call(self, tool_name: str, args: Any) -> CallResult:
        """Call one tool; every failure comes back as an error result for the model.

        Raises:
            InputDeferred: The server asked the person something nobody can answer now.
        """
        return await call_tool(self, tool_name, args)


class StartFailure(PerstackError):
    """``Skill <name> failed to start (<endpoint>): <reason>``; ``reason`` alone too."""

    def __init__(self, skill_name: str, where: str, reason: str) -> None:
        at = f" ({where})" if where else ""
        super().__init__(f"Skill {skill_name} failed to start{at}: {reason}")
        self.reason = reason


def _named(names: list[str]) -> list[ToolDefinition]:
    return [ToolDefinition(name=name, description=None, input_schema={}) for name in names]


class _with_no_process:
    """Adapts a remote transport's ``(read, write)`` to the ``(read, write, None)``
    shape of the stdio one."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    async def __aenter__(self) -> tuple[Any, Any, None]:
        read_stream, write_stream = await self._inner.__aenter__()
        return read_stream, write_stream, None

    async def __aexit__(self, *exc_info: Any) -> Any:
        return await self._inner.__aexit__(*exc_info)
