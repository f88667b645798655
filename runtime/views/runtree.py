"""A job's runs as a tree, kept up to date one event at a time.

The coordinator is the root; every delegation adds a child under the Expert that
delegated, and the children of a parallel delegation are siblings. One node stands for
one *invocation* of an Expert, whatever number of run segments it took: a parent resumed
after its delegates answer (a new ``runId``) is the same node as before, because the
runtime keeps its ``delegatedBy``. A node's identity is therefore the delegation that
created it (``delegatedBy.toolCallId``), or :data:`ROOT` for the coordinator.

Each node counts its own steps, tokens and (given a :class:`~runtime.views.cost.CostMeter`)
money, and carries totals rolled up from its descendants; feeding one event costs
O(depth) at most (usually O(1)).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from runtime.storage.records import STEP_END_TYPES
from runtime.views.cost import GENERATION_TYPES, Cost

if TYPE_CHECKING:
    from runtime.events import BaseEvent
    from runtime.model import Checkpoint
    from runtime.views.cost import CostMeter

__all__ = [
    "ROOT",
    "STEP_END_TYPES",
    "RunNode",
    "RunTree",
    "generation_tokens",
    "node_key",
    "parallel_ordinals",
    "actor_label",
]

#: The id of the coordinator's node.
ROOT = "root"
_STATUS_BY_STOP = {
    "completeRun": "completed",
    "stopRunByError": "error",
    "stopRunByDelegate": "delegating",
    "stopRunByInteractiveTool": "waiting",
    "stopRunByExceededMaxSteps": "maxSteps",
}
#: Statuses in which a node is still doing something.
ACTIVE_STATUSES = frozenset({"running", "delegating"})


def node_key(checkpoint: Checkpoint) -> str:
    """The node a run belongs to: its delegation's tool call id, or :data:`ROOT`."""
    delegated_by = checkpoint.delegated_by
    return ROOT if delegated_by is None else delegated_by.tool_call_id


def parallel_ordinals(calls: Iterable[tuple[str, str]]) -> dict[str, int]:
    """``tool call id -> 1, 2, …`` for the calls of one delegation that go to the same
    delegate as another call of it (parallel runs of one Expert); others are left out.

    Args:
        calls: ``(tool call id, tool name)`` of a delegation's calls, in order.
    """
    calls = list(calls)
    counts: dict[str, int] = {}
    for _, name in calls:
        counts[name] = counts.get(name, 0) + 1
    ordinals: dict[str, int] = {}
    seen: dict[str, int] = {}
    for call_id, name in calls:
        if counts[name] > 1:
            seen[name] = seen.get(name, 0) + 1
            ordinals[call_id] = seen[name]
    return ordinals


def actor_label(expert_key: str, ordinal: int | None) -> str:
    """How an Expert's run is named on screen: ``researcher``, or ``researcher #2`` when
    it is one of several parallel runs of that Expert."""
    return expert_key if ordinal is None else f"{expert_key} #{ordinal}"


def generation_tokens(event: BaseEvent) -> int | None:
    """The tokens of the model generation an event reports, counted exactly once per job.

    A step's generation is reported by ``callTools`` (``callDelegate`` and
    ``callInteractiveTool`` repeat the same usage, so they are not counted), a
    completion's final generation by ``completeRun``, a failed one by ``retry``, and a
    completion an MCP server asked for during a tool call by ``skillSampling``.
    """
    if event.type in GENERATION_TYPES:
        return event.usage.total_tokens  # type: ignore[attr-defined]
    return None


