"""The values :class:`runtime.views.replay.JobReplay` answers with: a job at a cursor."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from runtime.views.activity import OPEN_STATUSES, ActivityRow
from runtime.views.runtree import ACTIVE_STATUSES, RunNode

if TYPE_CHECKING:
    from runtime.events import RunEvent
    from runtime.model import Checkpoint, Message, ToolCall, Usage
    from runtime.views.cost import Cost

__all__ = ["NAVIGATION_KINDS", "CheckpointAt", "Header", "NodeState", "RowState", "fork_pause"]

#: What the cursor can jump to, besides the next or previous ``event``.
NAVIGATION_KINDS = ("step", "error", "delegation", "tool")


@dataclass(frozen=True, slots=True)
class RowState:
    """A timeline row as it was at the cursor.

    It has the attributes of :class:`~runtime.views.activity.ActivityRow` a timeline
    draws, so a widget can draw either. ``status`` is ``"future"`` for a row that did not
    exist yet at the cursor. ``row`` is the row itself, in its final state (its events,
    details).
    """

    row: ActivityRow
    kind: str
    label: str
    status: str
    result: str | None
    tokens: int | None
    cost: Cost | None
    finished_ms: int | None
    text: str

    @classmethod
    def of(cls, row: ActivityRow, values: tuple[Any, ...], now_ms: int) -> RowState:
        kind, label, status, result, tokens, cost, finished_ms, text_length = values
        text = row.text if text_length == len(row.text) else row.text[:text_length]
        return cls(row, kind, label, status, result, tokens, cost, finished_ms, text)

    @classmethod
    def future(cls, row: ActivityRow) -> RowState:
        return cls(row, row.kind, row.label, "future", None, None, None, None, "")

    def __getattr__(self, name: str) -> Any:
        # What never changes (step, expert, actor, node, depth, tool, arguments, start):
        # the row's own.
        return getattr(self.row, name)

    @property
    def is_open(self) -> bool:
        """Whether the row was still running, streaming or waiting at the cursor."""
        return self.status in OPEN_STATUSES

    def duration_ms(self, now_ms: int) -> int | None:
        """How long it took, or had taken at ``now_ms`` (the cursor's time)."""
        if self.kind in ("query", "retry", "error", "stop") or self.status == "future":
            return None
        end = self.finished_ms if self.finished_ms is not None else now_ms
        return max(0, end - self.row.started_ms)


@dataclass(frozen=True, slots=True)
class NodeState:
    """A delegation-tree node as it was at the cursor (see
    :class:`~runtime.views.runtree.RunNode` for the meaning of each figure).

    ``children`` are the children that had started at the cursor; ``elapsed_ms`` its
    active time up to the cursor.
    """

    node: RunNode
    status: str
    steps: int
    tokens: int
    total_steps: int
    total_tokens: int
    total_cost: Cost
    elapsed_ms: int
    children: list[str]

    @classmethod
    def of(cls, node: RunNode, values: tuple[Any, ...], now_ms: int) -> NodeState:
        status, steps, tokens, total_steps, total_tokens, total_cost, since, busy, _, count = values
        elapsed = busy if since is None else busy + max(0, now_ms - since)
        return cls(node, status, steps, tokens, total_steps, total_tokens, total_cost, elapsed,
                   node.children[:count])  # fmt: skip

    @property
    def id(self) -> str:
        return self.node.id

    @property
    def label(self) -> str:
        """``researcher``, or ``researcher #2`` among parallel runs of one Expert."""
        return self.node.label

    @property
    def expert_key(self) -> str:
        return self.node.expert_key

    @property
    def parent_id(self) -> str | None:
        return self.node.parent_id

    @property
    def depth(self) -> int:
        return self.node.depth

    @property
    def query(self) -> str | None:
        return self.node.query

    @property
    def active(self) -> bool:
        return self.status in ACTIVE_STATUSES


@dataclass(frozen=True, slots=True)
class Header:
    """The job's figures at the cursor.

    Attributes:
        step: The step number of the event at the cursor (step N …).
        last_step: The job's highest step number (… of M).
        steps_done: Steps ended by the cursor (every run's; parallel runs share numbers).
        steps_total: Steps the whole job ended.
        tokens: Tokens of the job's generations up to the cursor.
        cost: What those generations cost.
        elapsed_ms: The job's active time up to the cursor (its coordinator's).
        status: The coordinator's status at the cursor (``running``, ``delegating``,
            ``completed`` …).
        event_type: The type of the event at the cursor.
        timestamp: When that event happened.
    """

    step: int
    last_step: int
    steps_done: int
    steps_total: int
    tokens: int
    cost: Cost
    elapsed_ms: int
    status: str
    event_type: str
    timestamp: int | None


@dataclass(frozen=True)
class CheckpointAt:
    """What the Expert acting at the cursor held.

    Attributes:
        checkpoint: Its latest checkpoint at the cursor, whole (the end of its last step,
            or the one its run started from).
        node_id: Its node in the delegation tree.
        event_index: The cursor position of the event that carried the checkpoint.
        stored: The checkpoint is one a fork can start from (``perstack fork <job>
            <checkpoint.id>``): the end of a step. ``False`` for a run's starting point.
        waiting: Its tool, delegate and interactive calls still open at the cursor.
    """

    checkpoint: Checkpoint
    node_id: str
    event_index: int
    stored: bool
    waiting: list[RowState]

    @property
    def messages(self) -> list[Message]:
        return self.checkpoint.messages

    @property
    def todos(self) -> list[Any]:
        """The todo list (``checkpoint.metadata.todos``), empty when there is none."""
        todos = (self.checkpoint.metadata or {}).get("todos")
        return list(todos) if isinstance(todos, list) else []

    @property
    def usage(self) -> Usage:
        return self.checkpoint.usage

    @property
    def pending_tool_calls(self) -> list[ToolCall]:
        """Calls waiting for a result at the cursor: the checkpoint's own pending calls,
        then those made since it and not answered yet."""
        from runtime.model import ToolCall

        calls = list(self.checkpoint.pending_tool_calls or [])
        known = {call.id for call in calls}
        for row in self.waiting:
            if row.tool_call_id and row.tool_call_id not in known:
                known.add(row.tool_call_id)
                calls.append(
                    ToolCall(id=row.tool_call_id, skill_name=row.skill_name or "",
                             tool_name=row.tool_name or "", args=row.args or {})
                )  # fmt: skip
        return calls


def fork_pause(job: dict[str, Any] | None, events: list[RunEvent]) -> tuple[int, int] | None:
    """``(start, end)`` of the time a forked job was not running: from the last event of
    the history it copied (older than the job) to its first own event. ``None`` for a job
    that is not a fork, or has no events of its own yet."""
    if not job or not job.get("forkedFrom") or not events:
        return None
    started = job.get("startedAt")
    if not isinstance(started, int):
        return None
    before = [event.timestamp for event in events if event.timestamp < started]
    after = [event.timestamp for event in events if event.timestamp >= started]
    if not before or not after:
        return None
    return max(before), min(after)
