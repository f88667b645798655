"""How an MCP ``tools/call`` result becomes the contents of a tool result (spec §8.6).

The model reads every failure as text: an MCP error, a tool that raised, an ``isError``
result or a server that is gone all become ``Error calling tool <name>: <message>``, so
the run goes on and the model can react. Nothing here raises.
"""

from __future__ import annotations

import json
from typing import Any

from runtime.model import FileInlinePart, ImageInlinePart, TextPart
from runtime.skills.manager import ToolContent

__all__ = ["error_contents", "result_contents"]


def error_contents(tool_name: str, message: str) -> list[ToolContent]:
    """The single text part of a failed call: ``Error calling tool <name>: <message>``."""
    return [TextPart(text=f"Error calling tool {tool_name}: {message}")]


def _args_json(args: Any) -> str:
    # JSON.stringify's compact form, as upstream prints the arguments.
    return json.dumps(args, ensure_ascii=False, separators=(",", ":"), default=str)


def _block_contents(block: Any) -> ToolContent | None:
    """One MCP content block as a part; ``None`` for kinds the model is not given."""
    kind = getattr(block, "type", None)
    if kind == "text":
        return TextPart(text=block.text or "Error: No content")
    if kind == "image":
        return ImageInlinePart(encoded_data=block.data, mime_type=block.mime_type)
    if kind == "resource":
        resource = block.resource
        text = getattr(resource, "text", None)
        if isinstance(text, str):
            return TextPart(text=text)
        blob = getattr(resource, "blob", None)
        if not resource.mime_type:
            # A file part without a MIME type cannot be sent to any provider; upstream
            # crashes the run here, we tell the model instead.
            return TextPart(text=f"Error: resource {resource.uri} has no mimeType")
        return FileInlinePart(encoded_data=blob or "", mime_type=resource.mime_type)
    # audio and resource_link are dropped, as upstream does.
    return None


def result_contents(result: Any, tool_name: str, args: Any) -> list[ToolContent]:
    """The contents of a ``CallToolResult``.

    Args:
        result: The SDK's ``CallToolResult``.
        tool_name: The tool that was called (for the messages).
        args: The arguments it was called with (echoed when it returned nothing).

    Returns:
        Text, image and file parts in the server's order. An ``isError`` result becomes
        one error text joining the server's text blocks.
    """
    blocks = list(result.content or [])
    if result.is_error:
        texts = [b.text for b in blocks if getattr(b, "type", None) == "text" and b.text]
        return error_contents(tool_name, "\n".join(texts) or "the tool reported an error")
    nothing = f"Tool {tool_name} returned nothing with arguments: {_args_json(args)}"
    if not blocks:
        return [TextPart(text=nothing)]
    parts = [part for part in map(_block_contents, blocks) if part is not None]
    # Only dropped kinds (audio, links): say so rather than send an empty result.
    return parts or [TextPart(text=nothing)]
