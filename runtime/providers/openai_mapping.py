"""Our messages and tools as an OpenAI Chat Completions body (spec §11.2, §11.3, §11.5).

Shared by ``openai``, ``azure-openai``, ``deepseek`` and ``ollama``; no SDK import. Each
message is mapped and encoded once, when it is first sent (see :mod:`runtime.providers._wire`).
"""

from __future__ import annotations

import base64
import re
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
    ToolCallPart,
    ToolMessage,
    ToolResultPart,
    UserMessage,
)
from runtime.providers._wire import HistoryEncoder, ToolEncoder, fragment
from runtime.providers.base import FinishReason, GenerationRequest, ToolDefinition

__all__ = [
    "is_reasoning_model",
    "reasoning_effort",
    "WireEncoders",
    "encode_body",
    "build_messages",
    "finish_reason",
]

_O_SERIES = re.compile(r"^o\d")


def is_reasoning_model(model: str) -> bool:
    """o-series and gpt-5 models (not ``gpt-5-chat``), as the AI SDK decides."""
    if _O_SERIES.match(model):
        return True
    return model.startswith("gpt-5") and not model.startswith("gpt-5-chat")


def reasoning_effort(budget: str | int) -> str | None:
    """§11.3: ``minimal`` -> low, levels as-is, token counts by size; none/0 -> ``None``."""
    if isinstance(budget, str):
        if budget.isdigit():
            budget = int(budget)
        elif budget == "minimal":
            return "low"
        elif budget in ("low", "medium", "high"):
            return budget
        else:
            return None
    if budget <= 0:
        return None
    if budget <= 2048:
        return "low"
    return "medium" if budget <= 5000 else "high"


def finish_reason(reason: str | None) -> FinishReason:
    """A Chat Completions ``finish_reason`` as ours."""
    if reason == "stop":
        return "stop"
    if reason in ("tool_calls", "function_call"):
        return "tool-calls"
    if reason == "length":
        return "length"
    if reason == "content_filter":
        return "content-filter"
    return "other"


class WireEncoders:
    """Per-provider encoders that keep each run's history in wire form between steps, one
    per instruction role (``system``, or ``developer`` for reasoning models)."""

    def __init__(self) -> None:
        self._by_role: dict[str, HistoryEncoder[list[orjson.Fragment]]] = {}

    def messages(self, messages: list[Any], system_role: str) -> list[orjson.Fragment]:
        """The encoded ``messages`` array for this history."""
        encoder = self._by_role.get(system_role)
        if encoder is None:

            def add(state: list[orjson.Fragment], message: Any) -> None:
                state.extend(fragment(m) for m in build_messages([message], system_role))

            encoder = self._by_role[system_role] = HistoryEncoder(list, add)
        return encoder.state_for(messages)


