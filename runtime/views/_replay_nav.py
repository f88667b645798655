"""Moving a replay's cursor: by step, event, error, delegation or tool call, to a step,
and at the recorded pace (mixed into :class:`runtime.views.replay.JobReplay`)."""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from typing import TYPE_CHECKING

from runtime.views._replay_state import NAVIGATION_KINDS

if TYPE_CHECKING:
    from runtime.events import RunEvent

__all__ = ["ReplayNavigation"]


class ReplayNavigation:
    """The cursor moves of :class:`~runtime.views.replay.JobReplay`.

    Every ``find``-like method answers a position without moving; :meth:`move`,
    :meth:`next_step` and the others move the cursor there and return it (staying put
    when there is nowhere to go).
    """

    events: list[RunEvent]
    cursor: int
    pause: tuple[int, int] | None
    _marks: dict[str, list[int]]
    _first_end_of_step: dict[int, int]
    _first_of_step: dict[int, int]

    def _at(self, cursor: int | None) -> int:
        return self.cursor if cursor is None else cursor

    def seek(self, cursor: int) -> int:
        """Put the cursor at ``cursor`` (clamped to the events); return where it is."""
        self.cursor = max(0, min(cursor, len(self.events) - 1)) if self.events else -1
        return self.cursor

    def find(self, kind: str, direction: int = 1, cursor: int | None = None) -> int | None:
        """The position of the next (``direction=1``) or previous (``-1``) mark of ``kind``
        after or before the cursor: ``step`` (a step ends), ``event``, ``error`` (a retry,
        a run stopped by an error, a failed tool), ``delegation`` or ``tool`` (a call).
        ``None`` when there is none that way."""
        cursor = self._at(cursor)
        if kind == "event":
            target = cursor + direction
            return target if 0 <= target < len(self.events) else None
        marks = self._marks.get(kind)
        if marks is None:
            raise ValueError(f"unknown mark {kind!r}; one of event, {', '.join(NAVIGATION_KINDS)}")
        if direction > 0:
            position = bisect_right(marks, cursor)
            return marks[position] if position < len(marks) else None
        position = bisect_left(marks, cursor) - 1
        return marks[position] if position >= 0 else None

    def move(self, kind: str, direction: int = 1) -> int:
        """Move the cursor to :meth:`find`'s answer (staying put when there is none)."""
        target = self.find(kind, direction)
        return self.cursor if target is None else self.seek(target)

    def next_step(self) -> int:
        """To the end of the next step (of any run)."""
        return self.move("step", 1)

    def prev_step(self) -> int:
        """To the end of the previous step."""
        return self.move("step", -1)

    def next_event(self) -> int:
        return self.move("event", 1)

    def prev_event(self) -> int:
        return self.move("event", -1)

    def first(self) -> int:
        return self.seek(0)

    def last(self) -> int:
        return self.seek(len(self.events) - 1)

    def go_to_step(self, step: int) -> int:
        """To the end of step ``step`` (its first run to end it), or to its last event
        if it never ended; past the job's last step, to the end."""
        if step in self._first_end_of_step:
            return self.seek(self._first_end_of_step[step])
        later = [s for s in self._first_of_step if s > step]
        if step in self._first_of_step:
            following = self._first_of_step[min(later)] if later else len(self.events)
            return self.seek(following - 1)
        if later:
            return self.seek(self._first_of_step[min(later)])
        return self.last()

    def gap_ms(self, index: int) -> int:
        """The recorded time between event ``index - 1`` and event ``index`` (a fork's
        pause between its copied history and its own steps left out)."""
        if index <= 0 or index >= len(self.events):
            return 0
        gap = self.events[index].timestamp - self.events[index - 1].timestamp
        if self.pause is not None and self.events[index].timestamp >= self.pause[1] > (
            self.events[index - 1].timestamp
        ):
            gap -= self.pause[1] - self.pause[0]
        return max(0, gap)

    def play_delay_ms(self, speed: float | None = 1.0, cap_ms: int = 2_000) -> int:
        """How long to wait before showing the next event when playing at ``speed``
        (``1``, ``4``, ``16``…; ``None``: as fast as it draws), at most ``cap_ms``."""
        if not speed:
            return 0
        return min(cap_ms, int(self.gap_ms(self.cursor + 1) / speed))
