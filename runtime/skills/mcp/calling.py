"""One ``tools/call`` of an MCP skill, from the request to the tool result.

* Every call sends a progress token; progress becomes ``skillProgress`` events.
* The call is bounded by the skill's tool timeout (the clock stops while a person answers
  the server's question). On timeout, or when the run is cancelled, the SDK tells the
  server with ``notifications/cancelled``.
* A streamable-HTTP session the server dropped (it restarted, or expired the session) is
  re-initialised once; the call is then retried if the tool says it is safe to retry
  (``readOnlyHint`` or ``idempotentHint``), otherwise the model gets a clear error.
* A question nobody can answer now (a headless run) gives the call up: ``InputDeferred``
  reaches the executor, and the run stops until it is answered.

Every other failure is a result: ``Error calling tool <name>: <why>``, marked ``isError``,
naming the skill (and its endpoint, for a remote one) when the server is gone.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, Protocol

from runtime.skills.calls import CURRENT_CALL, CallResult, InputDeferred, ToolCallContext
from runtime.skills.mcp.client import InFlightCall
from runtime.skills.mcp.connection import describe_error, is_connection_closed
from runtime.skills.mcp.results import call_result, error_result

if TYPE_CHECKING:
    from runtime.providers.base import ToolDefinition
    from runtime.skills.mcp.client import ClientFeatures
    from runtime.skills.mcp.connection import McpConnection

__all__ = ["call_tool"]


class McpSkill(Protocol):
    """What a call needs of its skill (``runtime.skills.mcp.skill.McpSkill``)."""

    name: str
    transport: str
    call_timeout: float
    where: str
    closed: bool
    connection: McpConnection | None
    features: ClientFeatures | None
    session_watch: Any

    async def ensure_connected(self) -> str | None: ...
    async def reconnect(self) -> str | None: ...
    def tool(self, name: str) -> ToolDefinition | None: ...


def _safe_to_retry(skill: McpSkill, tool_name: str) -> bool:
    tool = skill.tool(tool_name)
    hints = (tool.annotations if tool is not None else None) or {}
    return bool(hints.get("readOnlyHint") or hints.get("idempotentHint"))


async def call_tool(skill: McpSkill, tool_name: str, args: Any) -> CallResult:
    """Call ``tool_name`` on ``skill``'s server (see the module's docstring).

    Raises:
        InputDeferred: The server asked the person something nobody can answer now.
    """
    problem = await skill.ensure_connected()
    if problem is not None:
        return error_result(tool_name, problem)
    if args is not None and not isinstance(args, dict):
        return error_result(tool_name, "arguments must be a JSON object")
    arguments = args or {}
    context = CURRENT_CALL.get() or ToolCallContext(tool_call_id="", tool_name=tool_name)
    remote = skill.transport != "stdio"
    renewed = False
    while True:
        connection = skill.connection
        session = connection.session if connection is not None else None
        if connection is None or session is None:
            reason = await connection.gone_reason() if connection else "not connected"
            if not remote or renewed or skill.closed:
                return error_result(tool_name, _unavailable(skill, reason))
            # A remote server that went away between calls may be back: one new session.
            renewed = True
            failure = await skill.reconnect()
            if failure is not None:
                return error_result(tool_name, _unavailable(skill, f"{reason}; {failure}"))
            continue
        outcome = await _attempt(skill, connection, session, context, tool_name, arguments)
        if not isinstance(outcome, _Dropped):
            return outcome
        if renewed:
            return outcome.result
        # The server forgot our session, or the connection broke during the call.
        renewed = True
        failure = await skill.reconnect()
        if failure is not None:
            return error_result(tool_name, _unavailable(skill, f"{outcome.what}; {failure}"))
        if not _safe_to_retry(skill, tool_name):
            return error_result(
                tool_name,
                f"the server of skill {skill.name} ({skill.where}) {outcome.what}; a new "
                f"session was started, but {tool_name} was not retried because it is not "
                "marked read-only or idempotent. Call it again if that is safe.",
            )


class _Dropped:
    """An attempt that failed because the session or the connection was lost."""

    def __init__(self, result: CallResult, what: str) -> None:
        self.result = result
        self.what = what


async def _attempt(
    skill: McpSkill,
    connection: McpConnection,
    session: Any,
    context: ToolCallContext,
    tool_name: str,
    arguments: dict[str, Any],
) -> CallResult | _Dropped:
    features = skill.features
    assert features is not None
    call = features.begin(context)
    name = skill.name

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        call.progress(name, progress, total, message)

    try:
        async with asyncio.timeout(skill.call_timeout) as deadline:
            call.deadline = deadline
            result = await session.call_tool(
                tool_name, arguments=arguments, progress_callback=on_progress
            )
        return call_result(result, tool_name, arguments)
    except TimeoutError:
        return error_result(tool_name, f"the tool did not answer within {skill.call_timeout:g} s")
    except asyncio.CancelledError:
        _raise_if_deferred(call)
        raise
    except Exception as exc:  # an MCP error, a dead server, a malformed result
        failed = error_result(tool_name, await _failure(skill, connection, exc))
        what = _lost(skill, exc)
        return _Dropped(failed, what) if what is not None else failed
    finally:
        features.end(call)


def _lost(skill: McpSkill, exc: Exception) -> str | None:
    """What a remote skill lost, when the failure is a lost session or connection."""
    if skill.transport == "stdio" or skill.closed:
        return None
    watch = skill.session_watch
    if watch is not None and watch.dropped(describe_error(exc)):
        watch.rejected_status = None
        return "dropped the session"
    if is_connection_closed(exc):
        return "lost the connection during the call"
    return None


def _raise_if_deferred(call: InFlightCall) -> None:
    """A call the elicitation handler gave up (and only that): ``InputDeferred``."""
    if call.deferred is None or call.task is None:
        return
    if call.task.uncancel() == 0:  # our cancellation was the only one
        raise InputDeferred(call.deferred) from None
    # Otherwise the run is being cancelled too: the CancelledError goes on.


def _unavailable(skill: McpSkill, reason: str) -> str:
    where = f" ({skill.where})" if skill.where else ""
    return f"MCP server {skill.name}{where} is not available: {reason}"


async def _failure(skill: McpSkill, connection: McpConnection, exc: Exception) -> str:
    if is_connection_closed(exc):
        if skill.closed:
            return f"skill {skill.name} was closed while the tool ran"
        return _unavailable(skill, await connection.gone_reason())
    return describe_error(exc)
