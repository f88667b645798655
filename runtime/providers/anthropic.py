"""Anthropic through the official ``anthropic`` SDK: the Messages API, always streamed.

The SDK is never imported with this module: its import costs 1-2 s of CPU, more than the
whole budget from launch to the first model request. Until it is imported, requests go
over :mod:`runtime.providers.anthropic_direct` (same body, same headers, same HTTP client,
same reading of the stream). The import starts on a background thread once a request has
waited :data:`LOAD_SDK_AFTER_S` for its answer, i.e. while the process would only be
waiting for the model; once it is done every request goes through the SDK. With a model
that answers instantly the process never waits, the import never starts, and the run
stays on the direct path rather than spend a second and a half of CPU mid-run. The SDK's
own retries are off: the loop retries, visibly, as ``retry`` events.
"""

from __future__ import annotations

import asyncio
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
from runtime.providers.anthropic_direct import new_http_client, request_headers, send
from runtime.providers.anthropic_mapping import encode_body, new_encoder
from runtime.providers.anthropic_stream import Accumulator, error_from_event, read_events
from runtime.providers.base import GenerationRequest, GenerationResult, ProviderError, StreamSink

__all__ = [
    "DEFAULT_BASE_URL",
    "LOAD_SDK_AFTER_S",
    "AnthropicProvider",
    "create",
    "error_from_event",
]

DEFAULT_BASE_URL = "https://api.anthropic.com"

#: Start importing the SDK once a request has waited this long for its answer. A real
#: model takes longer than this to answer even a short request, so the import starts
#: during the first generation, in time the process would spend waiting anyway.
LOAD_SDK_AFTER_S = 0.2

Transport = Literal["auto", "sdk", "direct"]


def create(
    provider_name: str, setting: dict[str, Any], env: Mapping[str, str], base_dir: Path
) -> AnthropicProvider:
    """Build the Anthropic provider from ``[provider.setting]`` and the environment.

    Raises:
        PerstackError: ``ANTHROPIC_API_KEY is not set``, or a malformed setting.
    """
    del base_dir  # no paths in its settings
    provider = AnthropicProvider(
        api_key=require_env(env, "ANTHROPIC_API_KEY"),
        base_url=resolve_base_url(setting, env, "ANTHROPIC_BASE_URL") or DEFAULT_BASE_URL,
        headers=resolve_headers(setting),
        proxy=proxy_url(env),
    )
    # The settings are good: load the HTTP client library (not the SDK) in the background
    # meanwhile, and keep its objects out of the collector's full passes.
    prewarm.prewarm(provider_name)
    return provider


class AnthropicProvider(SdkProvider):
    """Generations through ``anthropic.AsyncAnthropic``; one HTTP client (and its connection
    pool) for the provider's lifetime, i.e. one job.

    Args:
        transport: ``"auto"`` (the default) sends through the SDK once it is imported, and
            over the direct path until then; ``"sdk"`` sends every request through the SDK
            (the first one waits for its import); ``"direct"`` never imports it.
        load_sdk_after_s: With ``"auto"``: start importing the SDK once a request has
            waited this long for its answer (see :data:`LOAD_SDK_AFTER_S`).
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
        load_sdk_after_s: float = LOAD_SDK_AFTER_S,
    ) -> None:
        super().__init__()
        self.base_url = base_url
        self.headers = dict(headers or {})
        self.proxy = proxy
        self.transport = transport
        self.load_sdk_after_s = load_sdk_after_s
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
        acc = Accumulator(sink)
        load_sdk = None
        if client is None:
            if self.transport == "auto":
                # Waiting this long means the model is slow to answer: the process is idle,
                # and the SDK can load now without slowing the run down.
                load_sdk = asyncio.get_running_loop().call_later(
                    self.load_sdk_after_s, prewarm.start_import, self.sdk_module
                )
            headers = request_headers(self._api_key, self.headers)
            sending = send(self._http_client(), f"{self.base_url}/v1/messages", headers, body)
        else:
            import httpx2

            # The SDK's generic `post` with the body we encoded, answered by the raw streamed
            # response: `messages.create` would deep-copy and re-encode the whole history
            # with the stdlib at every step, and the SDK's stream decoder builds objects per
            # line and per event; together most of a step's cost. Auth, headers, the URL,
            # timeouts and HTTP errors stay the SDK's.
            sending = client.post(
                "/v1/messages", cast_to=httpx2.Response, content=body, stream=True
            )
        try:
            response = await sending
            try:
                async for event in read_events(response):
                    acc.feed(event)
            finally:
                await response.aclose()
        finally:
            if load_sdk is not None:
                load_sdk.cancel()
        return acc.result()

    def _normalise(self, exc: BaseException) -> ProviderError:
        return _normalise(exc)


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
