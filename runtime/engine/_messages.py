"""The messages and reasons the loop writes itself (spec §5.1's retry outcomes)."""

from __future__ import annotations

import json

from runtime.model import ExpertMessage, Message, TextPart, ToolCallPart, ToolResult, UserMessage

NO_OUTPUT_REASON = (
    '{"error":"Error: No tool call or text generated",'
    '"message":"You must generate a tool call or provide a response. Try again."}'
)
LENGTH_REASON = (
    '{"error":"Error: Tool call generation failed",'
    '"message":"Generation length exceeded. Try again."}'
)


def in_call_order(results: list[ToolResult], messages: list[Message]) -> list[ToolResult]:
    """Results ordered as the model made the calls (answers arrive in any order)."""
    last = next((m for m in reversed(messages) if isinstance(m, ExpertMessage)), None)
    if last is None:
        return results
    order = {p.tool_call_id: i for i, p in enumerate(last.contents) if isinstance(p, ToolCallPart)}
    return sorted(results, key=lambda r: order.get(r.id, len(order)))


def user_message(text: str) -> UserMessage:
    return UserMessage(contents=[TextPart(text=text)])


def json_reason(name: str, message: str) -> str:
    # Compact, as upstream's JSON.stringify writes it.
    return json.dumps(
        {"error": name, "message": message}, ensure_ascii=False, separators=(",", ":")
    )
