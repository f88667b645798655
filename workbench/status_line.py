"""The header's status line: the run state, then the job's step, tokens, cost and time."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from rich.text import Text

from runtime.views.cost import format_cost
from workbench.formatting import format_duration, format_tokens

if TYPE_CHECKING:
    from workbench.jobview import JobView

__all__ = ["now_ms", "status_line"]

_STATE_TEXT = {
    "ready": ("·", "ready"),
    "running": ("●", "running"),
    "stopping": ("■", "stopping…"),
    "loading": ("…", "reading the job…"),
    "completed": ("✓", "completed"),
    "stopped": ("■", "stopped, resumable"),
    "waiting": ("?", "waiting for your answer"),
    "error": ("✗", "error"),
    "maxSteps": ("■", "step limit reached"),
}
_STATE_STYLE = {"error": "bold red", "waiting": "bold yellow", "running": "bold"}


def now_ms() -> int:
    """Wall-clock milliseconds, the unit of event timestamps (the app's clock)."""
    return time.time_ns() // 1_000_000


def status_line(state: str, view: JobView, now_ms: int) -> Text:
    """``● running · step 3 · 1.2k tokens · $0.0123 · 4s``: what the header shows."""
    glyph, words = _STATE_TEXT.get(state, ("·", state))
    parts = [f"{glyph} {words}"]
    if view.events:
        parts.append(f"step {view.max_step}")
        parts.append(f"{format_tokens(view.tokens) or 0} tokens")
        parts.append(format_cost(view.cost) or "$0")
        parts.append(format_duration(view.elapsed_ms(now_ms)))
    return Text(" · ".join(parts), style=_STATE_STYLE.get(state, ""))