@dataclass(slots=True)
class RunNode:
    """One invocation of an Expert in the job.

    Attributes:
        id: :data:`ROOT` or the delegation's tool call id.
        expert_key: The Expert.
        parent_id: The delegating node (``None`` for the root).
        depth: 0 for the root, 1 for its delegates, …
        query: What the Expert was asked (the first query for the root).
        status: ``running``, ``delegating``, ``waiting`` (an interactive tool),
            ``completed``, ``error``, ``maxSteps`` or ``stopped`` (cancelled).
        steps: Steps this node ran itself.
        tokens: Tokens of this node's own generations.
        total_steps: ``steps`` plus every descendant's.
        total_tokens: ``tokens`` plus every descendant's.
        cost: What this node's own generations cost (see :mod:`runtime.views.cost`).
        total_cost: ``cost`` plus every descendant's.
        started_ms: Timestamp of the node's first event.
        last_ms: Timestamp of its latest event.
        busy_since: When the current active period began (``None`` when idle).
        busy_ms: Length of the finished active periods. A node is active from a start
            until it completes, fails, waits for an answer or is cancelled; waiting for
            its delegates counts as active, waiting for the user does not.
        children: Child node ids, in the order they started.
        run_ids: The run segments of this node.
        ordinal: ``k`` when this is the k-th of several parallel runs of its Expert in one
            delegation (``None`` otherwise); see :attr:`label`.
    """

    id: str
    expert_key: str
    parent_id: str | None
    depth: int
    query: str | None = None
    status: str = "running"
    steps: int = 0
    tokens: int = 0
    total_steps: int = 0
    total_tokens: int = 0
    cost: Cost = field(default_factory=Cost)
    total_cost: Cost = field(default_factory=Cost)
    started_ms: int = 0
    last_ms: int = 0
    busy_since: int | None = None
    busy_ms: int = 0
    children: list[str] = field(default_factory=list)
    run_ids: list[str] = field(default_factory=list)
    ordinal: int | None = None

    @property
    def label(self) -> str:
        """The Expert's key, numbered among parallel runs of it (``researcher #2``)."""
        return actor_label(self.expert_key, self.ordinal)

    @property
    def active(self) -> bool:
        """Whether the node (or a delegate it waits for) is still working."""
        return self.status in ACTIVE_STATUSES

    def elapsed_ms(self, now_ms: int) -> int:
        """Time spent active, counting the current period up to ``now_ms``."""
        if self.busy_since is None:
            return self.busy_ms
        return self.busy_ms + max(0, now_ms - self.busy_since)

    def _idle(self, at_ms: int) -> None:
        if self.busy_since is not None:
            self.busy_ms += max(0, at_ms - self.busy_since)
            self.busy_since = None


