"""Our messages and tools as an Anthropic Messages API body (spec §11.2, §11.3, §11.5).

Nothing here imports the SDK. Each message is mapped and encoded once, when it is first
sent (see :mod:`runtime.providers._wire`), so a step's cost does not grow with the history.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable
from typing import Any

import orjson

from runtime.model import (
    ExpertMessage,
    FileBinaryPart,
    FileInlinePart,
    FileUrlPart,
    ImageBinaryPart,
    ImageInlinePart,
    ImageUrlPart,
    InstructionMessage,
    TextPart,
    ThinkingPart,
    ToolCallPart,
    ToolMessage,
    ToolResultPart,
    UserMessage,
)
from runtime.providers._wire import HistoryEncoder, ToolEncoder, fragment
from runtime.providers.base import FinishReason, GenerationRequest, ToolDefinition

__all__ = [
    "THINKING_BUDGETS",
    "thinking_budget",
    "max_tokens_for",
    "new_encoder",
    "encode_body",
    "finish_reason",
]

#: §11.3: reasoning levels as thinking ``budget_tokens``.
THINKING_BUDGETS = {"minimal": 1024, "low": 2048, "medium": 5000, "high": 10000}

#: Output-token ceilings by model-name fragment, first match wins. Models not listed get
#: :data:`_DEFAULT_OUTPUT_LIMIT` (every current Claude model allows at least that).
_OUTPUT_LIMITS = (
    ("claude-3-haiku", 4096),
    ("claude-3-opus", 4096),
    ("claude-3-sonnet", 4096),
    ("claude-3-5", 8192),
    ("claude-opus-4-0", 32000),
    ("claude-opus-4-1", 32000),
    ("claude-opus-4-2025", 32000),
    ("claude-4-opus", 32000),
)
_DEFAULT_OUTPUT_LIMIT = 32000
#: Room left for the answer itself when a thinking budget is close to the model's ceiling.
_ANSWER_ROOM = 4096
#: The API accepts at most four cache breakpoints per request.
_MAX_CACHE_BREAKPOINTS = 4

_EPHEMERAL = {"type": "ephemeral"}


def thinking_budget(budget: str | int) -> int | None:
    """``budget_tokens`` for a ``reasoningBudget``, or ``None`` when thinking is off."""
    if isinstance(budget, str):
        if budget.isdigit():
            budget = int(budget)
        elif budget in THINKING_BUDGETS:
            return THINKING_BUDGETS[budget]
        else:  # "none", or a level we do not know: no thinking
            return None
    return budget if budget > 0 else None


def max_tokens_for(model: str, budget: int | None) -> int:
    """``max_tokens``: the model's output ceiling, always above the thinking budget."""
    limit = next((n for fragment, n in _OUTPUT_LIMITS if fragment in model), None)
    limit = limit or _DEFAULT_OUTPUT_LIMIT
    if budget is not None and budget + _ANSWER_ROOM > limit:
        return budget + _ANSWER_ROOM
    return limit


def _max_tokens(request: GenerationRequest, budget: int | None) -> int:
    ceiling = max_tokens_for(request.model, budget)
    if request.max_tokens is None or budget is not None:
        return ceiling
    return max(1, min(ceiling, request.max_tokens))


def finish_reason(stop_reason: str | None) -> FinishReason:
    """An Anthropic ``stop_reason`` as our finish reason."""
    if stop_reason in ("end_turn", "stop_sequence", "pause_turn"):
        return "stop"
    if stop_reason == "tool_use":
        return "tool-calls"
    if stop_reason in ("max_tokens", "model_context_window_exceeded"):
        return "length"
    if stop_reason == "refusal":
        return "content-filter"
    return "other"


class _History:
    """A history in wire form: system blocks, then alternating user/assistant turns."""

    __slots__ = ("system", "turns", "breakpoints")

    def __init__(self) -> None:
        self.system: list[orjson.Fragment] = []
        self.turns: list[dict[str, Any]] = []
        self.breakpoints = 0


def new_encoder() -> HistoryEncoder[_History]:
    """A per-provider encoder that keeps each run's history in wire form between steps."""
    return HistoryEncoder(_History, _add_message)


def encode_body(request: GenerationRequest, encoder: HistoryEncoder[_History]) -> bytes:
    """The JSON body of one streamed ``/v1/messages`` request."""
    history = encoder.state_for(request.messages)
    budget = thinking_budget(request.reasoning_budget)
    body: dict[str, Any] = {
        "model": request.model,
        "max_tokens": _max_tokens(request, budget),
        "messages": history.turns,
        "stream": True,
    }
    if history.system:
        body["system"] = history.system
    if request.tools:
        body["tools"] = _TOOLS.encoded(request.tools)
        body["tool_choice"] = {"type": "auto"}
    if budget is not None:
        body["thinking"] = {"type": "enabled", "budget_tokens": budget}
    return orjson.dumps(body)


