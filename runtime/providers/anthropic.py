"""Anthropic through the official ``anthropic`` SDK: the Messages API, always streamed.

The SDK is never imported with this module. Its import costs 1-2 s of CPU, so until it is
done the provider sends requests over :mod:`runtime.providers.anthropic_direct` (same body,
same HTTP client, same event handling) and starts the import on a background thread once
the first request is answered; from then on every request goes through the SDK. The SDK's
own retries are off: the loop retries, visibly, as ``retry`` events.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from runtime.providers import prewarm
from runtime.providers._common import (
    connection_error,
    is_retryable_message,
    proxy_url,
    require_env,
    resolve_base_url,
    resolve_headers,
    status_error,
)
from runtime.providers._sdk import SdkProvider
from runtime.providers.anthropic_direct import new_http_client, request_headers, stream_events
from runtime.providers.anthropic_mapping import encode_body, new_encoder
from runtime.providers.anthropic_stream import Accumulator
from runtime.providers.base import GenerationRequest, GenerationResult, ProviderError, StreamSink

__all__ = ["DEFAULT_BASE_URL", "AnthropicProvider", "create", "error_from_event"]

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

Transport = Literal["auto", "sdk", "direct"]


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
    """Generations through ``anthropic.AsyncAnthropic``; one HTTP client (and its connection
    pool) for the provider's lifetime, i.e. one job.

    Args:
        transport: ``"auto"`` (the default) uses the SDK once it is imported and the direct
            path until then; ``"sdk"`` and ``"direct"`` force one (tests, benchmarks).
    """

    name = "anthropic"
    sdk_module = "anthropic"

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str = DEFAULT_BASE_URL,
        headers: Mapping[str, str] | None = None,
        proxy: str | None = None,
        transport: Transport = "auto",
    ) -> None:
        super().__init__()
        self.base_url = base_url
        self.headers = dict(headers or {})
        self.proxy = proxy
        self.transport = transport
        self._api_key = api_key
        self._wire = new_encoder()
        self._http: Any = None

    def __repr__(self) -> str:  # never shows the key
        return f"AnthropicProvider(base_url={self.base_url!r})"

    async def aclose(self) -> None:
        """Close the connection pool (shared by the SDK client and the direct path)."""
        await super().aclose()
        if self._http is not None:
            http, self._http = self._http, None
            await http.aclose()

    def _http_client(self) -> Any:
        if self._http is None:
            self._http = new_http_client(self.proxy)
        return self._http

    async def _client_for(self, request: GenerationRequest) -> Any:
        if self.transport == "direct" or (
            self.transport == "auto" and self._client is None and not prewarm.is_warm("anthropic")
        ):
            return None  # the direct path: no SDK import on the way to this request
        return await self._ensure_client()

    def _build_client(self) -> Any:
        import anthropic

        return anthropic.AsyncAnthropic(
            api_key=self._api_key,
            base_url=self.base_url,
            default_headers=self.headers or None,
            max_retries=0,  # ours, visible as `retry` events
            http_client=self._http_client(),
        )

    async def _stream(
        self, client: Any, request: GenerationRequest, sink: StreamSink
    ) -> GenerationResult:
        body = encode_body(request, self._wire)
        if client is None:
            events = stream_events(
                self._http_client(),
                f"{self.base_url}/v1/messages",
                request_headers(self._api_key, self.headers),
                body,
                # The request is answered: the model is busy, the SDK can load meanwhile.
                on_response=self._warm_up if self.transport == "auto" else None,
            )
        else:
            from anthropic import AsyncStream

            # The SDK's generic `post` with the body we encoded: `messages.create` would
            # deep-copy and re-encode the whole history with the stdlib at every step, most
            # of a step's cost on a long run. Events come as decoded JSON (`object`) rather
            # than models built per event. Auth, headers, errors and SSE stay the SDK's.
            events = await client.post(
                "/v1/messages",
                cast_to=object,
                content=body,
                stream=True,
                stream_cls=AsyncStream[object],
            )
        acc = Accumulator(sink)
        try:
            async for event in events:
                acc.feed(event)
        finally:
            await events.aclose() if client is None else await events.close()
        return acc.result()

    def _warm_up(self) -> None:
        prewarm.start_import(self.sdk_module)

    def _normalise(self, exc: BaseException) -> ProviderError:
        return _normalise(exc)


def error_from_event(body: object) -> ProviderError:
    """An ``error`` event inside a 200 stream, with the status its type stands for."""
    error = body.get("error") if isinstance(body, Mapping) else None
    error = error if isinstance(error, Mapping) else {}
    error_type = str(error.get("type") or "api_error")
    message = str(error.get("message") or error_type)
    name = "".join(word.capitalize() for word in error_type.split("_"))
    return status_error(name, message, _ERROR_TYPE_STATUS.get(error_type))


def _normalise(exc: BaseException) -> ProviderError:
    """Any failure of a generation as a :class:`ProviderError` (spec §11.4)."""
    import httpx2

    # SDK exceptions exist only once the SDK is imported: never import it just to check.
    sdk = sys.modules.get("anthropic")
    if sdk is not None and isinstance(exc, sdk.APIStatusError):
        status: int | None = exc.status_code
        if status is not None and status < 400:  # an error event inside a 200 stream
            return error_from_event(exc.body)
        message = _error_message(exc.body) or exc.message
        return status_error(type(exc).__name__, message, status, exc.response.headers)
    if sdk is not None and isinstance(exc, sdk.APITimeoutError):
        return ProviderError("APITimeoutError", "Request timed out", is_retryable=True)
    if sdk is not None and isinstance(exc, sdk.APIConnectionError):
        return connection_error(exc.__cause__ or exc)
    if isinstance(exc, httpx2.TimeoutException):
        return ProviderError("APITimeoutError", "Request timed out", is_retryable=True)
    if isinstance(exc, (httpx2.TransportError, OSError)):
        return connection_error(exc)
    if isinstance(exc, TimeoutError):
        return ProviderError("TimeoutError", str(exc) or "Timed out", is_retryable=True)
    message = str(exc) or type(exc).__name__
    return ProviderError(type(exc).__name__, message, is_retryable=is_retryable_message(message))


def _error_message(body: object) -> str | None:
    if isinstance(body, Mapping):
        error = body.get("error")
        if isinstance(error, Mapping) and isinstance(error.get("message"), str):
            return error["message"]
    return None
