"""What the SDK-backed providers share: settings, error normalisation, tool arguments.

Nothing here imports an SDK, so the helpers cost nothing until a provider runs.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import orjson

from runtime.errors import PerstackError
from runtime.providers.base import ProviderError

__all__ = [
    "RETRY_AFTER_CAP_S",
    "is_retryable_status",
    "is_retryable_message",
    "parse_retry_after",
    "status_error",
    "generation_timeout",
    "connection_error",
    "parse_tool_arguments",
    "require_env",
    "setting_str",
    "setting_bool",
    "setting_or_env",
    "resolve_headers",
    "resolve_base_url",
    "proxy_url",
]

#: Waits longer than this from ``retry-after`` are ignored in favour of our own backoff,
#: as the SDKs do: a service asking for minutes would otherwise hang the run silently.
RETRY_AFTER_CAP_S = 60.0

_RETRYABLE_SUBSTRINGS = (
    "rate limit",
    "timeout",
    "timed out",
    "service unavailable",
    "overloaded",
    "internal server error",
    "bad gateway",
    "gateway timeout",
    "connection refused",
)


def is_retryable_status(status: int | None) -> bool:
    """408, 409, 429 and every 5xx (529 *overloaded* included), as the AI SDK decides."""
    return status is not None and (status in (408, 409, 429) or status >= 500)


def is_retryable_message(message: str) -> bool:
    """Whether an error message names a transient condition (spec §11.4)."""
    lowered = message.lower()
    return any(fragment in lowered for fragment in _RETRYABLE_SUBSTRINGS)


def parse_retry_after(headers: Mapping[str, str] | None) -> float | None:
    """Seconds to wait from ``retry-after-ms`` / ``retry-after`` (seconds or HTTP date).

    Returns ``None`` when absent, unparsable, negative or above :data:`RETRY_AFTER_CAP_S`.
    """
    if not headers:
        return None
    seconds: float | None = None
    raw_ms = headers.get("retry-after-ms")
    if raw_ms is not None:
        try:
            seconds = float(raw_ms) / 1000
        except ValueError:
            seconds = None
    if seconds is None:
        raw = headers.get("retry-after")
        if raw is None:
            return None
        try:
            seconds = float(raw)
        except ValueError:
            parsed = email.utils.parsedate_tz(raw)
            if parsed is None:
                return None
            seconds = email.utils.mktime_tz(parsed) - time.time()
    if seconds < 0 or seconds > RETRY_AFTER_CAP_S:
        return None
    return seconds


def status_error(
    name: str,
    message: str,
    status: int | None,
    headers: Mapping[str, str] | None = None,
) -> ProviderError:
    """A :class:`ProviderError` for an HTTP failure, retryable per spec §11.4."""
    retryable = is_retryable_status(status) or is_retryable_message(message)
    if headers is not None and headers.get("x-should-retry") == "true":
        retryable = True
    return ProviderError(
        name,
        message,
        status_code=status,
        is_retryable=retryable,
        retry_after=parse_retry_after(headers) if retryable else None,
    )


def generation_timeout(timeout_ms: int) -> ProviderError:
    """The retryable error of a generation that outlived its ``timeout``."""
    return ProviderError(
        "TimeoutError", f"Generation timeout after {timeout_ms}ms", is_retryable=True
    )


def connection_error(exc: BaseException) -> ProviderError:
    """A dropped or refused connection: always worth another try."""
    detail = str(exc) or type(exc).__name__
    return ProviderError("APIConnectionError", f"Connection error: {detail}", is_retryable=True)


def parse_tool_arguments(raw: str, tool_name: str) -> dict[str, Any]:
    """Parse the JSON arguments a model streamed for a tool call.

    An empty string means "no arguments". Anything that is not a JSON object raises a
    *retryable* ``InvalidToolArgumentsError``: the loop then emits a ``retry`` whose
    message tells the model what went wrong, and the model tries again (no tool runs
    with arguments it did not mean).
    """
    if not raw.strip():
        return {}
    try:
        args = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        excerpt = raw if len(raw) <= 200 else raw[:200] + "…"
        raise ProviderError(
            "InvalidToolArgumentsError",
            f"Tool call {tool_name} has arguments that are not valid JSON ({exc}): {excerpt}",
            is_retryable=True,
        ) from None
    if not isinstance(args, dict):
        raise ProviderError(
            "InvalidToolArgumentsError",
            f"Tool call {tool_name} has arguments that are not a JSON object: {raw[:200]}",
            is_retryable=True,
        )
    return args


# --- configuration -----------------------------------------------------------------------


def require_env(env: Mapping[str, str], name: str) -> str:
    """The value of a required variable, or the one-line ``<NAME> is not set`` error."""
    value = env.get(name)
    if not value:
        raise PerstackError(f"{name} is not set")
    return value


def setting_str(setting: Mapping[str, Any], key: str) -> str | None:
    """A string field of ``[provider.setting]`` (absent or empty -> ``None``)."""
    value = setting.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise PerstackError(f"provider.setting.{key} must be a string")
    return value


def setting_or_env(
    setting: Mapping[str, Any], key: str, env: Mapping[str, str], variable: str
) -> str | None:
    """``[provider.setting] <key>``, else the environment variable (empty -> ``None``)."""
    return setting_str(setting, key) or env.get(variable) or None


def setting_bool(setting: Mapping[str, Any], key: str) -> bool:
    """A boolean field of ``[provider.setting]`` (absent -> ``False``)."""
    value = setting.get(key, False)
    if not isinstance(value, bool):
        raise PerstackError(f"provider.setting.{key} must be true or false")
    return value


def resolve_headers(setting: Mapping[str, Any]) -> dict[str, str]:
    """``[provider.setting] headers``: extra HTTP headers sent with every model request."""
    headers = setting.get("headers") or {}
    if not isinstance(headers, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in headers.items()
    ):
        raise PerstackError("provider.setting.headers must be a table of strings")
    return dict(headers)


def resolve_base_url(
    setting: Mapping[str, Any],
    env: Mapping[str, str],
    env_var: str | None,
    *,
    setting_may_be_http: bool = False,
) -> str | None:
    """The base URL: ``[provider.setting] baseUrl`` beats the environment variable.

    A URL from ``perstack.toml`` must be ``https://`` (except for Ollama); one from the
    environment may be plain ``http://`` so local gateways and test servers work.
    """
    from_setting = setting_str(setting, "baseUrl")
    if from_setting is not None:
        _check_url(from_setting, "provider.setting.baseUrl", https_only=not setting_may_be_http)
        return from_setting.rstrip("/")
    from_env = env.get(env_var) if env_var else None
    if from_env:
        _check_url(from_env, env_var or "", https_only=False)
        return from_env.rstrip("/")
    return None


def _check_url(url: str, where: str, *, https_only: bool) -> None:
    parts = urlsplit(url)
    if https_only and parts.scheme != "https":
        raise PerstackError(f"{where}: URL must use HTTPS")
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise PerstackError(f"{where}: not an http(s) URL: {url}")


def proxy_url(env: Mapping[str, str]) -> str | None:
    """``PERSTACK_PROXY_URL``: the HTTP proxy every model request goes through."""
    value = env.get("PERSTACK_PROXY_URL")
    if not value:
        return None
    _check_url(value, "PERSTACK_PROXY_URL", https_only=False)
    return value
