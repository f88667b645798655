"""A cursor in time over a job's events: the job as it was at any event.

:class:`JobReplay` reads a job's events once (slim: no histories), derives its timeline
rows (:mod:`.activity`) and delegation tree (:mod:`.runtree`) to the end, and records
*when* each row and node took each of its values. The state at a cursor is then looked
up, not recomputed: which rows exist, each row's status, result and streamed text, each
tree node's status, steps, tokens and time, and the header's figures, all as they were
just after the event at the cursor. Moving the cursor anywhere costs a few binary
searches (well under a millisecond on a 10,000-event job; see ``bench/bench_replay.py``).

The cursor is an index into :attr:`JobReplay.events`; "at the cursor" means "after that
event happened". Navigation (:meth:`JobReplay.find`, :meth:`JobReplay.next_step`, …) moves
between steps, events, errors, delegations and tool calls; :meth:`JobReplay.gap_ms` gives
the recorded pace for playing the job back. :meth:`JobReplay.checkpoint_at` reads what
the acting Expert held at the cursor (its messages, todos, usage, pending tool calls)
from the job's storage, and :meth:`JobReplay.fork_point` names the stored checkpoint a
fork from the cursor starts from (``perstack fork``).

Example:
    >>> source = open_job("./bug-report/perstack/jobs/abc")       # or an id, a .jsonl
    >>> replay = JobReplay.from_source(source)
    >>> replay.go_to_step(12)
    >>> replay.header().step, replay.header().tokens
    >>> [replay.row_at(row).status for row in replay.visible_rows()]
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from runtime._gcpause import paused_gc
from runtime.views._replay_nav import ReplayNavigation
from runtime.views._replay_state import (
    NAVIGATION_KINDS,
    CheckpointAt,
    Header,
    NodeState,
    RowState,
    fork_pause,
)
from runtime.views.activity import ActivityLog, ActivityRow
from runtime.views.cost import Cost, CostMeter, run_models
from runtime.views.event_refs import EventRef, read_stored_event
from runtime.views.runtree import STEP_END_TYPES, RunNode, RunTree

if TYPE_CHECKING:
    from runtime.events import RunEvent
    from runtime.model import Checkpoint
    from runtime.storage.base import Storage
    from runtime.storage.records import EventFileRef
    from runtime.storage.sources import JobSource
    from runtime.views.cost import PriceBook

__all__ = [
    "NAVIGATION_KINDS",
    "CheckpointAt",
    "Header",
    "JobReplay",
    "NodeState",
    "RowState",
]

_ERROR_EVENTS = frozenset({"retry", "stopRunByError"})
_CHECKPOINT_EVENTS = STEP_END_TYPES | {"startRun"}
#: Whole checkpoints kept after reading (a long job's histories are large).
_CHECKPOINTS_KEPT = 8


class JobReplay(ReplayNavigation):
    """One job's events with a cursor, and the job's state at any cursor.

    Navigation (:meth:`find`, :meth:`move`, :meth:`next_step`, :meth:`go_to_step`,
    :meth:`gap_ms`, :meth:`play_delay_ms` …) is described in
    :class:`~runtime.views._replay_nav.ReplayNavigation`.

    Args:
        events: The job's run events in order (slim ones are enough: see
            :meth:`runtime.storage.sources.JobSource.events`).
        storage: The job's store, for :meth:`checkpoint_at` (whole histories are read
            from it on demand); ``None`` when there is none.
        job_id: The job's id in ``storage``.
        job: The job's record (``job.json``); a fork's record tells where its copied
            history ends, so that the time between the two is not counted as elapsed.
        refs: Each event's stored file (one per event, in the same order), so whole events
            are read back without looking for them.

    Attributes:
        events: The events (index = cursor position).
        rows: Every timeline row of the whole job, in their final state; use
            :meth:`row_at` for a row as it was at the cursor.
        tree: The delegation tree of the whole job; use :meth:`node_at` / :meth:`nodes_at`
            for its nodes as they were at the cursor.
        cursor: The current position (``0`` … ``len(events) - 1``; ``-1`` for no events).
    """

    def __init__(
        self,
        events: Iterable[RunEvent],
        *,
        storage: Storage | None = None,
        job_id: str | None = None,
        job: dict[str, Any] | None = None,
        refs: list[EventFileRef] | None = None,
        prices: PriceBook | None = None,
    ) -> None:
        self.events: list[RunEvent] = list(events)
        self._refs = refs if refs is not None and len(refs) == len(self.events) else None
        self.storage = storage
        self.job_id = job_id or (self.events[0].job_id if self.events else None)
        self.job = job
        costs = CostMeter(prices)
        if storage is not None and self.job_id:
            # Stored events hold no initializeRuntime: the runs' settings name the models.
            costs.set_run_models(run_models(storage.list_runs(self.job_id)))
        self.activity = ActivityLog(costs)
        self.tree = RunTree(costs)
        self.pause = fork_pause(job, self.events)
        #: row index -> cursor positions where it changed, and its values at each.
        self._row_at: list[list[int]] = []
        self._row_values: list[list[tuple[Any, ...]]] = []
        self._row_created: list[int] = []
        self._node_at: dict[str, list[int]] = {}
        self._node_values: dict[str, list[tuple[Any, ...]]] = {}
        self._node_created: dict[str, int] = {}
        self._node_order: list[str] = []
        self._run_node: dict[str, str] = {}
        self._node_rows: dict[str, list[int]] = {}
        self._node_checkpoints: dict[str, list[int]] = {}
        self._marks: dict[str, list[int]] = {kind: [] for kind in NAVIGATION_KINDS}
        self._max_step: list[int] = []
        self._steps_done: list[int] = []
        self._first_end_of_step: dict[int, int] = {}
        self._first_of_step: dict[int, int] = {}
        self._index_of_id: dict[str, int] = {}
        self._checkpoints: dict[int, Checkpoint | None] = {}
        with paused_gc():
            self._build()
        self.cursor = len(self.events) - 1

    @classmethod
    def from_source(cls, source: JobSource, prices: PriceBook | None = None) -> JobReplay:
        """The replay of a job opened with :func:`runtime.storage.sources.open_job`, its
        money figures priced by ``prices`` (``perstack.toml``'s, or the price library's)."""
        entries = source.entries()
        return cls(
            [event for _, event in entries],
            storage=source.storage,
            job_id=source.job_id,
            job=source.job_data(),
            refs=[ref for ref, _ in entries],
            prices=prices,
        )

    # --- building the index, once --------------------------------------------------------

    def _build(self) -> None:
        activity, tree, marks = self.activity, self.tree, self._marks
        max_step = steps_done = 0
        pause = self.pause
        for index, event in enumerate(self.events):
            if (
                pause is not None
                and event.timestamp >= pause[1]
                and index
                and (self.events[index - 1].timestamp < pause[1])
            ):
                for node_id in tree.pause(*pause):
                    self._record_node(tree.nodes[node_id], index)
            self._index_of_id[event.id] = index
            kind = event.type
            step = event.step_number
            max_step = max(max_step, step)
            self._first_of_step.setdefault(step, index)
            rows = activity.feed(event)
            for row in rows:
                self._record_row(row, index)
                if row.status == "error" and kind not in _ERROR_EVENTS:
                    _add_mark(marks["error"], index)  # a tool that failed
            for node_id in tree.feed(event):
                self._record_node(tree.nodes[node_id], index)
            node = tree.node_of_run(event.run_id)
            if node is not None:
                self._run_node[event.run_id] = node.id
                if kind in _CHECKPOINT_EVENTS:
                    self._node_checkpoints.setdefault(node.id, []).append(index)
            if kind in STEP_END_TYPES:
                steps_done += 1
                _add_mark(marks["step"], index)
                self._first_end_of_step.setdefault(step, index)
            if kind in _ERROR_EVENTS:
                _add_mark(marks["error"], index)
            elif kind == "callDelegate":
                _add_mark(marks["delegation"], index)
            elif kind == "callTools":
                _add_mark(marks["tool"], index)
            self._max_step.append(max_step)
            self._steps_done.append(steps_done)

    def _record_row(self, row: ActivityRow, index: int) -> None:
        if row.index == len(self._row_at):
            self._row_at.append([])
            self._row_values.append([])
            self._row_created.append(index)
            self._node_rows.setdefault(row.node_id, []).append(row.index)
        values = (row.kind, row.label, row.status, row.result, row.tokens, row.cost,
                  row.finished_ms, len(row.text))  # fmt: skip
        at, kept = self._row_at[row.index], self._row_values[row.index]
        if at and at[-1] == index:
            kept[-1] = values
        else:
            at.append(index)
            kept.append(values)

    def _record_node(self, node: RunNode, index: int) -> None:
        at = self._node_at.get(node.id)
        if at is None:
            at = self._node_at[node.id] = []
            self._node_values[node.id] = []
            self._node_created[node.id] = index
            self._node_order.append(node.id)
        values = (node.status, node.steps, node.tokens, node.total_steps, node.total_tokens,
                  node.total_cost, node.busy_since, node.busy_ms, node.last_ms,
                  len(node.children))  # fmt: skip
        kept = self._node_values[node.id]
        if at and at[-1] == index:
            kept[-1] = values
        else:
            at.append(index)
            kept.append(values)

    # --- the cursor ------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self.events)

    @property
    def event(self) -> RunEvent | None:
        """The event at the cursor (``None`` for a job without events)."""
        return self.events[self.cursor] if self.cursor >= 0 else None

    def index_of(self, event_id: str) -> int | None:
        """The cursor position of the event with this id."""
        return self._index_of_id.get(event_id)

    # --- the state at a cursor --------------------------------------------------------------

    def visible_count(self, cursor: int | None = None) -> int:
        """How many rows existed at the cursor (they are ``rows[:count]``)."""
        return bisect_right(self._row_created, self._at(cursor))

    def visible_rows(self, cursor: int | None = None) -> list[ActivityRow]:
        """The rows that existed at the cursor, in timeline order."""
        return self.rows[: self.visible_count(cursor)]

    @property
    def rows(self) -> list[ActivityRow]:
        """Every row of the job (final state)."""
        return self.activity.rows

    def row_at(self, row: ActivityRow | int, cursor: int | None = None) -> RowState:
        """A row as it was at the cursor (``status == "future"`` if it did not exist yet)."""
        row = self.rows[row] if isinstance(row, int) else row
        cursor = self._at(cursor)
        at = self._row_at[row.index]
        position = bisect_right(at, cursor) - 1
        if position < 0:
            return RowState.future(row)
        return RowState.of(
            row, self._row_values[row.index][position], self.events[cursor].timestamp
        )

    def rows_at(
        self, start: int = 0, stop: int | None = None, cursor: int | None = None
    ) -> list[RowState]:
        """Rows ``start:stop`` of those visible at the cursor, as they were then."""
        count = self.visible_count(cursor)
        stop = count if stop is None else min(stop, count)
        return [self.row_at(index, cursor) for index in range(start, stop)]

    def node_at(self, node_id: str, cursor: int | None = None) -> NodeState | None:
        """A delegation-tree node as it was at the cursor, or ``None`` before it started."""
        cursor = self._at(cursor)
        at = self._node_at.get(node_id)
        position = -1 if at is None else bisect_right(at, cursor) - 1
        if position < 0:
            return None
        node = self.tree.nodes[node_id]
        now = self.events[cursor].timestamp
        return NodeState.of(node, self._node_values[node_id][position], now)

    def nodes_at(self, cursor: int | None = None) -> dict[str, NodeState]:
        """Every node that had started at the cursor, in the order they started."""
        cursor = self._at(cursor)
        states = {}
        for node_id in self._node_order:
            if self._node_created[node_id] > cursor:
                continue
            state = self.node_at(node_id, cursor)
            if state is not None:
                states[node_id] = state
        return states

    def root_ids_at(self, cursor: int | None = None) -> list[str]:
        """The tree's roots that had started at the cursor."""
        cursor = self._at(cursor)
        return [r for r in self.tree.root_ids if self._node_created.get(r, cursor + 1) <= cursor]

    def header(self, cursor: int | None = None) -> Header:
        """The job's figures at the cursor: step N of M, steps done, tokens, elapsed."""
        cursor = self._at(cursor)
        if cursor < 0:
            return Header(0, 0, 0, 0, 0, Cost(), 0, "", "", None)
        event = self.events[cursor]
        roots = [s for r in self.root_ids_at(cursor) if (s := self.node_at(r, cursor))]
        status = roots[0].status if roots else "running"
        return Header(
            step=event.step_number,
            last_step=self._max_step[-1],
            steps_done=self._steps_done[cursor],
            steps_total=self._steps_done[-1],
            tokens=sum(s.total_tokens for s in roots),
            cost=sum((s.total_cost for s in roots), Cost()),
            elapsed_ms=max((s.elapsed_ms for s in roots), default=0),
            status=status,
            event_type=event.type,
            timestamp=event.timestamp,
        )

    def node_of_event(self, cursor: int | None = None) -> str | None:
        """The tree node of the run acting at the cursor."""
        cursor = self._at(cursor)
        return None if cursor < 0 else self._run_node.get(self.events[cursor].run_id)

    # --- checkpoints -----------------------------------------------------------------------

    def _checkpoint_index(self, node_id: str, cursor: int, *, stored_only: bool) -> int | None:
        indices = self._node_checkpoints.get(node_id, [])
        position = bisect_right(indices, cursor) - 1
        while position >= 0:
            index = indices[position]
            if not stored_only or self.events[index].type != "startRun":
                return index
            position -= 1
        return None

    def fork_point(self, cursor: int | None = None) -> tuple[str, str] | None:
        """``(run id, checkpoint id)`` a fork from the cursor starts from: the last stored
        checkpoint (the end of a step) of the Expert acting at the cursor, or ``None``
        before its first step ended."""
        cursor = self._at(cursor)
        node_id = self.node_of_event(cursor)
        if node_id is None:
            return None
        index = self._checkpoint_index(node_id, cursor, stored_only=True)
        if index is None:
            return None
        checkpoint = self.events[index].checkpoint  # type: ignore[attr-defined]
        return checkpoint.run_id, checkpoint.id

    def checkpoint_at(self, cursor: int | None = None) -> CheckpointAt | None:
        """What the Expert acting at the cursor held then: its latest checkpoint (whole,
        read from storage), and the tool calls still waiting for results at the cursor.

        ``None`` without storage, or when the job has no events.
        """
        cursor = self._at(cursor)
        node_id = self.node_of_event(cursor)
        if node_id is None or self.storage is None or self.job_id is None:
            return None
        index = self._checkpoint_index(node_id, cursor, stored_only=False)
        if index is None:
            return None
        event = self.events[index]
        checkpoint = self._read_checkpoint(index)
        if checkpoint is None:
            return None
        return CheckpointAt(
            checkpoint=checkpoint,
            node_id=node_id,
            event_index=index,
            stored=event.type != "startRun",
            waiting=self._open_calls(node_id, cursor),
        )

    def _read_checkpoint(self, index: int) -> Checkpoint | None:
        """The whole checkpoint event ``index`` carried, read once: moving the cursor
        back and forth over a step does not read and parse its history again."""
        if index in self._checkpoints:
            return self._checkpoints[index]
        event = self.events[index]
        field = "initialCheckpoint" if event.type == "startRun" else "checkpoint"
        data = self.stored_event(index)
        checkpoint = None
        if data is not None and isinstance(data.get(field), dict):
            from runtime.model import Checkpoint

            checkpoint = Checkpoint.model_validate(data[field])
        if len(self._checkpoints) >= _CHECKPOINTS_KEPT:
            self._checkpoints.pop(next(iter(self._checkpoints)))
        self._checkpoints[index] = checkpoint
        return checkpoint

    def stored_event(self, index: int) -> dict[str, Any] | None:
        """The whole JSON of event ``index`` (histories rebuilt), read from storage."""
        if self.storage is None or self.job_id is None:
            return None
        if self._refs is not None:
            document = self.storage.read_event_raw(self._refs[index])
            if document is not None and document.data.get("id") == self.events[index].id:
                return document.data
        return read_stored_event(self.storage, self.job_id, EventRef.of(self.events[index]))

    def _open_calls(self, node_id: str, cursor: int) -> list[RowState]:
        """The node's tool, delegate and interactive rows still open at the cursor."""
        found = []
        indices = self._node_rows.get(node_id, [])
        position = bisect_right(indices, self.visible_count(cursor) - 1)
        step = None
        for row_index in reversed(indices[:position]):
            row = self.rows[row_index]
            step = row.step if step is None else step
            if row.step < step - 1:
                break  # earlier steps' calls were all answered before this one began
            if row.kind in ("tool", "delegate", "interactive"):
                state = self.row_at(row, cursor)
                if state.is_open:
                    found.append(state)
        found.reverse()
        return found


def _add_mark(marks: list[int], index: int) -> None:
    if not marks or marks[-1] != index:
        marks.append(index)
