"""``perstack log``'s lines for what MCP servers sent during tool calls (skill activity).

One or two indented lines under each event's header, like the other events' details::

    [Step 1] skillLog                06:12:01
      [warning] box/db: the disk is almost full
    [Step 1] skillProgress           06:12:02
      box work: 2/3 step 2 of 3
    [Step 1] skillSampling           06:12:02
      box asked the model (scripted, 25 tokens): "Blue"
    [Step 2] skillElicitation        06:12:03
      box asks: Who are you? (form: name*, age*)
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson

from runtime.views.skill_rows import Progress, progress_text

__all__ = ["skill_event_lines"]

Line = list[tuple[str, str]]
_LEVEL_STYLES = {"debug": "dim", "info": "", "notice": "", "warning": "yellow"}


def _preview(text: str, limit: int) -> str:
    return f"{text[:limit]}..." if len(text) > limit else text


def _json(value: Any) -> str:
    return value if isinstance(value, str) else orjson.dumps(value).decode()


def _fields(schema: Any) -> str:
    if not isinstance(schema, dict):
        return ""
    required = set(schema.get("required") or [])
    names = [f"{name}*" if name in required else name for name in schema.get("properties") or {}]
    return ", ".join(names)


def skill_event_lines(event: dict[str, Any], verbose: bool) -> Iterator[Line]:
    """The detail lines of a skill-activity event (nothing for any other event)."""
    kind = event.get("type")
    skill = event.get("skillName", "?")
    if kind == "skillLog":
        level = str(event.get("level"))
        source = f"{skill}/{event['logger']}" if event.get("logger") else str(skill)
        data = _json(event.get("data"))
        text = data if verbose else _preview(data, 100)
        yield [(f"  [{level}] {source}: {text}", _LEVEL_STYLES.get(level, "red"))]
    elif kind == "skillProgress":
        progress = Progress(event.get("progress", 0), event.get("total"), event.get("message"))
        yield [(f"  {skill} {event.get('toolName')}: {progress_text(progress)}", "")]
    elif kind == "skillSampling":
        usage = event.get("usage") or {}
        how = f"{event.get('model')}, {usage.get('totalTokens', 0)} tokens"
        if event.get("error"):
            yield [(f"  {skill} asked the model ({how}): failed: {event['error']}", "red")]
        else:
            answer = _preview(str(event.get("text") or ""), 60)
            yield [(f'  {skill} asked the model ({how}): "{answer}"', "")]
        if verbose:
            yield [(f"    Request: {_json(event.get('request'))}", "dim")]
    elif kind == "skillElicitation":
        if event.get("mode") == "url":
            what = f"open {event.get('url')}"
        else:
            what = f"form: {_fields(event.get('requestedSchema'))}"
        yield [(f"  {skill} asks: {event.get('message')} ({what})", "yellow")]
    elif kind == "skillElicitationAnswer":
        content = event.get("content")
        suffix = f" {_json(content)}" if content is not None else ""
        yield [(f"  Answer to {skill}: {event.get('action')}{suffix}", "")]
