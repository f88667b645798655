"""The Messages API without the SDK: the cold-start path of the Anthropic provider.

Importing the ``anthropic`` SDK costs 1-2 s of CPU, longer than the whole budget from
launch to the first model request. Until that import has finished (on a background
thread, see :mod:`runtime.providers.anthropic`), the provider sends its requests here:
the same encoded body and headers, over the same ``httpx2`` client the SDK later adopts
(so the connection is reused); the response is read by the same code on both paths
(:func:`runtime.providers.anthropic_stream.read_events`). Only sending the request and
mapping an HTTP error status live here.
"""

from __future__ import annotations

import importlib.util
import re
import socket
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

import orjson

from runtime.providers._common import status_error
from runtime.providers.base import ProviderError

__all__ = ["new_http_client", "api_version", "request_headers", "send"]

#: The API version when the installed SDK's cannot be read.
_FALLBACK_API_VERSION = "2023-06-01"

#: The SDK's exception class name for each status, so errors read the same on both paths.
_STATUS_NAMES = {
    400: "BadRequestError",
    401: "AuthenticationError",
    402: "PaymentRequiredError",
    403: "PermissionDeniedError",
    404: "NotFoundError",
    408: "RequestTimeoutError",
    409: "ConflictError",
    412: "PreconditionFailedError",
    413: "ContentTooLargeError",
    422: "UnprocessableEntityError",
    429: "RateLimitError",
    501: "HTTPNotImplementedError",
    503: "ServiceUnavailableError",
    504: "GatewayTimeoutError",
    529: "OverloadedError",
}


def new_http_client(proxy: str | None) -> Any:
    """An ``httpx2.AsyncClient`` with the SDK's defaults (timeouts, pool, keep-alive probes);
    the SDK client is later built on this very client."""
    import httpx2

    options = [(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)]
    for name, value in (("TCP_KEEPINTVL", 60), ("TCP_KEEPCNT", 5), ("TCP_KEEPIDLE", 60)):
        if hasattr(socket, name):
            options.append((socket.IPPROTO_TCP, getattr(socket, name), value))
    # Idle connections are kept 30 s, not httpx's 5: between two steps of a job the tools run
    # (often for seconds), and a new TLS handshake per step is what keeping them saves. It
    # also keeps the cold start's connection for the SDK when its import is slow (a busy box).
    limits = httpx2.Limits(max_connections=1000, max_keepalive_connections=100, keepalive_expiry=30.0)
    transport = None if proxy else httpx2.AsyncHTTPTransport(socket_options=options, limits=limits)
    return httpx2.AsyncClient(
        transport=transport,
        proxy=proxy,
        timeout=httpx2.Timeout(600, connect=5.0),
        limits=limits,
        follow_redirects=True,
    )


@cache
def api_version() -> str:
    """The ``anthropic-version`` the installed SDK sends, read without importing it (both
    paths must speak the same API version)."""
    spec = importlib.util.find_spec("anthropic")
    if spec is not None and spec.submodule_search_locations:
        constants = Path(next(iter(spec.submodule_search_locations))) / "_constants.py"
        try:
            found = re.search(r'ANTHROPIC_API_VERSION = "([^"]+)"', constants.read_text())
        except OSError:
            found = None
        if found:
            return found.group(1)
    return _FALLBACK_API_VERSION


def request_headers(api_key: str, extra: Mapping[str, str]) -> dict[str, str]:
    """The headers of a Messages API request (the setting's ``headers`` win)."""
    return {
        "accept": "application/json",
        "content-type": "application/json",
        "anthropic-version": api_version(),
        "x-api-key": api_key,
        **extra,
    }


async def send(http: Any, url: str, headers: Mapping[str, str], body: bytes) -> Any:
    """POST ``body`` and return the streamed ``httpx2.Response`` once its headers are in.

    Raises:
        ProviderError: an HTTP error status, named and mapped as the SDK path maps it.
    """
    request = http.build_request("POST", url, content=body, headers=headers)
    response = await http.send(request, stream=True)
    if response.status_code >= 400:
        try:
            raw = await response.aread()
        finally:
            await response.aclose()
        raise _status_error(response.status_code, raw, response.headers)
    return response


def _status_error(status: int, raw: bytes, headers: Mapping[str, str]) -> ProviderError:
    name = _STATUS_NAMES.get(status, "InternalServerError" if status >= 500 else "APIStatusError")
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        body = None
    message = _error_message(body) or raw.decode("utf-8", errors="replace").strip()
    return status_error(name, message or f"Error code: {status}", status, headers)


def _error_message(body: object) -> str | None:
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        message = body["error"].get("message")
        return message if isinstance(message, str) else None
    return None
