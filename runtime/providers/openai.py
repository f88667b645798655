"""OpenAI, Azure OpenAI, DeepSeek and Ollama through the official ``openai`` SDK.

All four speak Chat Completions, streamed with a final usage chunk. The SDK is never
imported with this module: :func:`create` starts importing it in the background (see
:mod:`runtime.providers.prewarm`) and the first generation waits for it if need be. Its own
retries are off (the loop retries, visibly).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import orjson

from runtime.errors import PerstackError
from runtime.model import ThinkingPart, Usage
from runtime.model import new_id as _new_id
from runtime.providers import prewarm
from runtime.providers._common import (
    connection_error,
    is_retryable_message,
    parse_tool_arguments,
    proxy_url,
    require_env,
    resolve_base_url,
    resolve_headers,
    setting_bool,
    setting_or_env,
    status_error,
)
from runtime.providers._sdk import SdkProvider
from runtime.providers._sse import aiter_sse
from runtime.providers.base import (
    GeneratedToolCall,
    GenerationRequest,
    GenerationResult,
    ProviderError,
    StreamSink,
)
from runtime.providers.openai_mapping import WireEncoders, encode_body, finish_reason

__all__ = ["OpenAIConnection", "OpenAIProvider", "create", "DEFAULT_BASE_URLS"]

DEFAULT_BASE_URLS = {
    "openai": "https://api.openai.com/v1",
    "deepseek": "https://api.deepseek.com/v1",
    "ollama": "http://localhost:11434/v1",
}
#: The ``api-version`` of Azure deployment URLs when neither setting nor env names one.
DEFAULT_AZURE_API_VERSION = "2024-10-21"
#: Error types inside a stream that mean "try again".
_RETRYABLE_STREAM_ERRORS = ("server_error", "rate_limit_exceeded", "overloaded", "timeout")


@dataclass(frozen=True)
class OpenAIConnection:
    """Where and how the SDK client connects (no behaviour, easy to assert on).

    Attributes:
        base_url: The API root; chat completions are ``{base_url}/chat/completions``
            (Azure deployment URLs insert ``/deployments/{model}``).
        azure_deployments: Build an ``AsyncAzureOpenAI`` client with deployment URLs.
        api_version: Azure's ``api-version`` query parameter.
    """

    base_url: str
    api_key: str = field(repr=False)
    organization: str | None = None
    project: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    proxy: str | None = None
    azure_deployments: bool = False
    api_version: str | None = None


def create(
    provider_name: str, setting: dict[str, Any], env: Mapping[str, str], base_dir: Path
) -> OpenAIProvider:
    """Build the provider for ``openai``, ``azure-openai``, ``deepseek`` or ``ollama``.

    Raises:
        PerstackError: a missing key (``OPENAI_API_KEY is not set`` …), a missing Azure
            resource (``AZURE_RESOURCE_NAME or baseUrl is not set``), or a bad setting.
    """
    del base_dir  # no paths in these settings
    headers = resolve_headers(setting)
    proxy = proxy_url(env)
    if provider_name == "openai":
        base_url = resolve_base_url(setting, env, "OPENAI_BASE_URL")
        connection = OpenAIConnection(
            base_url=base_url or DEFAULT_BASE_URLS["openai"],
            api_key=require_env(env, "OPENAI_API_KEY"),
            organization=setting_or_env(setting, "organization", env, "OPENAI_ORGANIZATION"),
            project=setting_or_env(setting, "project", env, "OPENAI_PROJECT"),
            headers=headers,
            proxy=proxy,
        )
    elif provider_name == "deepseek":
        connection = OpenAIConnection(
            base_url=resolve_base_url(setting, env, "DEEPSEEK_BASE_URL")
            or DEFAULT_BASE_URLS["deepseek"],
            api_key=require_env(env, "DEEPSEEK_API_KEY"),
            headers=headers,
            proxy=proxy,
        )
    elif provider_name == "ollama":
        base = resolve_base_url(setting, env, "OLLAMA_BASE_URL", setting_may_be_http=True)
        connection = OpenAIConnection(
            base_url=_ollama_v1(base) if base else DEFAULT_BASE_URLS["ollama"],
            api_key="ollama",  # Ollama needs no key; the SDK insists on one and Ollama ignores it
            headers=headers,
            proxy=proxy,
        )
    elif provider_name == "azure-openai":
        connection = _azure(setting, env, headers, proxy)
    else:
        raise PerstackError(f'Provider "{provider_name}" is not served by the openai SDK')
    # The settings are good: start loading the SDK (~0.5 s of CPU) now, so it overlaps
    # whatever the run does before its first request (skills starting, files read).
    prewarm.prewarm(provider_name)
    return OpenAIProvider(provider_name, connection)


def _azure(
    setting: Mapping[str, Any], env: Mapping[str, str], headers: dict[str, str], proxy: str | None
) -> OpenAIConnection:
    api_key = require_env(env, "AZURE_API_KEY")
    base = resolve_base_url(setting, env, "AZURE_BASE_URL")
    resource = setting_or_env(setting, "resourceName", env, "AZURE_RESOURCE_NAME")
    if base is None:
        if not resource:
            raise PerstackError("AZURE_RESOURCE_NAME or baseUrl is not set")
        base = f"https://{resource}.openai.azure.com/openai"
    api_version = setting_or_env(setting, "apiVersion", env, "AZURE_API_VERSION")
    if setting_bool(setting, "useDeploymentBasedUrls"):
        return OpenAIConnection(
            base_url=base,
            api_key=api_key,
            headers=headers,
            proxy=proxy,
            azure_deployments=True,
            api_version=api_version or DEFAULT_AZURE_API_VERSION,
        )
    # Azure's v1 API (upstream's default) is plain OpenAI-compatible under `/v1`.
    return OpenAIConnection(
        base_url=f"{base}/v1",
        api_key=api_key,
        headers=headers,
        proxy=proxy,
        api_version=api_version,
    )


def _ollama_v1(url: str) -> str:
    """Ollama's OpenAI-compatible root: a bare host or its native ``/api`` maps to ``/v1``."""
    path = urlsplit(url).path.rstrip("/")
    if path == "":
        return f"{url}/v1"
    if path.endswith("/api"):
        return url[: -len("/api")] + "/v1"
    return url


