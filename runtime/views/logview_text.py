"""``perstack log`` for people: the terminal form of a :class:`~runtime.views.logview.LogSelection`.

The text is upstream's line for line (spec §13.3). On a colour terminal rich adds colour;
when stdout is not a terminal, or ``NO_COLOR`` is set, plain text is written directly
(faster, and nothing to strip). Events are read while they are printed.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import IO, TYPE_CHECKING, Any

import orjson

from runtime.storage import Storage
from runtime.views._row_text import result_failed
from runtime.views.logview import (
    DELEGATION_TYPES,
    ERROR_TYPES,
    TOOL_TYPES,
    LogSelection,
    count_tool_calls,
    read_events,
    summarize,
)
from runtime.views.runtree import actor_label, parallel_ordinals
from runtime.views.skill_lines import skill_event_lines

if TYPE_CHECKING:
    from runtime.views.cost import StoredCost

__all__ = ["parallel_actors", "render_text"]

# A line is a list of (text, rich style) pieces; the style is ignored without colour.
Line = list[tuple[str, str]]
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_RULE = "─" * 50
_STATUS_STYLES = {
    "completed": "green",
    "running": "yellow",
    "proceeding": "yellow",
    "init": "yellow",
}


def _utc(timestamp: Any) -> datetime | None:
    if not isinstance(timestamp, (int, float)) or isinstance(timestamp, bool):
        return None
    try:
        return _EPOCH + timedelta(milliseconds=int(timestamp))
    except OverflowError:
        return None


def _date_time(timestamp: Any) -> str:
    moment = _utc(timestamp)
    return "?" if moment is None else moment.strftime("%Y-%m-%d %H:%M:%S")


def _time(timestamp: Any) -> str:
    moment = _utc(timestamp)
    return "??:??:??" if moment is None else moment.strftime("%H:%M:%S")


def _preview(text: str, limit: int) -> str:
    return f"{text[:limit]}..." if len(text) > limit else text


def _first_text(contents: Any) -> str:
    """The first text part's text, as upstream shows message and result previews."""
    if isinstance(contents, list):
        for part in contents:
            if isinstance(part, dict) and part.get("type") == "textPart" and "text" in part:
                return str(part["text"])
    return ""


def _status_style(status: Any) -> str:
    return _STATUS_STYLES.get(str(status), "red")


def _type_style(event_type: str) -> str:
    if event_type in ERROR_TYPES:
        return "bold red"
    if event_type in DELEGATION_TYPES:
        return "magenta"
    if event_type in TOOL_TYPES:
        return "blue"
    if event_type == "completeRun":
        return "green"
    return ""


