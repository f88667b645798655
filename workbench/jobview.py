"""Everything the screen shows about one job, fed by batches of events (no Textual).

The derivations live in ``runtime`` (:mod:`runtime.views.activity`, :mod:`runtime.views.runtree`,
:mod:`runtime.views.timeline_filter`); this class only feeds them together and keeps the
job-level figures the header shows.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from runtime.views.activity import ActivityLog, ActivityRow
from runtime.views.cost import (
    FREE_PROVIDERS,
    Cost,
    CostMeter,
    PriceBook,
    preload_in_background,
)
from runtime.views.runtree import RunTree
from runtime.views.timeline_filter import FilteredRows, RowFilter

if TYPE_CHECKING:
    from runtime.config.models import PerstackConfig
    from runtime.events import BaseEvent

__all__ = ["JobView", "JobUpdate"]


@dataclass
class JobUpdate:
    """What one batch changed.

    Attributes:
        rows: Rows added or changed.
        shown_changed: The list of rows that pass the filter changed (added, removed).
        nodes: Delegation-tree nodes whose figures changed.
    """

    rows: list[ActivityRow] = field(default_factory=list)
    shown_changed: bool = False
    nodes: set[str] = field(default_factory=set)


class JobView:
    """One job's timeline rows, delegation tree and filter.

    Args:
        prices: Where money figures come from (``perstack.toml``'s ``[prices]``, the price
            library); the default knows the library's prices only.
    """

    def __init__(self, prices: PriceBook | None = None) -> None:
        #: Prices each generation once, for the rows and the tree alike.
        self.costs = CostMeter(prices)
        self.activity = ActivityLog(self.costs)
        self.tree = RunTree(self.costs)
        self.shown = FilteredRows(self.activity)
        self.job_id: str | None = None
        self.events = 0
        self.max_step = 0
        #: The most recent row still streaming text (what the live panel shows).
        self.live: ActivityRow | None = None

    @classmethod
    def priced(cls, config: PerstackConfig | None) -> JobView:
        """A view whose money figures use ``config``'s ``[prices]`` (``None``: the library's).

        Unless the project runs offline, the price library's table starts loading in the
        background now, so pricing the first generation does not stall the screen.
        """
        if config is None or config.provider.provider_name not in FREE_PROVIDERS:
            preload_in_background()
        return cls(PriceBook.from_config(config))

    @property
    def rows(self) -> list[ActivityRow]:
        """Every row, filtered or not."""
        return self.activity.rows

    @property
    def tokens(self) -> int:
        """Tokens of the whole job so far."""
        return sum(self.tree.nodes[node].total_tokens for node in self.tree.root_ids)

    @property
    def cost(self) -> Cost:
        """What the whole job's generations cost so far."""
        return sum((self.tree.nodes[node].total_cost for node in self.tree.root_ids), Cost())

    def elapsed_ms(self, now_ms: int) -> int:
        """Active time of the job (its coordinator's)."""
        return max(
            (self.tree.nodes[node].elapsed_ms(now_ms) for node in self.tree.root_ids), default=0
        )

    def apply(self, events: Iterable[BaseEvent]) -> JobUpdate:
        """Feed a batch of events (in order); return what changed."""
        update = JobUpdate()
        changed: dict[int, ActivityRow] = {}
        for event in events:
            self.events += 1
            if self.job_id is None:
                self.job_id = event.job_id
            step = getattr(event, "step_number", None)
            if step is not None and step > self.max_step:
                self.max_step = step
            for row in self.activity.feed(event):
                changed[row.index] = row
                if row.status == "streaming":
                    self.live = row
            update.nodes |= self.tree.feed(event)
        if self.live is not None and self.live.status != "streaming":
            self.live = None
        update.rows = list(changed.values())
        update.shown_changed = self.shown.update(update.rows)
        return update

    def stop(self, at_ms: int) -> JobUpdate:
        """The run was cancelled: open rows and active nodes become ``stopped``."""
        rows = self.activity.mark_stopped(at_ms)
        self.live = None
        return JobUpdate(rows=rows, shown_changed=self.shown.update(rows), nodes=self.tree.mark_stopped(at_ms))

    def set_filter(self, row_filter: RowFilter) -> None:
        """Show only the rows that pass ``row_filter``."""
        self.shown.set_filter(row_filter)