class OpenAIProvider(SdkProvider):
    """Generations through ``openai.AsyncOpenAI`` (or ``AsyncAzureOpenAI``); one client,
    and its connection pool, per provider instance (one job)."""

    sdk_module = "openai"

    def __init__(self, provider_name: str, connection: OpenAIConnection) -> None:
        super().__init__()
        self.name = provider_name
        self.connection = connection
        self._wire = WireEncoders()

    def __repr__(self) -> str:  # the connection's repr leaves the key out
        return f"OpenAIProvider({self.name!r}, {self.connection!r})"

    def _build_client(self) -> Any:
        import openai

        c = self.connection
        http_client = None
        if c.proxy is not None:
            import httpx2

            http_client = httpx2.AsyncClient(
                proxy=c.proxy,
                timeout=openai.DEFAULT_TIMEOUT,
                limits=openai.DEFAULT_CONNECTION_LIMITS,
                follow_redirects=True,
            )
        common: dict[str, Any] = {
            "api_key": c.api_key,
            "base_url": c.base_url,
            "default_headers": c.headers or None,
            "max_retries": 0,  # ours, visible as `retry` events
            "http_client": http_client,
        }
        if c.azure_deployments:
            return openai.AsyncAzureOpenAI(api_version=c.api_version, **common)
        if c.api_version:
            common["default_query"] = {"api-version": c.api_version}
        return openai.AsyncOpenAI(organization=c.organization, project=c.project, **common)

    async def _stream(
        self, client: Any, request: GenerationRequest, sink: StreamSink
    ) -> GenerationResult:
        import httpx2

        # The SDK's generic `post` with a body we encoded, answered by the raw streamed
        # response: `chat.completions.create` would walk every message against its
        # TypedDicts and re-encode the whole history at every step, and the SDK's stream
        # decoder builds objects per line and per event; together most of a step's cost.
        # Auth, headers, the URL, timeouts and HTTP errors stay the SDK's.
        path = "/chat/completions"
        if self.connection.azure_deployments:
            path = f"/deployments/{quote(request.model, safe='')}{path}"
        acc = _Accumulator(sink)
        response = await client.post(
            path,
            cast_to=httpx2.Response,
            content=encode_body(request, self.name, self._wire),
            options={"security": {"bearer_auth": True}},
            stream=True,
        )
        try:
            async for chunk in _read_chunks(response):
                acc.feed(chunk)
        finally:
            await response.aclose()
        return acc.result()

    def _normalise(self, exc: BaseException) -> ProviderError:
        return _normalise(exc)


async def _read_chunks(response: Any) -> AsyncIterator[dict[str, Any]]:
    """The ``chat.completion.chunk`` objects of a streamed response, as decoded JSON.

    Raises:
        ProviderError: a chunk that carries an ``error`` object (a failure mid-stream).
    """
    done = False
    async for _, data in aiter_sse(response.aiter_bytes()):
        # After [DONE] the rest of the body is still read, so the connection can be reused.
        if done or not data:
            continue
        if data.startswith(b"[DONE]"):
            done = True
            continue
        chunk = orjson.loads(data)
        if isinstance(chunk, dict) and chunk.get("error"):
            raise _stream_error(chunk["error"])
        yield chunk