def _add_message(history: _History, message: Any) -> None:
    if isinstance(message, InstructionMessage):
        role = "system"
        blocks = [{"type": "text", "text": p.text} for p in message.contents if p.text]
    else:
        role, blocks = _turn(message)
    if not blocks:
        return
    if message.cache and history.breakpoints < _MAX_CACHE_BREAKPOINTS:
        blocks[-1]["cache_control"] = _EPHEMERAL
        history.breakpoints += 1
    encoded = [fragment(b) for b in blocks]
    if role == "system":
        history.system.extend(encoded)
    elif history.turns and history.turns[-1]["role"] == role:
        history.turns[-1]["content"].extend(encoded)  # the API wants alternating roles
    else:
        history.turns.append({"role": role, "content": encoded})


def _tool(tool: ToolDefinition) -> dict[str, Any]:
    schema = tool.input_schema or {"type": "object", "properties": {}}
    out: dict[str, Any] = {"name": tool.name, "input_schema": schema}
    if tool.description:
        out["description"] = tool.description
    return out


_TOOLS = ToolEncoder(_tool)


def _turn(message: Any) -> tuple[str, list[dict[str, Any]]]:
    if isinstance(message, UserMessage):
        return "user", [_media_or_text(p) for p in message.contents if _not_empty(p)]
    if isinstance(message, ExpertMessage):
        return "assistant", _assistant_blocks(message.contents)
    if isinstance(message, ToolMessage):
        return "user", [_tool_result(p) for p in message.contents]
    raise TypeError(f"Unexpected message type {type(message).__name__}")


def _not_empty(part: Any) -> bool:
    return not isinstance(part, TextPart) or bool(part.text)


def _assistant_blocks(parts: Iterable[Any]) -> list[dict[str, Any]]:
    # Thinking first, then text, then tool use: the order the API requires when thinking
    # blocks are sent back in a tool-use turn.
    thinking: list[dict[str, Any]] = []
    text: list[dict[str, Any]] = []
    calls: list[dict[str, Any]] = []
    for part in parts:
        if isinstance(part, ThinkingPart):
            block = _thinking(part)
            if block is not None:
                thinking.append(block)
        elif isinstance(part, TextPart):
            if part.text:
                text.append({"type": "text", "text": part.text})
        elif isinstance(part, ToolCallPart):
            args = part.args if isinstance(part.args, dict) else {}
            calls.append(
                {"type": "tool_use", "id": part.tool_call_id, "name": part.tool_name, "input": args}
            )
    return thinking + text + calls


def _thinking(part: ThinkingPart) -> dict[str, Any] | None:
    redacted = (part.model_extra or {}).get("redactedData")
    if redacted:
        return {"type": "redacted_thinking", "data": redacted}
    if not part.signature:
        # Thinking without a signature (another provider's reasoning) cannot be verified
        # by the API, which rejects it; the text of the turn still goes back.
        return None
    return {"type": "thinking", "thinking": part.thinking, "signature": part.signature}


def _tool_result(part: ToolResultPart) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "tool_result", "tool_use_id": part.tool_call_id}
    contents = [c for c in part.contents if _not_empty(c)]
    if len(contents) == 1 and isinstance(contents[0], TextPart):
        block["content"] = contents[0].text
    elif contents:
        block["content"] = [_media_or_text(c) for c in contents]
    if part.is_error:
        block["is_error"] = True
    return block


def _media_or_text(part: Any) -> dict[str, Any]:
    if isinstance(part, TextPart):
        return {"type": "text", "text": part.text}
    if isinstance(part, ImageInlinePart):
        return _image_base64(part.mime_type, part.encoded_data)
    if isinstance(part, ImageBinaryPart):
        return _image_base64(part.mime_type, part.data)
    if isinstance(part, ImageUrlPart):
        data = _data_url_payload(part.url)
        if data is not None:
            return _image_base64(part.mime_type, data)
        return {"type": "image", "source": {"type": "url", "url": part.url}}
    if isinstance(part, FileInlinePart):
        return _document(part.mime_type, part.encoded_data)
    if isinstance(part, FileBinaryPart):
        return _document(part.mime_type, part.data)
    if isinstance(part, FileUrlPart):
        data = _data_url_payload(part.url)
        if data is not None:
            return _document(part.mime_type, data)
        if part.mime_type == "application/pdf":
            return {"type": "document", "source": {"type": "url", "url": part.url}}
        return {"type": "text", "text": f"[file {part.url} ({part.mime_type}) not supported]"}
    raise TypeError(f"Unexpected part type {type(part).__name__}")


def _image_base64(mime_type: str, data: str) -> dict[str, Any]:
    return {"type": "image", "source": {"type": "base64", "media_type": mime_type, "data": data}}


def _document(mime_type: str, data: str) -> dict[str, Any]:
    if mime_type == "application/pdf":
        source = {"type": "base64", "media_type": mime_type, "data": data}
        return {"type": "document", "source": source}
    if mime_type.startswith("text/"):
        text = base64.b64decode(data).decode("utf-8", errors="replace")
        source = {"type": "text", "media_type": "text/plain", "data": text}
        return {"type": "document", "source": source}
    return {"type": "text", "text": f"[file of type {mime_type} not supported]"}


def _data_url_payload(url: str) -> str | None:
    if url.startswith("data:") and ";base64," in url:
        return url.split(";base64,", 1)[1]
    return None
