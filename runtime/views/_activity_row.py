"""One line of the timeline (:class:`ActivityRow`), as :mod:`runtime.views.activity` makes it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from runtime.views.event_refs import EventRef, slim_event

if TYPE_CHECKING:
    from runtime.events import BaseEvent
    from runtime.views.cost import Cost
    from runtime.views.skill_rows import Progress

__all__ = ["OPEN_STATUSES", "ROW_KINDS", "ActivityRow"]

ROW_KINDS = (
    "query", "reasoning", "tool", "delegate", "interactive", "completion", "retry", "error",
    "stop",
)  # fmt: skip
#: Row statuses still expected to change.
OPEN_STATUSES = frozenset({"running", "streaming", "waiting"})


class ActivityRow:
    """One line of the timeline.

    Attributes:
        index: Position in :attr:`ActivityLog.rows`.
        kind: One of :data:`ROW_KINDS`.
        step: The job-wide step number.
        expert_key: The Expert acting.
        actor: How the Expert is shown: its key, numbered when it is one of several
            parallel runs of that Expert (``researcher #2``).
        run_id: The run segment it happened in.
        node_id: Its node in the delegation tree (see :mod:`runtime.views.runtree`).
        depth: Delegation depth (0 for the coordinator).
        label: What happened, on one line (tool and short arguments, query, …).
        status: ``running``, ``streaming``, ``waiting``, ``done``, ``error`` or ``stopped``.
        tool_call_id: For tool, delegate and interactive rows.
        tool_name: The tool (or delegate) called.
        skill_name: The skill owning the tool.
        args: The call's arguments.
        result: The result's text (tool rows), the answer (delegate, interactive rows).
        tokens: Tokens of the generation this row starts (``None`` for later rows of it).
        cost: What that generation cost (see :mod:`runtime.views.cost`), beside ``tokens``.
        started_ms: When it began.
        finished_ms: When it ended (``None`` while open).
        events: Slim copies of the events behind the row (see :func:`slim_event`).
        refs: Where those events are stored.
        generation: The ``startGeneration`` of the step: the messages sent to the model.
        progress: The last progress an MCP server reported for the call (tool rows).
        version: Bumped on every change (for render caches).
    """

    __slots__ = (
        "index", "kind", "step", "expert_key", "actor", "run_id", "node_id", "depth", "label",
        "status", "tool_call_id", "tool_name", "skill_name", "args", "result", "tokens",
        "cost", "started_ms", "finished_ms", "events", "refs", "generation", "progress",
        "version", "_chunks", "_text",
    )  # fmt: skip

    def __init__(self, index: int, kind: str, event: BaseEvent, run: _RunState) -> None:
        self.index = index
        self.kind = kind
        self.step: int = event.step_number  # type: ignore[attr-defined]
        self.expert_key: str = event.expert_key  # type: ignore[attr-defined]
        self.actor = run.actor or self.expert_key
        self.run_id = event.run_id
        self.node_id = run.node_id
        self.depth = run.depth
        self.label = ""
        self.status = "done"
        self.tool_call_id: str | None = None
        self.tool_name: str | None = None
        self.skill_name: str | None = None
        self.args: Any = None
        self.result: str | None = None
        self.tokens: int | None = None
        self.cost: Cost | None = None
        self.started_ms = event.timestamp
        self.finished_ms: int | None = None
        self.events: list[BaseEvent] = []
        self.refs: list[EventRef] = []
        self.generation = run.generation
        self.progress: Progress | None = None
        self.version = 0
        self._chunks: list[str] = []
        self._text: str | None = ""

    @property
    def text(self) -> str:
        """The streamed text of a reasoning or completion row (empty for others)."""
        if self._text is None:
            self._text = "".join(self._chunks)
        return self._text

    def _append(self, delta: str) -> None:
        self._chunks.append(delta)
        self._text = None

    def _set_text(self, text: str) -> None:
        self._chunks = [text]
        self._text = text

    def add_event(self, event: BaseEvent) -> None:
        """Attach an event (slimmed) to the row."""
        self.events.append(slim_event(event))
        if hasattr(event, "step_number"):
            self.refs.append(EventRef.of(event))

    @property
    def is_open(self) -> bool:
        """Whether the row may still change by itself (running, streaming, waiting)."""
        return self.status in OPEN_STATUSES

    def duration_ms(self, now_ms: int) -> int | None:
        """How long it took, or has taken so far; ``None`` for instantaneous rows."""
        if self.kind in ("query", "retry", "error", "stop"):
            return None
        end = self.finished_ms if self.finished_ms is not None else now_ms
        return max(0, end - self.started_ms)

    def __repr__(self) -> str:
        return (
            f"<ActivityRow {self.index} step={self.step} {self.kind} {self.status} {self.label!r}>"
        )


@dataclass(slots=True)
class _RunState:
    node_id: str
    depth: int
    actor: str | None = None
    generation: EventRef | None = None
    reasoning: ActivityRow | None = None
    result: ActivityRow | None = None
