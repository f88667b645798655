"""How base-skill tool results are written: one compact JSON text, errors included.

Upstream serialises with ``JSON.stringify``, so results here use the same compact
separators and keep non-ASCII text as is. A tool failure is a result the model reads,
``{"error": "<name>", "message": "<msg>"}``, never an exception escaping the skill.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from runtime.model import TextPart

__all__ = ["ToolError", "dumps", "text_result", "error_result", "iso_time"]


class ToolError(Exception):
    """A tool failure with a message meant for the model.

    Upstream throws plain JavaScript ``Error`` objects, so the result names it ``Error``.
    """

    error_name = "Error"


def dumps(value: Any) -> str:
    """Compact JSON, like ``JSON.stringify``."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def text_result(value: Any) -> TextPart:
    """The single text part carrying a tool's JSON result."""
    return TextPart(text=dumps(value))


def error_result(error: BaseException) -> TextPart:
    """The result for a failed tool call.

    Our own errors are named ``Error`` (as upstream's); any other exception (an
    ``OSError`` from the filesystem, say) keeps its Python class name.
    """
    name = error.error_name if isinstance(error, ToolError) else type(error).__name__
    return text_result({"error": name, "message": str(error)})


def iso_time(timestamp: float) -> str:
    """A POSIX timestamp as JavaScript's ``Date.toISOString()`` writes it."""
    moment = datetime.fromtimestamp(timestamp, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