def _js(value: Any) -> str:
    """``value`` as JavaScript's template strings print it (booleans lowercase)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return "undefined" if value is None else str(value)


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _job_lines(job: dict[str, Any]) -> Iterator[Line]:
    status = job.get("status")
    yield [("Job: ", "bold"), (f"{job.get('id')} ", "bold"), (f"({status})", _status_style(status))]
    yield [(f"Expert: {job.get('coordinatorExpertKey')}", "")]
    yield [(f"Started: {_date_time(job.get('startedAt'))}", "")]
    yield [(f"Steps: {job.get('totalSteps')}", "")]
    if job.get("finishedAt"):
        yield [(f"Finished: {_date_time(job.get('finishedAt'))}", "")]


def _checkpoint_lines(checkpoint: dict[str, Any], messages: bool) -> Iterator[Line]:
    status = checkpoint.get("status")
    yield [("Checkpoint: ", "bold"), (str(checkpoint.get("id")), "bold")]
    yield [("Status: ", ""), (str(status), _status_style(status))]
    yield [(f"Step: {checkpoint.get('stepNumber')}", "")]
    yield [(f"Expert: {_dict(checkpoint.get('expert')).get('key')}", "")]
    if messages:
        yield []
        yield [("Messages:", "bold")]
        for message in _list(checkpoint.get("messages")):
            message = _dict(message)
            text = _preview(_first_text(message.get("contents")), 100)
            yield [(f"  [{message.get('type')}] ", "cyan"), (text, "")]


def _cost_lines(cost: StoredCost, scope: str) -> Iterator[Line]:
    usage = cost.usage
    yield [
        (f"  Tokens ({scope}): {usage.total_tokens:,} (input {usage.input_tokens:,} · cached "
         f"{usage.cached_input_tokens:,} · output {usage.output_tokens:,} · reasoning "
         f"{usage.reasoning_tokens:,})", "")
    ]  # fmt: skip
    yield [(f"  Cost ({scope}): {cost.cost.describe()}", "" if cost.cost.known else "yellow")]


def _summary_lines(summary: dict[str, Any]) -> Iterator[Line]:
    yield [("Summary:", "bold")]
    yield [(f"  Total Events: {summary['totalEvents']}", "")]
    yield [(f"  Errors: {summary['errorCount']}", "red" if summary["errorCount"] else "")]
    yield [(f"  Tool Calls: {summary['toolCallCount']}", "")]
    yield [(f"  Delegations: {summary['delegationCount']}", "")]
    if "stepRange" in summary:
        low, high = summary["stepRange"]["min"], summary["stepRange"]["max"]
        yield [(f"  Step Range: {low} - {high}", "")]


def parallel_actors(storage: Storage, job_id: str) -> tuple[dict[str, str], dict[str, int]]:
    """``(run id -> "researcher #2", tool call id -> 2)`` for the job's parallel runs of
    one Expert (read from the delegations and the runs' starts only; empty without)."""
    ordinals: dict[str, int] = {}
    for ref in storage.list_event_files(job_id, types={"stopRunByDelegate"}):
        targets = _dict((storage.read_event_slim(ref) or {}).get("checkpoint")).get("delegateTo")
        calls = [(str(t.get("toolCallId")), str(t.get("toolName"))) for t in _list(targets)]
        ordinals.update(parallel_ordinals(calls))
    actors: dict[str, str] = {}
    if ordinals:
        for ref in storage.list_event_files(job_id, types={"startRun"}):
            data = storage.read_event_slim(ref) or {}
            by = _dict(_dict(data.get("initialCheckpoint")).get("delegatedBy"))
            ordinal = ordinals.get(str(by.get("toolCallId")))
            if ordinal is not None:
                actors[ref.run_id] = actor_label(str(data.get("expertKey")), ordinal)
    return actors, ordinals


def _event_lines(
    event: dict[str, Any], verbose: bool, parallel: tuple[dict[str, str], dict[str, int]]
) -> Iterator[Line]:
    event_type = str(event.get("type"))
    padding = " " * max(1, 24 - len(event_type))  # always a gap before the time
    actors, ordinals = parallel
    actor = actors.get(str(event.get("runId")))
    yield [
        (f"[Step {_js(event.get('stepNumber'))}] ", "cyan"),
        (event_type, _type_style(event_type)),
        (padding, ""),
        (_time(event.get("timestamp")), "dim"),
        # Our addition: which of several parallel runs of one Expert this is.
        (f"  {actor}" if actor else "", "magenta"),
    ]
    if event_type == "startRun":
        for message in _list(event.get("inputMessages")):
            if _dict(message).get("type") == "userMessage":
                yield [(f'  Query: "{_preview(_first_text(message.get("contents")), 60)}"', "")]
                break
    elif event_type == "callTools":
        calls = [_dict(call) for call in _list(event.get("toolCalls"))]
        if verbose:
            for call in calls:
                yield [(f"  [{call.get('skillName')}] {call.get('toolName')}", "blue")]
                args = orjson.dumps(call.get("args")).decode()
                yield [(f"    Args: {args}", "dim")]
        else:
            yield [(f"  Tools: {', '.join(str(call.get('toolName')) for call in calls)}", "")]
    elif event_type == "resolveToolResults":
        for result in _list(event.get("toolResults")):
            result = _dict(result)
            text = _first_text(result.get("result"))
            failed = result_failed(_list(result.get("result")), result.get("isError"))
            yield [
                ("  ✗ " if failed else "  ✓ ", "red" if failed else "green"),
                (f"{result.get('toolName')}: {_preview(text, 40)}", ""),
            ]
    elif event_type == "stopRunByError":
        error = _dict(event.get("error"))
        yield [(f"  Error: {_js(error.get('name'))}", "red")]
        yield [(f"  Message: {_js(error.get('message'))}", "red")]
        yield [(f"  Retryable: {_js(error.get('isRetryable'))}", "")]
    elif event_type == "callDelegate":
        for call in _list(event.get("toolCalls")):
            call = _dict(call)
            args = _dict(call.get("args"))
            # Upstream reads args.expertKey / args.expert, which delegate calls never carry
            # (they carry `query`); the delegate's key is the call's skill name (spec §6).
            target = args.get("expertKey") or args.get("expert") or call.get("skillName")
            ordinal = ordinals.get(str(call.get("id")))
            target = f"{target} #{ordinal}" if target and ordinal else target
            yield [(f"  Delegate to: {target or 'unknown'}", "magenta")]
    elif event_type == "completeRun":
        yield [(f"  Result: {_preview(str(event.get('text', '')), 80)}", "")]
    elif event_type == "retry":
        yield [(f"  Reason: {_js(event.get('reason'))}", "yellow")]
    else:
        yield from skill_event_lines(event, verbose)
    yield []


def _lines(
    storage: Storage,
    selection: LogSelection,
    *,
    verbose: bool,
    messages: bool,
    summary: bool,
    cost: StoredCost | None,
) -> Iterator[Line]:
    if selection.is_latest_job:
        yield [("(showing latest job)", "dim")]
        yield []
    yield [(f"Storage: {selection.storage_path}", "dim")]
    yield []
    yield from _job_lines(selection.job)
    yield []
    if selection.checkpoint is not None:
        yield from _checkpoint_lines(selection.checkpoint.data, messages)
        yield []
    if summary:
        # Printed before the events, so counted from their file names; only the events
        # naming tool calls are read, to count the calls.
        calls = count_tool_calls(storage, selection.events)
        shown = ((e.ref.type, e.ref.step) for e in selection.events)
        yield from _summary_lines(summarize(shown, calls))
        if cost is not None:
            yield from _cost_lines(cost, "run" if selection.run_id else "job")
        yield []
    shown = 0
    parallel: tuple[dict[str, str], dict[str, int]] = ({}, {})
    if selection.events:
        parallel = parallel_actors(storage, selection.events[0].ref.job_id)
    for event in read_events(storage, selection.events):
        if shown == 0:
            yield [("Events:", "bold")]
            yield [(_RULE, "dim")]
        shown += 1
        yield from _event_lines(event, verbose, parallel)
    total, paged = selection.total_before_limit, selection.matched_after_pagination
    if shown:
        yield [(_RULE, "dim")]
        if total > paged:
            context = f" (+{shown - paged} context)" if shown > paged else ""
            yield [(f"(showing {paged} of {total} matched events{context})", "yellow")]
            yield [("Use --take and --offset to paginate, or --take 0 for all", "dim")]
    elif total > 0:
        yield [(f"({total} events available, use --offset to view)", "yellow")]


def render_text(
    storage: Storage,
    selection: LogSelection,
    out: IO[str],
    *,
    verbose: bool = False,
    messages: bool = False,
    summary: bool = False,
    cost: StoredCost | None = None,
) -> None:
    """Print ``selection`` for a person to ``out``, in colour on a colour terminal.

    ``cost`` (with ``summary``) adds the job's (or run's) tokens and money to the summary.
    """
    lines = _lines(
        storage, selection, verbose=verbose, messages=messages, summary=summary, cost=cost
    )
    from rich.console import Console  # imported here: JSON output never needs it

    console = Console(file=out, highlight=False, soft_wrap=True, emoji=False, markup=False)
    if not console.is_terminal or console.no_color or console.color_system is None:
        for line in lines:
            out.write("".join(text for text, _ in line) + "\n")
        return
    from rich.text import Text

    for line in lines:
        console.print(Text.assemble(*line))