def encode_body(request: GenerationRequest, provider_name: str, encoders: WireEncoders) -> bytes:
    """The JSON body of one streamed ``/chat/completions`` request."""
    reasoning = provider_name == "openai" and is_reasoning_model(request.model)
    # Reasoning models take the instruction as a developer message, as the AI SDK sends it.
    system_role = "developer" if reasoning else "system"
    body: dict[str, Any] = {
        "model": request.model,
        "messages": encoders.messages(request.messages, system_role),
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    if request.tools:
        body["tools"] = _TOOLS.encoded(request.tools)
        body["tool_choice"] = "auto"
    if request.max_tokens is not None:
        body["max_completion_tokens"] = request.max_tokens
    effort = reasoning_effort(request.reasoning_budget)
    if effort is not None:
        if reasoning:
            body["reasoning_effort"] = effort
        elif provider_name == "ollama":
            body["think"] = True
    return orjson.dumps(body)


def _tool(tool: ToolDefinition) -> dict[str, Any]:
    function: dict[str, Any] = {
        "name": tool.name,
        "parameters": tool.input_schema or {"type": "object", "properties": {}},
    }
    if tool.description:
        function["description"] = tool.description
    return {"type": "function", "function": function}


_TOOLS = ToolEncoder(_tool)


def build_messages(messages: list[Any], system_role: str = "system") -> list[dict[str, Any]]:
    """The ``messages`` array: thinking is dropped (Chat Completions has no place for it)."""
    out: list[dict[str, Any]] = []
    for message in messages:
        if isinstance(message, InstructionMessage):
            text = "".join(p.text for p in message.contents)
            out.append({"role": system_role, "content": text})
        elif isinstance(message, UserMessage):
            out.append({"role": "user", "content": _user_content(message.contents)})
        elif isinstance(message, ExpertMessage):
            assistant = _assistant(message)
            if assistant is not None:
                out.append(assistant)
        elif isinstance(message, ToolMessage):
            out.extend(_tool_messages(message.contents))
        else:
            raise TypeError(f"Unexpected message type {type(message).__name__}")
    return out


def _user_content(parts: list[Any]) -> str | list[dict[str, Any]]:
    if len(parts) == 1 and isinstance(parts[0], TextPart):
        return parts[0].text
    return [_content_part(p) for p in parts]


def _assistant(message: ExpertMessage) -> dict[str, Any] | None:
    text = "".join(p.text for p in message.contents if isinstance(p, TextPart))
    calls = [
        {
            "id": p.tool_call_id,
            "type": "function",
            "function": {"name": p.tool_name, "arguments": orjson.dumps(p.args).decode()},
        }
        for p in message.contents
        if isinstance(p, ToolCallPart)
    ]
    if not text and not calls:
        return None
    out: dict[str, Any] = {"role": "assistant", "content": text or None}
    if calls:
        out["tool_calls"] = calls
    return out


def _tool_messages(parts: list[ToolResultPart]) -> list[dict[str, Any]]:
    # A tool message carries text only; images and files a tool returned follow in one
    # user message, so vision models still see them.
    out: list[dict[str, Any]] = []
    attachments: list[dict[str, Any]] = []
    for part in parts:
        text = "\n".join(c.text for c in part.contents if isinstance(c, TextPart))
        media = [c for c in part.contents if not isinstance(c, TextPart)]
        if media:
            label = f"Attachments of tool result {part.tool_call_id} ({part.tool_name}):"
            attachments.append({"type": "text", "text": label})
            attachments.extend(_content_part(c) for c in media)
            text = text or "(attached below)"
        out.append({"role": "tool", "tool_call_id": part.tool_call_id, "content": text})
    if attachments:
        out.append({"role": "user", "content": attachments})
    return out


def _content_part(part: Any) -> dict[str, Any]:
    if isinstance(part, TextPart):
        return {"type": "text", "text": part.text}
    if isinstance(part, ImageInlinePart):
        return _image(f"data:{part.mime_type};base64,{part.encoded_data}")
    if isinstance(part, ImageBinaryPart):
        return _image(f"data:{part.mime_type};base64,{part.data}")
    if isinstance(part, ImageUrlPart):
        return _image(part.url)
    if isinstance(part, FileInlinePart):
        return _file(part.mime_type, part.encoded_data)
    if isinstance(part, FileBinaryPart):
        return _file(part.mime_type, part.data)
    if isinstance(part, FileUrlPart):
        return {"type": "text", "text": f"[file {part.url} ({part.mime_type})]"}
    raise TypeError(f"Unexpected part type {type(part).__name__}")


def _image(url: str) -> dict[str, Any]:
    return {"type": "image_url", "image_url": {"url": url}}


def _file(mime_type: str, data: str) -> dict[str, Any]:
    if mime_type == "application/pdf":
        file = {"filename": "document.pdf", "file_data": f"data:{mime_type};base64,{data}"}
        return {"type": "file", "file": file}
    if mime_type.startswith("text/"):
        return {"type": "text", "text": base64.b64decode(data).decode("utf-8", errors="replace")}
    return {"type": "text", "text": f"[file of type {mime_type} not supported]"}
