"""How timeline rows put events into words: tool calls, arguments, results, reasons."""

from __future__ import annotations

from typing import Any

import orjson


def short_args(args: Any, value_width: int = 32) -> str:
    """Arguments on one line: ``path=notes.md, limit=3``, long values cut with ``…``."""
    if isinstance(args, dict):
        return ", ".join(f"{key}={_short_value(value, value_width)}" for key, value in args.items())
    return _short_value(args, value_width) if args not in (None, [], "") else ""


def _short_value(value: Any, width: int) -> str:
    if isinstance(value, str):
        text = value
    elif isinstance(value, list):
        text = f"[{len(value)} items]" if len(value) != 1 else "[1 item]"
    else:
        text = orjson.dumps(value).decode()
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def parts_text(parts: list[Any]) -> str:
    texts = []
    for part in parts:
        text = getattr(part, "text", None)
        if text is not None:
            texts.append(text)
        else:
            texts.append(f"[{getattr(part, 'type', 'part')}]")
    return "\n".join(texts)


def _part_text(part: Any) -> str | None:
    if isinstance(part, dict):
        return part.get("text") if part.get("type") == "textPart" else None
    return getattr(part, "text", None)


def result_failed(parts: list[Any], is_error: bool | None) -> bool:
    """Whether a tool result is a failure: it says so (``isError``: a tool or MCP server
    that failed, or a server that returned an error), or it is the base skill's
    ``{"error": "<name>", "message": …}`` result.

    The text is never guessed from (a result that happens to start with "Error" is a
    result). ``parts`` are parts or their JSON.
    """
    if is_error:
        return True
    if len(parts) != 1:
        return False
    text = _part_text(parts[0])
    if not isinstance(text, str) or not text.startswith("{"):
        return False
    try:
        data = orjson.loads(text)
    except orjson.JSONDecodeError:
        return False
    return isinstance(data, dict) and isinstance(data.get("error"), str) and "message" in data


def reason_text(reason: str) -> str:
    try:
        data = orjson.loads(reason)
    except orjson.JSONDecodeError:
        return reason
    if isinstance(data, dict) and "error" in data:
        return f"{data.get('error')}: {data.get('message', '')}".strip()
    return reason
