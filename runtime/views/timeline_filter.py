"""Which timeline rows to show: ``perstack log``'s filters applied to activity rows.

A row passes a :class:`RowFilter` when every part that is set agrees:

* ``expression`` (the ``--filter`` grammar of :mod:`runtime.views.filtering`) matches one of the
  row's events, read as JSON (lazily, through :mod:`runtime.views.wireview`). Rows keep slim
  events (no message histories), so paths into ``messages`` find nothing here;
* ``steps`` (the ``--step`` grammar) contains the row's step;
* the quick toggles, when any is on, include the row: *errors* are retries, errors, the
  step limit and any failed call; *tools* are tool and interactive calls; *delegations*
  are delegate calls. Several toggles show the union, as ``perstack log`` does;
* ``node_id`` is the row's node in the delegation tree.

:class:`FilteredRows` keeps the list of passing rows up to date as rows are added and
change, without re-testing the rows that did not.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass

from runtime.views.activity import ActivityLog, ActivityRow
from runtime.views.filtering import FilterExpr, StepRange
from runtime.views.wireview import WireView

__all__ = ["RowFilter", "FilteredRows"]

_ERROR_KINDS = frozenset({"retry", "error", "stop"})
_TOOL_KINDS = frozenset({"tool", "interactive"})


@dataclass(frozen=True)
class RowFilter:
    """What the filter bar (and the delegation tree) selected.

    Attributes:
        expression: A parsed ``--filter`` expression.
        steps: A parsed ``--step`` range.
        errors: Show failed steps and calls.
        tools: Show tool calls.
        delegations: Show delegations.
        node_id: Only rows of this delegation-tree node.
    """

    expression: FilterExpr | None = None
    steps: StepRange | None = None
    errors: bool = False
    tools: bool = False
    delegations: bool = False
    node_id: str | None = None

    @property
    def is_empty(self) -> bool:
        """Whether every row passes."""
        return (
            self.expression is None
            and self.steps is None
            and not (self.errors or self.tools or self.delegations)
            and self.node_id is None
        )

    def matches(self, row: ActivityRow) -> bool:
        """Whether ``row`` passes every part of the filter that is set."""
        if self.node_id is not None and row.node_id != self.node_id:
            return False
        if self.steps is not None and not self.steps.contains(row.step):
            return False
        if self.errors or self.tools or self.delegations:
            kind = row.kind
            if not (
                (self.errors and (kind in _ERROR_KINDS or row.status == "error"))
                or (self.tools and kind in _TOOL_KINDS)
                or (self.delegations and kind == "delegate")
            ):
                return False
        if self.expression is not None:
            return any(self.expression.matches(WireView(event)) for event in row.events)
        return True


def _index(row: ActivityRow) -> int:
    return row.index


class FilteredRows:
    """The indices of the rows of an :class:`ActivityLog` that pass a filter, in order.

    Args:
        log: The rows to filter.
    """

    def __init__(self, log: ActivityLog) -> None:
        self.log = log
        self.filter = RowFilter()
        self.indices: list[int] = []
        self._seen = 0

    def __len__(self) -> int:
        return len(self.indices)

    def set_filter(self, row_filter: RowFilter) -> None:
        """Apply a new filter to every row (O(rows))."""
        self.filter = row_filter
        rows = self.log.rows
        if row_filter.is_empty:
            self.indices = list(range(len(rows)))
        else:
            matches = row_filter.matches
            self.indices = [row.index for row in rows if matches(row)]
        self._seen = len(rows)

    def update(self, changed: Iterable[ActivityRow]) -> bool:
        """Account for added or changed rows; return whether the shown list changed."""
        matches = self.filter.matches
        indices = self.indices
        altered = False
        for row in sorted({row.index: row for row in changed}.values(), key=_index):
            index = row.index
            passes = matches(row)
            if index >= self._seen:
                if passes:
                    indices.append(index)
                    altered = True
                continue
            position = bisect.bisect_left(indices, index)
            present = position < len(indices) and indices[position] == index
            if passes and not present:
                indices.insert(position, index)
                altered = True
            elif present and not passes:
                del indices[position]
                altered = True
        self._seen = max(self._seen, len(self.log.rows))
        return altered

    def position_of(self, index: int) -> int | None:
        """Where row ``index`` is in the shown list, or ``None`` if it is filtered out."""
        position = bisect.bisect_left(self.indices, index)
        if position < len(self.indices) and self.indices[position] == index:
            return position
        return None

    def row_at(self, position: int) -> ActivityRow:
        """The row shown at ``position``."""
        return self.log.rows[self.indices[position]]
