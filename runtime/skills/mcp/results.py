"""How an MCP ``tools/call`` result becomes a tool result (spec §8.6, issue 18).

Every content type survives: text, images, audio, embedded resources and resource links
become parts of the tool result, each keeping the server's ``annotations`` (and, for
resources, ``resource``/``resourceLink`` with the URI); ``structuredContent`` is recorded on
the tool result itself. The parts are what the model is sent, in the form its provider
takes (a resource link as a readable reference, structured content as JSON text when the
server sent no text with it, audio as a file part the provider may or may not accept).

The model reads every failure as text: an MCP error, a tool that raised, an ``isError``
result or a server that is gone all become ``Error calling tool <name>: <message>``, marked
``isError``, so the run goes on and the model can react. Nothing here raises.
"""

from __future__ import annotations

import json
from typing import Any

from runtime.model import FileInlinePart, ImageInlinePart, TextPart
from runtime.skills.calls import CallResult
from runtime.skills.manager import ToolContent

__all__ = ["error_result", "error_contents", "result_contents", "call_result"]


def error_contents(tool_name: str, message: str) -> list[ToolContent]:
    """The single text part of a failed call: ``Error calling tool <name>: <message>``."""
    return [TextPart(text=f"Error calling tool {tool_name}: {message}")]


def error_result(tool_name: str, message: str) -> CallResult:
    """A failed call: its error text, marked ``isError``."""
    return CallResult(error_contents(tool_name, message), is_error=True)


def _args_json(args: Any) -> str:
    # JSON.stringify's compact form, as upstream prints the arguments.
    return json.dumps(args, ensure_ascii=False, separators=(",", ":"), default=str)


def _wire(model: Any) -> dict[str, Any] | None:
    """A protocol object (annotations, a resource's fields) in its JSON form, or None."""
    if model is None:
        return None
    return model.model_dump(by_alias=True, mode="json", exclude_none=True) or None


def _link_text(link: Any) -> str:
    """A resource link as the model reads it: name, URI, type, size and description."""
    label = link.title or link.name
    text = f"Resource link: {label} <{link.uri}>"
    details = [d for d in (link.mime_type, f"{link.size} bytes" if link.size else None) if d]
    if details:
        text += f" ({', '.join(details)})"
    if link.description:
        text += f": {link.description}"
    return text


def _block_part(block: Any) -> ToolContent | None:
    """One MCP content block as a part (with its annotations); None for unknown kinds."""
    kind = getattr(block, "type", None)
    extra: dict[str, Any] = {}
    annotations = _wire(getattr(block, "annotations", None))
    if annotations:
        extra["annotations"] = annotations
    if kind == "text":
        return TextPart(text=block.text or "Error: No content", **extra)
    if kind == "image":
        return ImageInlinePart(encoded_data=block.data, mime_type=block.mime_type, **extra)
    if kind == "audio":
        return FileInlinePart(encoded_data=block.data, mime_type=block.mime_type, **extra)
    if kind == "resource":
        resource = block.resource
        extra["resource"] = {"uri": str(resource.uri)} | (
            {"mimeType": resource.mime_type} if resource.mime_type else {}
        )
        text = getattr(resource, "text", None)
        if isinstance(text, str):
            return TextPart(text=text, **extra)
        if not resource.mime_type:
            # A file part without a MIME type cannot be sent to any provider; upstream
            # crashes the run here, we tell the model instead.
            return TextPart(text=f"Error: resource {resource.uri} has no mimeType", **extra)
        blob = getattr(resource, "blob", None)
        return FileInlinePart(encoded_data=blob or "", mime_type=resource.mime_type, **extra)
    if kind == "resource_link":
        link = _wire(block) or {}
        link.pop("type", None)
        link.pop("annotations", None)
        return TextPart(text=_link_text(block), resourceLink=link, **extra)
    return None


def _structured_text(structured: Any, parts: list[ToolContent]) -> TextPart | None:
    """Structured content as JSON text for the model, unless the server's text already
    says it (servers send the JSON, or a plain rendering, in a text block as well)."""
    if any(isinstance(part, TextPart) for part in parts):
        return None
    return TextPart(text=json.dumps(structured, ensure_ascii=False))


def call_result(result: Any, tool_name: str, args: Any) -> CallResult:
    """The tool result of a ``CallToolResult``.

    Args:
        result: The SDK's ``CallToolResult`` (its structured content already checked
            against the tool's ``outputSchema`` by the SDK).
        tool_name: The tool that was called (for the messages).
        args: The arguments it was called with (echoed when it returned nothing).

    Returns:
        The parts in the server's order; an ``isError`` result as one error text joining
        the server's text blocks. ``structuredContent`` goes in ``extra``.
    """
    blocks = list(result.content or [])
    structured = result.structured_content
    extra = {"structuredContent": structured} if structured is not None else {}
    if result.is_error:
        texts = [b.text for b in blocks if getattr(b, "type", None) == "text" and b.text]
        message = "\n".join(texts) or "the tool reported an error"
        return CallResult(error_contents(tool_name, message), is_error=True, extra=extra)
    parts = [part for part in map(_block_part, blocks) if part is not None]
    if structured is not None:
        text = _structured_text(structured, parts)
        if text is not None:
            parts.append(text)
    if not parts:
        parts = [
            TextPart(text=f"Tool {tool_name} returned nothing with arguments: {_args_json(args)}")
        ]
    return CallResult(parts, extra=extra)


def result_contents(result: Any, tool_name: str, args: Any) -> list[ToolContent]:
    """The parts of a ``CallToolResult`` (see :func:`call_result`)."""
    return call_result(result, tool_name, args).contents
