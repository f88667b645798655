"""The timeline of a replay: the rows that pass a filter, as they were at the cursor.

:class:`ReplayRows` answers what a timeline asks of its rows (``len``, ``row_at``,
``position_of``) for a :class:`~runtime.views.replay.JobReplay`: only the rows that
existed at the replay's cursor, each as it was then (a :class:`RowState`). The filter is
the timeline's own (:class:`~runtime.views.timeline_filter.RowFilter`), applied to the
whole job once; moving the cursor costs one binary search.

Example:
    >>> shown = ReplayRows(replay)
    >>> shown.set_filter(RowFilter(errors=True))
    >>> replay.go_to_step(12)
    >>> [shown.row_at(p).status for p in range(len(shown))]
"""

from __future__ import annotations

from bisect import bisect_left
from typing import TYPE_CHECKING

from runtime.views.timeline_filter import FilteredRows, RowFilter

if TYPE_CHECKING:
    from runtime.views._replay_state import RowState
    from runtime.views.replay import JobReplay

__all__ = ["ReplayRows"]


class ReplayRows:
    """The rows of ``replay`` that pass the filter and existed at its cursor.

    Args:
        replay: The job and its cursor (the cursor is read at every call: move it with
            the replay's own methods).
    """

    def __init__(self, replay: JobReplay) -> None:
        self.replay = replay
        self.filtered = FilteredRows(replay.activity)
        self.filtered.set_filter(RowFilter())

    def set_filter(self, row_filter: RowFilter) -> None:
        """Show only the rows that pass ``row_filter``."""
        self.filtered.set_filter(row_filter)

    def __len__(self) -> int:
        # Rows are created in index order, so those existing at the cursor are the
        # indices below the count of visible rows.
        return bisect_left(self.filtered.indices, self.replay.visible_count())

    def row_at(self, position: int) -> RowState:
        """The row shown at ``position``, as it was at the cursor."""
        return self.replay.row_at(self.filtered.indices[position])

    def position_of(self, index: int) -> int | None:
        """Where row ``index`` is shown, or ``None`` (filtered out, or not there yet)."""
        position = self.filtered.position_of(index)
        return position if position is not None and position < len(self) else None

    def last_position(self) -> int | None:
        """The newest shown row at the cursor (``None`` when none is shown)."""
        count = len(self)
        return count - 1 if count else None