class RunTree:
    """The delegation tree of one job, built incrementally from its events.

    Args:
        costs: Prices the generations for the nodes' money figures (none: they stay 0).
    """

    def __init__(self, costs: CostMeter | None = None) -> None:
        self.costs = costs
        self.nodes: dict[str, RunNode] = {}
        self.root_ids: list[str] = []
        self._run_node: dict[str, str] = {}
        self._ordinals: dict[str, int] = {}

    def node_of_run(self, run_id: str) -> RunNode | None:
        """The node a run segment belongs to, once its ``startRun`` was seen."""
        node_id = self._run_node.get(run_id)
        return None if node_id is None else self.nodes[node_id]

    def ancestors(self, node_id: str) -> list[str]:
        """The ids of a node's parent, grandparent, … up to the root."""
        found = []
        parent = self.nodes[node_id].parent_id
        while parent is not None:
            found.append(parent)
            parent = self.nodes[parent].parent_id
        return found

    def feed(self, event: BaseEvent) -> set[str]:
        """Apply one event; return the ids of nodes whose shown values changed."""
        kind = event.type
        cost = self.costs.feed(event) if self.costs is not None else None
        if kind == "startRun":
            return self._start(event)
        node_id = self._run_node.get(event.run_id)
        if node_id is None:
            return set()  # runtime events before startRun, or a run we never saw start
        node = self.nodes[node_id]
        node.last_ms = event.timestamp
        changed = {node_id}
        if kind == "callDelegate":
            calls = event.tool_calls  # type: ignore[attr-defined]
            self._ordinals.update(parallel_ordinals((c.id, c.tool_name) for c in calls))
        tokens = generation_tokens(event)
        if tokens:
            node.tokens += tokens
        if cost is not None:
            node.cost += cost
        if tokens or cost is not None:
            changed |= self._roll_up(node, tokens=tokens or 0, cost=cost)
        if kind in STEP_END_TYPES:
            node.steps += 1
            changed |= self._roll_up(node, steps=1)
            node.status = _STATUS_BY_STOP.get(kind, node.status)
            if not node.active:
                node._idle(event.timestamp)
        return changed

    def pause(self, start_ms: int, end_ms: int) -> set[str]:
        """Nothing ran from ``start_ms`` to ``end_ms`` (a fork's copied history ends, its
        own steps begin): that time counts as no node's active time."""
        changed = set()
        for node in self.nodes.values():
            if node.busy_since is not None and node.busy_since < end_ms:
                node.busy_ms += max(0, start_ms - node.busy_since)
                node.busy_since = end_ms
                changed.add(node.id)
        return changed

    def mark_stopped(self, at_ms: int) -> set[str]:
        """The job was cancelled: every active node becomes ``stopped``."""
        changed = set()
        for node in self.nodes.values():
            if node.active:
                node.status = "stopped"
                node._idle(at_ms)
                changed.add(node.id)
        return changed

    def _start(self, event: BaseEvent) -> set[str]:
        checkpoint: Checkpoint = event.initial_checkpoint  # type: ignore[attr-defined]
        node_id = node_key(checkpoint)
        node = self.nodes.get(node_id)
        changed = {node_id}
        if node is None:
            parent_id = self._parent_of(checkpoint, event.timestamp)
            depth = 0 if parent_id is None else self.nodes[parent_id].depth + 1
            node = RunNode(
                id=node_id,
                expert_key=checkpoint.expert.key,
                parent_id=parent_id,
                depth=depth,
                started_ms=event.timestamp,
                ordinal=self._ordinals.get(node_id),
            )
            self.nodes[node_id] = node
            if parent_id is None:
                self.root_ids.append(node_id)
            else:
                self.nodes[parent_id].children.append(node_id)
                changed.add(parent_id)
        node.run_ids.append(event.run_id)
        self._run_node[event.run_id] = node_id
        node.status = "running"
        if node.busy_since is None:
            node.busy_since = event.timestamp
        node.last_ms = event.timestamp
        if node.query is None:
            node.query = _query_text(event)
        return changed

    def _parent_of(self, checkpoint: Checkpoint, timestamp: int) -> str | None:
        delegated_by = checkpoint.delegated_by
        if delegated_by is None:
            return None
        parent = self._run_node.get(delegated_by.run_id)
        if parent is not None:
            return parent
        # The delegating run started before what we were fed (a job resumed inside a
        # delegate): hang the node under the root, creating it for the delegating Expert.
        if ROOT not in self.nodes:
            self.nodes[ROOT] = RunNode(
                id=ROOT, expert_key=delegated_by.expert.key, parent_id=None, depth=0,
                status="delegating", started_ms=timestamp, busy_since=timestamp,
            )  # fmt: skip
            self.root_ids.append(ROOT)
        return ROOT

    def _roll_up(
        self, node: RunNode, *, steps: int = 0, tokens: int = 0, cost: Cost | None = None
    ) -> set[str]:
        changed = set()
        current: RunNode | None = node
        while current is not None:
            current.total_steps += steps
            current.total_tokens += tokens
            if cost is not None:
                current.total_cost += cost
            changed.add(current.id)
            current = self.nodes[current.parent_id] if current.parent_id else None
        return changed


def _query_text(event: BaseEvent) -> str | None:
    for message in event.input_messages:  # type: ignore[attr-defined]
        if message.type == "userMessage":
            return "".join(getattr(part, "text", "") for part in message.contents) or None
    return None
