"""The Anthropic event stream folded into a :class:`GenerationResult`.

Both transports of the provider (the SDK's and the cold-start one) read the streamed
response with :func:`read_events` and feed the decoded JSON events through
:class:`Accumulator`, so their results cannot differ.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from runtime.model import ThinkingPart, Usage
from runtime.providers._common import parse_tool_arguments, status_error
from runtime.providers._sse import aiter_sse
from runtime.providers.anthropic_mapping import finish_reason
from runtime.providers.base import (
    GeneratedToolCall,
    GenerationResult,
    ProviderError,
    StreamSink,
)

__all__ = ["Accumulator", "error_from_event", "read_events"]

#: The HTTP status an error *event* inside a 200 stream stands for, by its ``error.type``.
_ERROR_TYPE_STATUS = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "timeout_error": 504,
    "overloaded_error": 529,
}


async def read_events(response: Any) -> AsyncIterator[dict[str, Any]]:
    """The events of a streamed Messages API response (an ``httpx2.Response`` whose status
    was checked), as decoded JSON objects; ``ping`` events are skipped.

    Raises:
        ProviderError: an ``error`` event, as :func:`error_from_event` maps it.
    """
    async for name, data in aiter_sse(response.aiter_bytes()):
        if name == b"error":
            try:
                body = orjson.loads(data)
            except orjson.JSONDecodeError:
                body = {"error": {"type": "api_error", "message": data.decode(errors="replace")}}
            raise error_from_event(body)
        if data and name != b"ping":
            yield orjson.loads(data)


def error_from_event(body: object) -> ProviderError:
    """An ``error`` event inside a 200 stream, with the status its type stands for."""
    error = body.get("error") if isinstance(body, Mapping) else None
    error = error if isinstance(error, Mapping) else {}
    error_type = str(error.get("type") or "api_error")
    message = str(error.get("message") or error_type)
    name = "".join(word.capitalize() for word in error_type.split("_"))
    return status_error(name, message, _ERROR_TYPE_STATUS.get(error_type))


@dataclass(slots=True)
class _Block:
    kind: str
    text: list[str] = field(default_factory=list)
    signature: str | None = None
    data: str | None = None  # redacted thinking
    tool_id: str = ""
    tool_name: str = ""


class Accumulator:
    """Builds a :class:`GenerationResult` from the stream's events (decoded JSON objects),
    pushing deltas on as they arrive."""

    def __init__(self, sink: StreamSink) -> None:
        self._sink = sink
        self._blocks: dict[int, _Block] = {}
        self._stop_reason: str | None = None
        self._input_tokens = 0
        self._cached_tokens = 0
        self._output_tokens = 0
        self._stopped = False

    def feed(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        if kind == "content_block_delta":
            self._delta(self._blocks.get(event["index"]), event["delta"])
        elif kind == "content_block_start":
            self._start(event["index"], event["content_block"])
        elif kind == "message_start":
            self._usage(event["message"].get("usage"))
        elif kind == "message_delta":
            self._stop_reason = event["delta"].get("stop_reason") or self._stop_reason
            self._usage(event.get("usage"))
        elif kind == "message_stop":
            self._stopped = True

    def _start(self, index: int, block: dict[str, Any]) -> None:
        kind = block.get("type", "")
        entry = _Block(kind)
        if kind == "text" and block.get("text"):
            entry.text.append(block["text"])
            self._sink.text_delta(block["text"])
        elif kind == "thinking":
            if block.get("thinking"):
                entry.text.append(block["thinking"])
                self._sink.reasoning_delta(block["thinking"])
            entry.signature = block.get("signature") or None
        elif kind == "redacted_thinking":
            entry.data = block.get("data")
        elif kind == "tool_use":
            entry.tool_id, entry.tool_name = block["id"], block["name"]
        self._blocks[index] = entry

    def _delta(self, entry: _Block | None, delta: dict[str, Any]) -> None:
        if entry is None:
            return
        kind = delta.get("type")
        if kind == "text_delta":
            entry.text.append(delta["text"])
            self._sink.text_delta(delta["text"])
        elif kind == "input_json_delta":
            entry.text.append(delta["partial_json"])
        elif kind == "thinking_delta":
            entry.text.append(delta["thinking"])
            self._sink.reasoning_delta(delta["thinking"])
        elif kind == "signature_delta":
            entry.signature = (entry.signature or "") + delta["signature"]

    def _usage(self, usage: dict[str, Any] | None) -> None:
        if not usage:
            return
        # message_delta carries cumulative counts; input counts may be absent there.
        if usage.get("input_tokens") is not None:
            self._input_tokens = usage["input_tokens"]
        if usage.get("cache_read_input_tokens") is not None:
            self._cached_tokens = usage["cache_read_input_tokens"]
        if usage.get("output_tokens") is not None:
            self._output_tokens = usage["output_tokens"]

    def result(self) -> GenerationResult:
        if not self._stopped:
            raise ProviderError(
                "APIConnectionError",
                "The stream ended before message_stop",
                is_retryable=True,
            )
        result = GenerationResult(finish_reason=finish_reason(self._stop_reason))
        text: list[str] = []
        for _, entry in sorted(self._blocks.items()):
            if entry.kind == "text":
                text.extend(entry.text)
            elif entry.kind == "thinking":
                thinking = "".join(entry.text)
                result.thinking.append(ThinkingPart(thinking=thinking, signature=entry.signature))
            elif entry.kind == "redacted_thinking" and entry.data:
                result.thinking.append(ThinkingPart(thinking="", **{"redactedData": entry.data}))
            elif entry.kind == "tool_use":
                args = parse_tool_arguments("".join(entry.text), entry.tool_name)
                result.tool_calls.append(GeneratedToolCall(entry.tool_id, entry.tool_name, args))
        result.text = "".join(text)
        result.usage = Usage(
            input_tokens=self._input_tokens,
            output_tokens=self._output_tokens,
            total_tokens=self._input_tokens + self._output_tokens,
            cached_input_tokens=self._cached_tokens,
        )
        return result
