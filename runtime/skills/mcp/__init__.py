"""MCP servers as skills (stdio, SSE, streamable HTTP) through the official ``mcp`` SDK.

Importing this package is cheap: the SDK is imported only when a skill connects, so a run
served from ``perstack.lock`` reaches its first generation without loading it.
"""

from __future__ import annotations

from runtime.skills.mcp.skill import McpSkill, tool_drift

__all__ = ["McpSkill", "tool_drift"]
