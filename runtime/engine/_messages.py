"""The messages and reasons the loop writes itself (spec §5.1's retry outcomes)."""

from __future__ import annotations

import json
from typing import Any

from runtime.errors import PerstackError
from runtime.model import (
    Checkpoint,
    ExpertMessage,
    InteractiveToolCallResult,
    Message,
    TextPart,
    ToolCallPart,
    ToolResult,
    UserMessage,
)

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


def delegate_answer(
    child: Checkpoint, tool_call_id: str, tool_name: str
) -> InteractiveToolCallResult:
    """What a finished child tells its parent: its final text, or why it failed (D3)."""
    skill_name = f"delegate/{child.expert.key}"
    if child.status == "stoppedByError":
        reason = child.error.message if child.error else "the delegate stopped with an error"
        return InteractiveToolCallResult(
            tool_call_id=tool_call_id,
            tool_name=tool_name,
            skill_name=skill_name,
            text=f"Delegation failed: {reason}",
            is_error=True,
        )
    last = child.messages[-1] if child.messages else None
    if not isinstance(last, ExpertMessage):
        raise PerstackError("Delegation error: delegation result message is incorrect")
    text = next((p.text for p in last.contents if isinstance(p, TextPart)), "")
    return InteractiveToolCallResult(
        tool_call_id=tool_call_id, tool_name=tool_name, skill_name=skill_name, text=text
    )


def interactive_payload(answer: InteractiveToolCallResult | None) -> dict[str, Any] | None:
    """``initializeRuntime``'s ``interactiveToolCall``: the answer a run resumes with."""
    if answer is None:
        return None
    return {"toolName": answer.tool_name, "toolCallId": answer.tool_call_id, "text": answer.text}
