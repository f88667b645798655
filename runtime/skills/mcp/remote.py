"""Remote MCP servers: legacy SSE and streamable HTTP (spec §2.5, §8.4, decision D8).

The endpoint is checked again right before connecting, with the config loader's own
rule: a public ``https`` URL, unless the skill sets ``allowPrivateNetwork = true`` (which
also admits plain ``http``, since loopback test and sidecar servers rarely have TLS).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Literal

from runtime.errors import PerstackError

__all__ = ["RemoteKind", "SessionWatch", "check_endpoint", "endpoint_label", "remote_transport"]

RemoteKind = Literal["sse", "streamableHttp"]

_KIND_LABEL = {"sse": "SSE", "streamableHttp": "streamable HTTP"}
_SESSION_HEADER = "mcp-session-id"


def endpoint_label(kind: RemoteKind, endpoint: str) -> str:
    """``streamable HTTP endpoint https://…/mcp``: how errors name where a skill connects."""
    return f"{_KIND_LABEL[kind]} endpoint {endpoint}"


class SessionWatch:
    """Notices, from the HTTP responses, that a streamable-HTTP server forgot our session.

    A server that restarted (or expired the session) answers a request carrying the old
    ``Mcp-Session-Id`` with 404 (the specification's answer) or, for some servers, 400
    with an error about the session. The SDK reports either as a generic error; this
    remembers the status so the skill can tell a dropped session from a failed tool.
    """

    def __init__(self) -> None:
        self.rejected_status: int | None = None

    async def on_response(self, response: Any) -> None:
        if response.status_code in (400, 404) and _SESSION_HEADER in response.request.headers:
            self.rejected_status = response.status_code

    def dropped(self, message: str) -> bool:
        """Whether a failure with ``message`` means the server dropped the session."""
        if self.rejected_status == 404:
            return True
        return self.rejected_status == 400 and "session" in message.lower()


def check_endpoint(
    skill_name: str, kind: RemoteKind, endpoint: str, allow_private_network: bool
) -> None:
    """Refuse an endpoint the skill may not use.

    Raises:
        PerstackError: ``Skill <name> <kind> <reason>``, e.g. ``Skill docs SSE endpoint
            http://127.0.0.1:8000/sse is a private or loopback address; set
            allowPrivateNetwork = true to allow it``.
    """
    from runtime.config.network import endpoint_problem

    problem = endpoint_problem(endpoint, allow_private_network)
    if problem is not None:
        raise PerstackError(f"Skill {skill_name} {_KIND_LABEL[kind]} {problem}")


@asynccontextmanager
async def remote_transport(
    kind: RemoteKind, endpoint: str, watch: SessionWatch | None = None
) -> AsyncIterator[tuple[Any, Any]]:
    """Connect to a remote server with the SDK's client transport.

    Args:
        kind: ``sse`` or ``streamableHttp``.
        endpoint: The URL.
        watch: Told about rejected session requests (streamable HTTP).

    Yields:
        ``(read_stream, write_stream)`` for ``ClientSession``.
    """
    from runtime.skills.mcp.connection import load_sdk

    module = "mcp.client.sse" if kind == "sse" else "mcp.client.streamable_http"
    await load_sdk(module, "mcp.shared._httpx_utils")
    if kind == "sse":
        from mcp.client.sse import sse_client

        async with sse_client(endpoint) as (read_stream, write_stream):
            yield read_stream, write_stream
    else:
        from mcp.client.streamable_http import streamable_http_client
        from mcp.shared._httpx_utils import create_mcp_http_client

        client = create_mcp_http_client()
        if watch is not None:
            client.event_hooks["response"] = [watch.on_response]
        async with client, streamable_http_client(endpoint, http_client=client) as (
            read_stream,
            write_stream,
        ):
            yield read_stream, write_stream
