"""The step timeline of a job: one row per step and action, derived event by event.

:class:`ActivityLog` turns the event stream of a job (live, or replayed from storage)
into :class:`ActivityRow` objects, the model of the workbench's timeline (spec §15
describes upstream's activities; this keeps what a timeline needs):

* ``query``: a run started with a question (the coordinator's, or a delegate's task);
* ``reasoning``: the model's reasoning, growing while it streams;
* ``tool``: one tool call, from the call to its result;
* ``delegate``: a delegation, from the call until the delegate answers;
* ``interactive``: an interactive tool call waiting for the user's answer;
* ``completion``: the run's final answer, growing while it streams;
* ``retry``, ``error``, ``stop``: a failed generation, a run stopped by an error, the
  job's step limit.

Feeding an event costs O(1) amortised (O(n) in the calls a step makes), so a
10,000-event job is derived as fast as it arrives. Rows keep *slim* copies of their
events (histories dropped, see :func:`slim_event`): a long job's events carry its whole
history many times over, which a viewer must not hold in memory. :class:`EventRef` names
the stored event for whoever needs the full JSON.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from runtime.views._activity_row import OPEN_STATUSES, ROW_KINDS, ActivityRow, _RunState
from runtime.views._row_text import (
    parts_text,
    reason_text,
    result_failed,
    short_args,
)
from runtime.views.event_refs import EventRef, read_stored_event, slim_event
from runtime.views.runtree import (
    ROOT,
    STEP_END_TYPES,
    actor_label,
    generation_tokens,
    node_key,
    parallel_ordinals,
)
from runtime.views.skill_rows import SKILL_HANDLERS

if TYPE_CHECKING:
    from runtime.events import BaseEvent
    from runtime.model import ToolCall
    from runtime.views.cost import Cost, CostMeter

__all__ = [
    "ActivityLog",
    "ActivityRow",
    "EventRef",
    "OPEN_STATUSES",
    "ROW_KINDS",
    "read_stored_event",
    "short_args",
    "slim_event",
]


class ActivityLog:
    """The rows of one job's timeline, updated one event at a time.

    Example:
        >>> log = ActivityLog()
        >>> for event in events:
        ...     changed = log.feed(event)   # rows added or changed by this event
    """

    def __init__(self, costs: CostMeter | None = None) -> None:
        #: Prices the generations for the rows' money figures (none: no figures).
        self.costs = costs
        self.rows: list[ActivityRow] = []
        self._runs: dict[str, _RunState] = {}
        self._node_depth: dict[str, int] = {}
        self._run_node: dict[str, str] = {}
        self._open_calls: dict[str, ActivityRow] = {}
        #: The coordinator's answer to the latest query, once its run completed (``None``
        #: before that, and again from the next query on: a follow-up replaces it).
        self.final_answer: ActivityRow | None = None
        #: tool call id -> its number among parallel calls of one delegate.
        self._ordinals: dict[str, int] = {}

    def feed(self, event: BaseEvent) -> list[ActivityRow]:
        """Apply one event; return the rows it added or changed (each once)."""
        if self.costs is not None:
            self.costs.feed(event)  # every event: initializeRuntime tells the run's model
        if not hasattr(event, "step_number"):
            return []  # runtime events (skills, initializeRuntime) are not timeline rows
        handler = _HANDLERS.get(event.type)
        changed: dict[int, ActivityRow] = {}
        if handler is not None:
            for row in handler(self, event, self._run(event)) or ():
                row.version += 1
                changed[row.index] = row
        return list(changed.values())

    def mark_stopped(self, at_ms: int) -> list[ActivityRow]:
        """The job was cancelled: running and streaming rows become ``stopped``."""
        changed = []
        for call_id, row in list(self._open_calls.items()):
            if row.status == "running":
                self._open_calls.pop(call_id)
        for row in self.rows:
            if row.status in ("running", "streaming"):
                row.status = "stopped"
                row.finished_ms = at_ms
                row.version += 1
                changed.append(row)
        for run in self._runs.values():
            run.reasoning = run.result = None
        return changed

    # --- helpers -------------------------------------------------------------------------

    def _run(self, event: BaseEvent) -> _RunState:
        run = self._runs.get(event.run_id)
        if run is None:
            if event.type == "startRun":
                checkpoint = event.initial_checkpoint  # type: ignore[attr-defined]
                node_id = node_key(checkpoint)
                depth = self._node_depth.get(node_id)
                if depth is None:
                    by = checkpoint.delegated_by
                    parent = None if by is None else self._run_node.get(by.run_id)
                    depth = 0 if by is None else self._node_depth.get(parent or "", 0) + 1
                    self._node_depth[node_id] = depth
            else:
                node_id, depth = ROOT, 0  # a run we never saw start: the coordinator's
            actor = actor_label(event.expert_key, self._ordinals.get(node_id))  # type: ignore[attr-defined]
            run = self._runs[event.run_id] = _RunState(node_id, depth, actor)
            self._run_node[event.run_id] = node_id
        return run

    def _cost(self, event: BaseEvent) -> Cost | None:
        return None if self.costs is None else self.costs.feed(event)  # priced once

    def _new(self, kind: str, event: BaseEvent, run: _RunState) -> ActivityRow:
        row = ActivityRow(len(self.rows), kind, event, run)
        row.add_event(event)
        self.rows.append(row)
        return row

    def _resolve(
        self, call_id: str, parts: list[Any], is_error: bool | None, event: BaseEvent
    ) -> ActivityRow | None:
        row = self._open_calls.pop(call_id, None)
        if row is None:
            return None
        row.result = parts_text(parts)
        row.status = "error" if result_failed(parts, is_error) else "done"
        row.finished_ms = event.timestamp
        row.add_event(event)
        return row

    def _resolve_step(self, event: BaseEvent) -> list[ActivityRow]:
        """Results a step-ending event carries (its step's and the checkpoint's partials)."""
        found = []
        step = event.step  # type: ignore[attr-defined]
        results = list(step.tool_results or [])
        results += event.checkpoint.partial_tool_results or []  # type: ignore[attr-defined]
        for result in results:
            row = self._resolve(result.id, result.result, result.is_error, event)
            if row is not None:
                found.append(row)
        for message in step.new_messages:
            if message.type == "toolMessage":
                for part in message.contents:
                    row = self._resolve(part.tool_call_id, part.contents, part.is_error, event)
                    if row is not None:
                        found.append(row)
        return found


# --- one handler per event type --------------------------------------------------------


def _start_run(log: ActivityLog, event: Any, run: _RunState) -> list[ActivityRow]:
    # A resumed run (after delegates or an interactive answer) asks nothing new.
    for message in event.input_messages:
        if message.type == "userMessage":
            row = log._new("query", event, run)
            row.label = "".join(getattr(p, "text", "") for p in message.contents)
            if run.depth == 0:
                log.final_answer = None  # a new query: the job's answer is to come
            return [row]
    return []


def _start_generation(log: ActivityLog, event: Any, run: _RunState) -> None:
    run.generation = EventRef.of(event)


def _start_reasoning(log: ActivityLog, event: Any, run: _RunState) -> list[ActivityRow]:
    row = run.reasoning = log._new("reasoning", event, run)
    row.status = "streaming"
    return [row]


def _stream_reasoning(log: ActivityLog, event: Any, run: _RunState) -> list[ActivityRow]:
    row = run.reasoning
    if row is None:
        return _start_reasoning(log, event, run)
    row._append(event.delta)
    return [row]


def _complete_reasoning(log: ActivityLog, event: Any, run: _RunState) -> list[ActivityRow]:
    row = run.reasoning or log._new("reasoning", event, run)
    run.reasoning = None
    row._set_text(event.text)
    row.status = "done"
    row.finished_ms = event.timestamp
    row.add_event(event)
    return [row]


def _start_result(log: ActivityLog, event: Any, run: _RunState) -> list[ActivityRow]:
    row = run.result = log._new("completion", event, run)
    row.status = "streaming"
    return [row]


def _stream_result(log: ActivityLog, event: Any, run: _RunState) -> list[ActivityRow]:
    row = run.result
    if row is None:
        return _start_result(log, event, run)
    row._append(event.delta)
    return [row]


def _complete_result(log: ActivityLog, event: Any, run: _RunState) -> list[ActivityRow]:
    row = run.result
    if row is None:
        row = _start_result(log, event, run)[0]
    else:
        row.add_event(event)
    row._set_text(event.text)
    return [row]


def _call_tools(log: ActivityLog, event: Any, run: _RunState) -> list[ActivityRow]:
    rows = []
    for call in event.tool_calls:
        row = log._new("tool", event, run)
        describe_call(row, call)
        row.status = "running"
        log._open_calls[call.id] = row
        rows.append(row)
    if rows:
        rows[0].tokens = generation_tokens(event)
        rows[0].cost = log._cost(event)
    return rows


def _call_delegate(log: ActivityLog, event: Any, run: _RunState) -> list[ActivityRow]:
    rows = []
    ordinals = parallel_ordinals((call.id, call.tool_name) for call in event.tool_calls)
    log._ordinals.update(ordinals)
    for call in event.tool_calls:
        row = log._open_calls.get(call.id)
        if row is not None:
            row.kind = "delegate"
            query = call.args.get("query") if isinstance(call.args, dict) else None
            name = actor_label(call.tool_name, ordinals.get(call.id))
            row.label = f"{name}: {query}" if isinstance(query, str) else row.label
            row.add_event(event)
            rows.append(row)
    return rows


def _call_interactive(log: ActivityLog, event: Any, run: _RunState) -> list[ActivityRow]:
    row = log._open_calls.get(event.tool_call.id)
    if row is None:
        return []
    row.kind = "interactive"
    row.status = "waiting"
    row.add_event(event)
    return [row]


def _tool_results(log: ActivityLog, event: Any, run: _RunState) -> list[ActivityRow]:
    results = event.tool_results if event.type == "resolveToolResults" else [event.tool_result]
    rows = []
    for result in results:
        row = log._resolve(result.id, result.result, result.is_error, event)
        if row is not None:
            rows.append(row)
    return rows


def _finish_calls(log: ActivityLog, event: Any, run: _RunState) -> list[ActivityRow]:
    rows = []
    for message in event.new_messages:
        if message.type == "toolMessage":
            for part in message.contents:
                row = log._resolve(part.tool_call_id, part.contents, part.is_error, event)
                if row is not None:
                    rows.append(row)
    return rows


def _retry(log: ActivityLog, event: Any, run: _RunState) -> list[ActivityRow]:
    row = log._new("retry", event, run)
    row.label = reason_text(event.reason)
    row.status = "error"
    row.tokens = generation_tokens(event) or None
    row.cost = log._cost(event)
    return [row, *_close_streams(run, event)]


def _step_end(log: ActivityLog, event: Any, run: _RunState) -> list[ActivityRow]:
    rows = _close_streams(run, event) if event.type != "continueToNextStep" else []
    rows += log._resolve_step(event)
    kind = event.type
    if kind == "completeRun":
        row = run.result
        run.result = None
        if row is None:
            row = log._new("completion", event, run)
        else:
            row.add_event(event)
        row._set_text(event.text)
        row.status = "done"
        row.finished_ms = event.timestamp
        row.tokens = (row.tokens or 0) + (generation_tokens(event) or 0) or None
        cost = log._cost(event)
        row.cost = cost if row.cost is None or cost is None else row.cost + cost
        rows.append(row)
        # A coordinator's run answers the job; a delegate's, the delegation that started it.
        by = event.checkpoint.delegated_by
        if by is None:
            log.final_answer = row
        else:
            answered = log._open_calls.pop(by.tool_call_id, None)
            if answered is not None:
                answered.result = event.text
                answered.status = "done"
                answered.finished_ms = event.timestamp
                rows.append(answered)
    elif kind == "stopRunByError":
        row = log._new("error", event, run)
        error = event.error
        row.label = f"{error.name}: {error.message}"
        row.status = "error"
        rows.append(row)
        by = event.checkpoint.delegated_by
        if by is not None:
            failed = log._open_calls.pop(by.tool_call_id, None)
            if failed is not None:
                failed.result = f"Delegation failed: {error.message}"
                failed.status = "error"
                failed.finished_ms = event.timestamp
                rows.append(failed)
    elif kind == "stopRunByExceededMaxSteps":
        row = log._new("stop", event, run)
        row.label = f"stopped: the job reached its step limit at step {event.step_number}"
        row.status = "error"
        rows.append(row)
    return rows


def _close_streams(run: _RunState, event: Any) -> list[ActivityRow]:
    rows = []
    if run.reasoning is not None:
        run.reasoning.status = "done"
        run.reasoning.finished_ms = event.timestamp
        rows.append(run.reasoning)
        run.reasoning = None
    return rows


_HANDLERS: dict[str, Any] = {
    "startRun": _start_run,
    "startGeneration": _start_generation,
    "startStreamingReasoning": _start_reasoning,
    "streamReasoning": _stream_reasoning,
    "completeStreamingReasoning": _complete_reasoning,
    "startStreamingRunResult": _start_result,
    "streamRunResult": _stream_result,
    "completeStreamingRunResult": _complete_result,
    "callTools": _call_tools,
    "callDelegate": _call_delegate,
    "callInteractiveTool": _call_interactive,
    "resolveToolResults": _tool_results,
    "attemptCompletion": _tool_results,
    "finishToolCall": _finish_calls,
    "finishAllToolCalls": _finish_calls,
    "retry": _retry,
    **{kind: _step_end for kind in STEP_END_TYPES},
    **SKILL_HANDLERS,
}


def describe_call(row: ActivityRow, call: ToolCall) -> None:
    row.tool_call_id = call.id
    row.tool_name = call.tool_name
    row.skill_name = call.skill_name
    row.args = call.args
    arguments = short_args(call.args)
    row.label = f"{call.tool_name} {arguments}" if arguments else call.tool_name
