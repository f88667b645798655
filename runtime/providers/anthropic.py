"""Anthropic through the official ``anthropic`` SDK: the Messages API, always streamed.

The SDK is imported when the first generation needs it (or earlier, in the background,
by :mod:`runtime.providers.prewarm`), never when this module is imported. Its own retries
are off: the loop retries, visibly, as ``retry`` events.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runtime.model import ThinkingPart, Usage
from runtime.providers._common import (
    connection_error,
    is_retryable_message,
    parse_tool_arguments,
    proxy_url,
    require_env,
    resolve_base_url,
    resolve_headers,
    status_error,
)
from runtime.providers.anthropic_mapping import build_params, finish_reason
from runtime.providers._sdk import SdkProvider
from runtime.providers.base import (
    GeneratedToolCall,
    GenerationRequest,
    GenerationResult,
    ProviderError,
    StreamSink,
)

__all__ = ["DEFAULT_BASE_URL", "AnthropicProvider", "create"]

DEFAULT_BASE_URL = "https://api.anthropic.com"

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


def create(
    provider_name: str, setting: dict[str, Any], env: Mapping[str, str], base_dir: Path
) -> AnthropicProvider:
    """Build the Anthropic provider from ``[provider.setting]`` and the environment.

    Raises:
        PerstackError: ``ANTHROPIC_API_KEY is not set``, or a malformed setting.
    """
    del provider_name, base_dir  # one provider name; no paths in its settings
    return AnthropicProvider(
        api_key=require_env(env, "ANTHROPIC_API_KEY"),
        base_url=resolve_base_url(setting, env, "ANTHROPIC_BASE_URL") or DEFAULT_BASE_URL,
        headers=resolve_headers(setting),
        proxy=proxy_url(env),
    )


class AnthropicProvider(SdkProvider):
    """Generations through ``anthropic.AsyncAnthropic``; one client (and its connection
    pool) for the provider's lifetime, i.e. one job."""

    name = "anthropic"
    sdk_module = "anthropic"

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str = DEFAULT_BASE_URL,
        headers: Mapping[str, str] | None = None,
        proxy: str | None = None,
    ) -> None:
        super().__init__()
        self.base_url = base_url
        self.headers = dict(headers or {})
        self.proxy = proxy
        self._api_key = api_key

    def __repr__(self) -> str:  # never shows the key
        return f"AnthropicProvider(base_url={self.base_url!r})"

    def _build_client(self) -> Any:
        import anthropic

        http_client = None
        if self.proxy is not None:
            import httpx2

            http_client = httpx2.AsyncClient(
                proxy=self.proxy,
                timeout=anthropic.DEFAULT_TIMEOUT,
                limits=anthropic.DEFAULT_CONNECTION_LIMITS,
                follow_redirects=True,
            )
        return anthropic.AsyncAnthropic(
            api_key=self._api_key,
            base_url=self.base_url,
            default_headers=self.headers or None,
            max_retries=0,  # ours, visible as `retry` events
            http_client=http_client,
        )

    async def _stream(
        self, client: Any, request: GenerationRequest, sink: StreamSink
    ) -> GenerationResult:
        stream = await client.messages.create(**build_params(request), stream=True)
        acc = _Accumulator(sink)
        try:
            async for event in stream:
                acc.feed(event)
        finally:
            await stream.close()
        return acc.result()

    def _normalise(self, exc: BaseException) -> ProviderError:
        return _normalise(exc)


@dataclass(slots=True)
class _Block:
    kind: str
    text: list[str] = field(default_factory=list)
    signature: str | None = None
    data: str | None = None  # redacted thinking
    tool_id: str = ""
    tool_name: str = ""


class _Accumulator:
    """Builds a :class:`GenerationResult` from raw stream events, pushing deltas on."""

    def __init__(self, sink: StreamSink) -> None:
        self._sink = sink
        self._blocks: dict[int, _Block] = {}
        self._stop_reason: str | None = None
        self._input_tokens = 0
        self._cached_tokens = 0
        self._output_tokens = 0
        self._stopped = False

    def feed(self, event: Any) -> None:
        kind = event.type
        if kind == "content_block_delta":
            self._delta(self._blocks.get(event.index), event.delta)
        elif kind == "content_block_start":
            self._start(event.index, event.content_block)
        elif kind == "message_start":
            self._usage(event.message.usage)
        elif kind == "message_delta":
            self._stop_reason = event.delta.stop_reason or self._stop_reason
            self._usage(event.usage)
        elif kind == "message_stop":
            self._stopped = True

    def _start(self, index: int, block: Any) -> None:
        kind = block.type
        entry = _Block(kind)
        if kind == "text" and block.text:
            entry.text.append(block.text)
            self._sink.text_delta(block.text)
        elif kind == "thinking":
            if block.thinking:
                entry.text.append(block.thinking)
                self._sink.reasoning_delta(block.thinking)
            entry.signature = block.signature or None
        elif kind == "redacted_thinking":
            entry.data = block.data
        elif kind == "tool_use":
            entry.tool_id, entry.tool_name = block.id, block.name
        self._blocks[index] = entry

    def _delta(self, entry: _Block | None, delta: Any) -> None:
        if entry is None:
            return
        kind = delta.type
        if kind == "text_delta":
            entry.text.append(delta.text)
            self._sink.text_delta(delta.text)
        elif kind == "input_json_delta":
            entry.text.append(delta.partial_json)
        elif kind == "thinking_delta":
            entry.text.append(delta.thinking)
            self._sink.reasoning_delta(delta.thinking)
        elif kind == "signature_delta":
            entry.signature = (entry.signature or "") + delta.signature

    def _usage(self, usage: Any) -> None:
        if usage is None:
            return
        # message_delta carries cumulative counts; input counts may be absent there.
        if usage.input_tokens is not None:
            self._input_tokens = usage.input_tokens
        if usage.cache_read_input_tokens is not None:
            self._cached_tokens = usage.cache_read_input_tokens
        if usage.output_tokens is not None:
            self._output_tokens = usage.output_tokens

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


def _normalise(exc: BaseException) -> ProviderError:
    """Any failure of a generation as a :class:`ProviderError` (spec §11.4)."""
    import anthropic
    import httpx2

    if isinstance(exc, anthropic.APIStatusError):
        status: int | None = exc.status_code
        error_type = _error_field(exc.body, "type")
        name = type(exc).__name__
        if status is not None and status < 400:  # an error event inside a 200 stream
            status = _ERROR_TYPE_STATUS.get(error_type or "", None)
            name = _camel(error_type) if error_type else name
        message = _error_field(exc.body, "message") or exc.message
        return status_error(name, message, status, exc.response.headers)
    if isinstance(exc, anthropic.APITimeoutError):
        return ProviderError("APITimeoutError", "Request timed out", is_retryable=True)
    if isinstance(exc, (anthropic.APIConnectionError, httpx2.TransportError, OSError)):
        return connection_error(exc.__cause__ or exc)
    if isinstance(exc, TimeoutError):
        return ProviderError("TimeoutError", str(exc) or "Timed out", is_retryable=True)
    message = str(exc) or type(exc).__name__
    return ProviderError(type(exc).__name__, message, is_retryable=is_retryable_message(message))


def _error_field(body: object, key: str) -> str | None:
    if isinstance(body, Mapping):
        error = body.get("error")
        if isinstance(error, Mapping) and isinstance(error.get(key), str):
            return error[key]
    return None


def _camel(snake: str) -> str:
    return "".join(word.capitalize() for word in snake.split("_"))
