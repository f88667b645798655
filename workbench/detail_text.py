"""The text of the detail view, from a row and the stored JSON of its events (no Textual)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson

if TYPE_CHECKING:
    from runtime.views.activity import ActivityRow

__all__ = ["row_title", "call_text", "generation_line", "messages_text", "events_text", "server_text"]

_ROLE = {
    "instructionMessage": "instruction (system)",
    "userMessage": "user",
    "expertMessage": "expert (model)",
    "toolMessage": "tool results",
}


def pretty_json(value: Any) -> str:
    """Indented JSON, keys in their order."""
    return orjson.dumps(value, option=orjson.OPT_INDENT_2).decode()


def row_title(row: ActivityRow) -> str:
    """``Step 3 · researcher · tool readTextFile``."""
    what = row.tool_name or row.kind
    kind = row.kind if row.tool_name else ""
    return " · ".join(part for part in (f"Step {row.step}", row.actor, f"{kind} {what}".strip()) if part)


def generation_line(row: ActivityRow) -> str | None:
    """``generation: 1,234 tokens · cost $0.0042 (how priced)`` for rows that start one.

    An unknown cost reads ``—`` with the reason (no price for the model, …).
    """
    if not row.tokens:
        return None
    cost = "not priced" if row.cost is None else row.cost.describe()
    return f"generation: {row.tokens:,} tokens · cost {cost}"


def call_text(row: ActivityRow) -> str:
    """What the row did, in full, after its generation's tokens and cost (when it has one)."""
    text = _call_text(row)
    line = generation_line(row)
    return text if line is None else f"{line}\n\n{text}"


def _call_text(row: ActivityRow) -> str:
    if row.tool_name is not None:
        lines = [
            f"tool: {row.tool_name}    skill: {row.skill_name}    call id: {row.tool_call_id}",
            f"status: {row.status}",
            "",
            "arguments:",
            pretty_json(row.args if row.args is not None else {}),
            "",
            "result:" if row.kind != "delegate" else "answer:",
            _maybe_json(row.result) if row.result is not None else "(no result yet)",
        ]
        return "\n".join(lines + server_text(row))
    if row.kind in ("reasoning", "completion"):
        return row.text or "(nothing streamed yet)"
    return row.label


def _maybe_json(text: str) -> str:
    stripped = text.strip()
    if stripped.startswith(("{", "[")):
        try:
            return pretty_json(orjson.loads(stripped))
        except orjson.JSONDecodeError:
            return text
    return text


def messages_text(messages: list[dict[str, Any]]) -> str:
    """The messages of a ``startGeneration`` event, as a readable transcript."""
    blocks = []
    for message in messages:
        role = _ROLE.get(message.get("type", ""), message.get("type", "?"))
        lines = [f"── {role} " + "─" * max(0, 40 - len(role))]
        for part in message.get("contents", []):
            lines.append(_part_text(part))
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) if blocks else "(no messages)"


def _part_text(part: dict[str, Any]) -> str:
    kind = part.get("type")
    if kind == "textPart":
        return part.get("text", "")
    if kind == "thinkingPart":
        return f"[thinking] {part.get('thinking', '')}"
    if kind == "toolCallPart":
        args = orjson.dumps(part.get("args", {})).decode()
        return f"→ {part.get('toolName')} {args}"
    if kind == "toolResultPart":
        contents = "\n".join(_part_text(item) for item in part.get("contents", []))
        flag = " (error)" if part.get("isError") else ""
        return f"← {part.get('toolName')}{flag}: {contents}"
    return f"[{kind}]"


def events_text(events: list[dict[str, Any]]) -> str:
    """The events' JSON, indented, one after the other."""
    return "\n\n".join(pretty_json(event) for event in events) or "(no events)"


def _result_of(row: ActivityRow) -> Any:
    for event in reversed(row.events):
        if event.type == "resolveToolResults":
            for result in event.tool_results:  # type: ignore[attr-defined]
                if result.id == row.tool_call_id:
                    return result
    return None


def _part_line(part: Any) -> str:
    data = part.to_json_dict()
    extra = data.get("annotations")
    note = f"  annotations {orjson.dumps(extra).decode()}" if extra else ""
    if "resourceLink" in data:
        link = data["resourceLink"]
        return f"- resource link {link.get('uri')} ({link.get('mimeType', '?')}){note}"
    if "resource" in data:
        resource = data["resource"]
        return f"- resource {resource.get('uri')} ({resource.get('mimeType', '?')}){note}"
    if data.get("type") == "textPart":
        return f"- text, {len(data.get('text', ''))} characters{note}"
    size = len(data.get("encodedData", "")) * 3 // 4
    kind = "image" if data.get("type") == "imageInlinePart" else "file"
    return f"- {kind} {data.get('mimeType')}, {size} bytes{note}"


def server_text(row: ActivityRow) -> list[str]:
    """What the MCP server sent besides the text: the parts with their annotations and
    resources, structured content, progress, log messages, completions and questions."""
    lines: list[str] = []
    result = _result_of(row)
    if result is not None and (len(result.result) > 1 or result.model_extra):
        lines += ["", "content:", *(_part_line(part) for part in result.result)]
        structured = (result.model_extra or {}).get("structuredContent")
        if structured is not None:
            lines += ["", "structured content:", pretty_json(structured)]
    if row.progress is not None:
        from runtime.views.skill_rows import progress_text

        lines += ["", f"progress: {progress_text(row.progress)}"]
    activity = [_activity_line(event) for event in row.events if event.type.startswith("skill")]
    if activity:
        lines += ["", "from the server:", *activity]
    return lines


def _activity_line(event: Any) -> str:
    from runtime.views.skill_lines import skill_event_lines

    lines = skill_event_lines(event.to_json_dict(), True)
    return "\n".join("".join(piece for piece, _ in line).strip() for line in lines)
