"""What the async and the sync client share: requests, and answers turned into results.

Nothing here does I/O: :class:`Call` describes a request, :func:`result_of` reads the
response, :func:`error_of` maps an ``httpx2`` exception. The API key only ever goes into
the ``Authorization`` header; every message built here is passed through :func:`redact`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx2
import orjson

from runtime.client._models import SchemaError
from runtime.client._results import ClientError, Result

__all__ = [
    "API_PREFIX",
    "Call",
    "ClientConfig",
    "abort_error",
    "error_of",
    "http_error",
    "normalize_base_url",
    "redact",
    "result_of",
    "segment",
]

API_PREFIX = "/api/v1"
_REDACTED = "***"


def segment(value: str) -> str:
    """One path segment (a job or checkpoint id), percent-encoded."""
    if not isinstance(value, str) or not value:
        raise ValueError("an id must be a non-empty string")
    return quote(value, safe="")


@dataclass(frozen=True, slots=True)
class ClientConfig:
    """Settings shared by a client and its resources."""

    base_url: str
    api_key: str | None = field(repr=False)
    timeout: float | None
    stream_retries: int
    stream_backoff: float

    def headers(self) -> dict[str, str]:
        headers = {"Accept": "application/json", "User-Agent": "perstack-python-client"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        return headers

    def httpx_timeout(self) -> httpx2.Timeout:
        return httpx2.Timeout(self.timeout)

    def __repr__(self) -> str:
        key = _REDACTED if self.api_key else None
        return f"ClientConfig(base_url={self.base_url!r}, api_key={key})"


def normalize_base_url(base_url: str) -> str:
    base = str(base_url).rstrip("/")
    if base.endswith(API_PREFIX):
        base = base[: -len(API_PREFIX)]
    return base


def redact(text: str, api_key: str | None) -> str:
    """``text`` with the API key (if it occurs) replaced by ``***``."""
    if api_key and api_key in text:
        text = text.replace(api_key, _REDACTED)
    return text


@dataclass(frozen=True, slots=True)
class Call:
    """One request of the API and how to read its success body.

    ``read`` gets the parsed JSON body (or the raw bytes when ``raw``) and returns the
    result's data, raising :class:`SchemaError` when the body breaks the schema.
    """

    method: str
    path: str
    read: Callable[[Any], Any]
    json: Any = None
    params: Mapping[str, Any] | None = None
    raw: bool = False

    def request_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {}
        if self.json is not None:
            kwargs["content"] = orjson.dumps(self.json)
            kwargs["headers"] = {"Content-Type": "application/json"}
        if self.params:
            kwargs["params"] = {k: v for k, v in self.params.items() if v is not None}
        return kwargs


def _validation(message: str, field_name: str | None = None) -> ClientError:
    details = {"field": field_name} if field_name else None
    return ClientError(type="validation", message=message, details=details)


def abort_error(what: str = "the call was aborted") -> ClientError:
    return ClientError(type="abort", message=what)


def http_error(response: httpx2.Response, api_key: str | None) -> ClientError:
    """The ``http`` error of a non-2xx response, read from its ``{"error": ...}`` body."""
    status = response.status_code
    message = f"HTTP {status} {response.reason_phrase}".strip()
    code: str | None = None
    details: Any = None
    try:
        body = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        body = None
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        if isinstance(error.get("message"), str) and error["message"]:
            message = error["message"]
        if isinstance(error.get("type"), str):
            code = error["type"]
        details = error.get("details")
    return ClientError(
        type="http", message=redact(message, api_key), status=status, code=code, details=details
    )


def result_of(call: Call, response: httpx2.Response, api_key: str | None) -> Result[Any]:
    """The result of a read response: its data, an ``http`` or a ``validation`` error."""
    if not response.is_success:
        return Result.failure(http_error(response, api_key))
    if call.raw:
        return Result.success(response.content)
    try:
        body = orjson.loads(response.content)
    except orjson.JSONDecodeError as exc:
        return Result.failure(_validation(f"the response body is not JSON: {exc}"))
    try:
        return Result.success(call.read(body))
    except SchemaError as exc:
        return Result.failure(
            _validation(redact(f"the response broke the schema at {exc}", api_key), exc.field)
        )


def error_of(exc: BaseException, api_key: str | None) -> ClientError | None:
    """The error result of an ``httpx2`` exception, or ``None`` when it is not one."""
    text = redact(f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__, api_key)
    if isinstance(exc, httpx2.TimeoutException):
        return ClientError(type="timeout", message=text)
    if isinstance(exc, (httpx2.TransportError, httpx2.InvalidURL, httpx2.StreamError)):
        return ClientError(type="network", message=text)
    return None