def _stream_error(error: Any) -> ProviderError:
    """An error object inside a 200 stream, retryable when its type says so."""
    message = _body_field(error, "message")
    if not isinstance(message, str) or not message:
        message = "An error occurred during streaming"
    kind = str(_body_field(error, "type") or _body_field(error, "code") or "")
    retryable = kind in _RETRYABLE_STREAM_ERRORS or is_retryable_message(message)
    return ProviderError("APIError", message, is_retryable=retryable)


@dataclass(slots=True)
class _Call:
    id: str = ""
    name: str = ""
    arguments: list[str] = field(default_factory=list)


class _Accumulator:
    """Builds a :class:`GenerationResult` from ``chat.completion.chunk`` objects (decoded
    JSON), pushing deltas on as they arrive."""

    def __init__(self, sink: StreamSink) -> None:
        self._sink = sink
        self._text: list[str] = []
        self._reasoning: list[str] = []
        self._calls: dict[int, _Call] = {}
        self._finish: str | None = None
        self._usage: dict[str, Any] | None = None

    def feed(self, chunk: dict[str, Any]) -> None:
        if chunk.get("usage"):
            self._usage = chunk["usage"]
        for choice in chunk.get("choices") or ():
            if choice.get("index", 0) != 0:
                continue
            delta = choice.get("delta")
            if delta:
                self._delta(delta)
            if choice.get("finish_reason"):
                self._finish = choice["finish_reason"]

    def _delta(self, delta: dict[str, Any]) -> None:
        # DeepSeek streams `reasoning_content`; Ollama and others `reasoning`.
        reasoning = delta.get("reasoning_content") or delta.get("reasoning")
        if isinstance(reasoning, str) and reasoning:
            self._reasoning.append(reasoning)
            self._sink.reasoning_delta(reasoning)
        content = delta.get("content")
        if content:
            self._text.append(content)
            self._sink.text_delta(content)
        for tool_call in delta.get("tool_calls") or ():
            call = self._calls.setdefault(tool_call.get("index", 0), _Call())
            if tool_call.get("id"):
                call.id = tool_call["id"]
            function = tool_call.get("function")
            if function:
                if function.get("name"):
                    call.name = function["name"]
                if function.get("arguments"):
                    call.arguments.append(function["arguments"])

    def result(self) -> GenerationResult:
        if self._finish is None:
            raise ProviderError(
                "APIConnectionError", "The stream ended without a finish reason", is_retryable=True
            )
        result = GenerationResult(
            text="".join(self._text), finish_reason=finish_reason(self._finish)
        )
        if self._reasoning:
            result.thinking.append(ThinkingPart(thinking="".join(self._reasoning)))
        for _, call in sorted(self._calls.items()):
            args = parse_tool_arguments("".join(call.arguments), call.name)
            # Some compatible servers omit call ids; the loop needs one to pair results.
            call_id = call.id or f"call_{_new_id()}"
            result.tool_calls.append(GeneratedToolCall(call_id, call.name, args))
        result.usage = _usage(self._usage)
        return result


def _usage(usage: dict[str, Any] | None) -> Usage:
    if not usage:
        return Usage()
    prompt = usage.get("prompt_tokens") or 0
    completion = usage.get("completion_tokens") or 0
    prompt_details = usage.get("prompt_tokens_details") or {}
    completion_details = usage.get("completion_tokens_details") or {}
    return Usage(
        input_tokens=prompt,
        output_tokens=completion,
        total_tokens=usage.get("total_tokens") or prompt + completion,
        cached_input_tokens=prompt_details.get("cached_tokens") or 0,
        reasoning_tokens=completion_details.get("reasoning_tokens") or 0,
    )


def _normalise(exc: BaseException) -> ProviderError:
    """Any failure of a generation as a :class:`ProviderError` (spec §11.4)."""
    import httpx2
    import openai

    if isinstance(exc, openai.APIStatusError):
        message = _body_field(exc.body, "message") or exc.message
        return status_error(type(exc).__name__, message, exc.status_code, exc.response.headers)
    if isinstance(exc, (openai.APITimeoutError, httpx2.TimeoutException)):
        return ProviderError("APITimeoutError", "Request timed out", is_retryable=True)
    if isinstance(exc, (openai.APIConnectionError, httpx2.TransportError, OSError)):
        return connection_error(exc.__cause__ or exc)
    if isinstance(exc, openai.APIError):
        kind = str(_body_field(exc.body, "type") or _body_field(exc.body, "code") or "")
        retryable = kind in _RETRYABLE_STREAM_ERRORS or is_retryable_message(exc.message)
        return ProviderError("APIError", exc.message, is_retryable=retryable)
    message = str(exc) or type(exc).__name__
    return ProviderError(type(exc).__name__, message, is_retryable=is_retryable_message(message))


def _body_field(body: object, key: str) -> Any:
    if isinstance(body, Mapping):
        return body.get(key)
    return None
