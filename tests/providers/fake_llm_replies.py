"""The scripted answers of the fake LLM server, as the real services put them on the wire.

Each reply knows how to render itself for its protocol: Anthropic Messages SSE events (or one
JSON ``Message``) and OpenAI ``chat.completion.chunk`` objects (or one ``chat.completion``).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "ToolCallSpec",
    "AnthropicReply",
    "OpenAIReply",
    "ErrorReply",
    "StreamErrorReply",
    "StallReply",
    "Reply",
]


@dataclass
class ToolCallSpec:
    """A tool call the fake model makes; ``arguments`` is sent verbatim (JSON text)."""

    id: str
    name: str
    arguments: str


@dataclass
class AnthropicReply:
    """A successful Messages API answer.

    ``thinking`` holds ``(text, signature)`` pairs; ``redacted`` holds redacted-thinking
    payloads. Deltas are split into ``chunk``-character pieces to exercise accumulation.
    """

    text: str = ""
    thinking: list[tuple[str, str]] = field(default_factory=list)
    redacted: list[str] = field(default_factory=list)
    tool_calls: list[ToolCallSpec] = field(default_factory=list)
    stop_reason: str | None = None  # default: tool_use with tool calls, else end_turn
    input_tokens: int = 10
    output_tokens: int = 5
    cache_read_input_tokens: int = 0
    chunk: int = 4

    def events(self, model: str) -> Iterator[tuple[str, dict[str, Any]]]:
        """The SSE events, in the order the real API sends them."""
        yield "message_start", {
            "type": "message_start",
            "message": {
                "id": "msg_fake",
                "type": "message",
                "role": "assistant",
                "model": model,
                "content": [],
                "stop_reason": None,
                "stop_sequence": None,
                "usage": {
                    "input_tokens": self.input_tokens,
                    "output_tokens": 1,
                    "cache_creation_input_tokens": 0,
                    "cache_read_input_tokens": self.cache_read_input_tokens,
                },
            },
        }
        yield "ping", {"type": "ping"}
        index = 0
        for thought, signature in self.thinking:
            yield _block_start(index, {"type": "thinking", "thinking": "", "signature": ""})
            for piece in pieces(thought, self.chunk):
                yield _block_delta(index, {"type": "thinking_delta", "thinking": piece})
            yield _block_delta(index, {"type": "signature_delta", "signature": signature})
            yield _block_stop(index)
            index += 1
        for data in self.redacted:
            yield _block_start(index, {"type": "redacted_thinking", "data": data})
            yield _block_stop(index)
            index += 1
        if self.text:
            yield _block_start(index, {"type": "text", "text": ""})
            for piece in pieces(self.text, self.chunk):
                yield _block_delta(index, {"type": "text_delta", "text": piece})
            yield _block_stop(index)
            index += 1
        for call in self.tool_calls:
            start = {"type": "tool_use", "id": call.id, "name": call.name, "input": {}}
            yield _block_start(index, start)
            for piece in pieces(call.arguments, self.chunk):
                yield _block_delta(index, {"type": "input_json_delta", "partial_json": piece})
            yield _block_stop(index)
            index += 1
        yield "message_delta", {
            "type": "message_delta",
            "delta": {"stop_reason": self._stop_reason(), "stop_sequence": None},
            "usage": {"output_tokens": self.output_tokens},
        }
        yield "message_stop", {"type": "message_stop"}

    def message(self, model: str) -> dict[str, Any]:
        """The same answer as one non-streamed JSON ``Message``."""
        content: list[dict[str, Any]] = [
            {"type": "thinking", "thinking": t, "signature": s} for t, s in self.thinking
        ]
        content += [{"type": "redacted_thinking", "data": d} for d in self.redacted]
        if self.text:
            content.append({"type": "text", "text": self.text})
        content += [
            {"type": "tool_use", "id": c.id, "name": c.name, "input": json.loads(c.arguments)}
            for c in self.tool_calls
        ]
        return {
            "id": "msg_fake",
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": content,
            "stop_reason": self._stop_reason(),
            "stop_sequence": None,
            "usage": {
                "input_tokens": self.input_tokens,
                "output_tokens": self.output_tokens,
                "cache_read_input_tokens": self.cache_read_input_tokens,
            },
        }

    def _stop_reason(self) -> str:
        return self.stop_reason or ("tool_use" if self.tool_calls else "end_turn")


@dataclass
class OpenAIReply:
    """A successful Chat Completions answer; ``reasoning`` streams as ``reasoning_content``."""

    text: str = ""
    reasoning: str = ""
    tool_calls: list[ToolCallSpec] = field(default_factory=list)
    finish_reason: str | None = None  # default: tool_calls with tool calls, else stop
    prompt_tokens: int = 10
    completion_tokens: int = 5
    cached_tokens: int = 0
    reasoning_tokens: int = 0
    chunk: int = 4

    def chunks(self, model: str, include_usage: bool) -> Iterator[dict[str, Any]]:
        """The ``chat.completion.chunk`` objects, in the order the real API sends them."""
        yield self._chunk(model, {"role": "assistant", "content": ""})
        for piece in pieces(self.reasoning, self.chunk):
            yield self._chunk(model, {"reasoning_content": piece})
        for piece in pieces(self.text, self.chunk):
            yield self._chunk(model, {"content": piece})
        for index, call in enumerate(self.tool_calls):
            head = {
                "index": index,
                "id": call.id,
                "type": "function",
                "function": {"name": call.name, "arguments": ""},
            }
            yield self._chunk(model, {"tool_calls": [head]})
            for piece in pieces(call.arguments, self.chunk):
                yield self._chunk(
                    model, {"tool_calls": [{"index": index, "function": {"arguments": piece}}]}
                )
        yield self._chunk(model, {}, finish_reason=self._finish_reason())
        if include_usage:
            yield {**self._chunk(model, {}), "choices": [], "usage": self._usage()}

    def completion(self, model: str) -> dict[str, Any]:
        """The same answer as one non-streamed ``chat.completion``."""
        message: dict[str, Any] = {"role": "assistant", "content": self.text or None}
        if self.tool_calls:
            message["tool_calls"] = [
                {
                    "id": c.id,
                    "type": "function",
                    "function": {"name": c.name, "arguments": c.arguments},
                }
                for c in self.tool_calls
            ]
        return {
            "id": "chatcmpl-fake",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "choices": [{"index": 0, "message": message, "finish_reason": self._finish_reason()}],
            "usage": self._usage(),
        }

    def _chunk(
        self, model: str, delta: dict[str, Any], finish_reason: str | None = None
    ) -> dict[str, Any]:
        return {
            "id": "chatcmpl-fake",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
        }

    def _finish_reason(self) -> str:
        return self.finish_reason or ("tool_calls" if self.tool_calls else "stop")

    def _usage(self) -> dict[str, Any]:
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.prompt_tokens + self.completion_tokens,
            "prompt_tokens_details": {"cached_tokens": self.cached_tokens},
            "completion_tokens_details": {"reasoning_tokens": self.reasoning_tokens},
        }


_ANTHROPIC_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    504: "timeout_error",
    529: "overloaded_error",
}


@dataclass
class ErrorReply:
    """An HTTP error with the protocol's error body (or ``body`` when given)."""

    status: int
    message: str = "scripted failure"
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None

    def payload(self, protocol: str) -> Any:
        if self.body is not None:
            return self.body
        if protocol == "anthropic":
            error_type = _ANTHROPIC_ERROR_TYPES.get(self.status, "api_error")
            return {"type": "error", "error": {"type": error_type, "message": self.message}}
        error = {"message": self.message, "type": "server_error", "param": None, "code": None}
        return {"error": error}


@dataclass
class StreamErrorReply:
    """A 200 stream that starts normally and then carries an error (an Anthropic ``error``
    event, or an OpenAI chunk holding an ``error`` object)."""

    error_type: str = "overloaded_error"
    message: str = "Overloaded"


@dataclass
class StallReply:
    """A 200 stream that sends the first ``events`` events of ``reply`` and then hangs."""

    reply: AnthropicReply | OpenAIReply
    events: int = 2
    released: threading.Event = field(default_factory=threading.Event)


Reply = AnthropicReply | OpenAIReply | ErrorReply | StreamErrorReply | StallReply


def pieces(text: str, size: int) -> Iterator[str]:
    for start in range(0, len(text), max(1, size)):
        yield text[start : start + size]


def _block_start(index: int, block: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    event = {"type": "content_block_start", "index": index, "content_block": block}
    return "content_block_start", event


def _block_delta(index: int, delta: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    return "content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta}


def _block_stop(index: int) -> tuple[str, dict[str, Any]]:
    return "content_block_stop", {"type": "content_block_stop", "index": index}
