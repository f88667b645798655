"""What MCP servers send during a tool call, on the call's timeline row.

The handlers of :mod:`runtime.views.activity` for the skill-activity events:

* ``skillProgress``: the row's :class:`Progress` (the workbench draws a bar with its
  message on the row while the call runs);
* ``skillLog``, ``skillSampling``: kept with the row (its details show them); a
  completion's tokens count on the row;
* ``skillElicitation``: the row waits on the person until ``skillElicitationAnswer``.

An event whose call has no open row (a log message no single call can claim, a call of a
run never seen to start) changes no row; ``perstack log`` still shows it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# The rows and the log are runtime.views.activity's (typed loosely: it imports this module).
ActivityLog = Any
ActivityRow = Any

__all__ = ["Progress", "SKILL_HANDLERS", "progress_text"]


@dataclass(frozen=True, slots=True)
class Progress:
    """The last progress a server reported for a call.

    Attributes:
        progress: How far it is (grows with every report).
        total: Where it ends, when the server knows.
        message: What it is doing, if it said.
    """

    progress: float
    total: float | None = None
    message: str | None = None

    @property
    def fraction(self) -> float | None:
        """``progress / total`` in 0..1, or None when the total is unknown."""
        if not self.total or self.total <= 0:
            return None
        return max(0.0, min(1.0, self.progress / self.total))


def _number(value: float) -> str:
    return f"{value:g}"


def progress_text(progress: Progress) -> str:
    """``3/10 copying files`` (or ``3 copying files`` with no total)."""
    amount = _number(progress.progress)
    if progress.total is not None:
        amount += f"/{_number(progress.total)}"
    return f"{amount} {progress.message}" if progress.message else amount


def _row(log: ActivityLog, event: Any) -> ActivityRow | None:
    call_id = getattr(event, "tool_call_id", None)
    return log._open_calls.get(call_id) if call_id else None


def _progress(log: ActivityLog, event: Any, run: Any) -> list[ActivityRow]:
    row = _row(log, event)
    if row is None:
        return []
    # Only the latest report is kept: a long call may send thousands.
    row.progress = Progress(event.progress, event.total, event.message)
    return [row]


def _kept(log: ActivityLog, event: Any, run: Any) -> list[ActivityRow]:
    row = _row(log, event)
    if row is None:
        return []
    row.add_event(event)
    if event.type == "skillSampling" and event.usage.total_tokens:
        row.tokens = (row.tokens or 0) + event.usage.total_tokens
    return [row]


def _asked(log: ActivityLog, event: Any, run: Any) -> list[ActivityRow]:
    row = _row(log, event)
    if row is None:
        return []
    row.add_event(event)
    row.status = "waiting"
    return [row]


def _answered(log: ActivityLog, event: Any, run: Any) -> list[ActivityRow]:
    row = _row(log, event)
    if row is None:
        return []
    row.add_event(event)
    if row.status == "waiting":
        row.status = "running"
    return [row]


SKILL_HANDLERS: dict[str, Any] = {
    "skillProgress": _progress,
    "skillLog": _kept,
    "skillSampling": _kept,
    "skillElicitation": _asked,
    "skillElicitationAnswer": _answered,
}
