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

__all__ = ["RemoteKind", "check_endpoint", "remote_transport"]

RemoteKind = Literal["sse", "streamableHttp"]

_KIND_LABEL = {"sse": "SSE", "streamableHttp": "streamable HTTP"}


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
async def remote_transport(kind: RemoteKind, endpoint: str) -> AsyncIterator[tuple[Any, Any]]:
    """Connect to a remote server with the SDK's client transport.

    Yields:
        ``(read_stream, write_stream)`` for ``ClientSession``.
    """
    from runtime.skills.mcp.connection import load_sdk

    module = "mcp.client.sse" if kind == "sse" else "mcp.client.streamable_http"
    await load_sdk(module)
    if kind == "sse":
        from mcp.client.sse import sse_client

        async with sse_client(endpoint) as (read_stream, write_stream):
            yield read_stream, write_stream
    else:
        from mcp.client.streamable_http import streamable_http_client

        async with streamable_http_client(endpoint) as (read_stream, write_stream):
            yield read_stream, write_stream
