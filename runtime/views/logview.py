"""``perstack log``: which events to show, and their JSON form (spec §13.3).

:func:`select_log` picks the job (and run or checkpoint), then filters the job's events in
upstream's order: step, type, ``--errors``, ``--tools``, ``--delegations``, the filter
expression; then ``--offset``/``--take``; then ``--context`` neighbours from the unfiltered
list. Every filter but the expression works on file names alone, so a 100,000-event job is
filtered without reading the events it drops; the kept events are read only while the
output is written (:func:`write_json`, or :mod:`runtime.views.logview_text` for the terminal).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any

import orjson

from runtime.errors import PerstackError
from runtime.storage import EventFileRef, RawJson, Storage
from runtime.views.filtering import FilterExpr, StepRange

if TYPE_CHECKING:
    from runtime.views.cost import StoredCost

__all__ = [
    "DEFAULT_TAKE",
    "DELEGATION_TYPES",
    "ERROR_TYPES",
    "TOOL_TYPES",
    "LogEvent",
    "LogQuery",
    "LogSelection",
    "select_log",
    "summarize",
    "tool_call_ids",
    "write_json",
]

ERROR_TYPES = frozenset({"stopRunByError", "retry"})
#: ``--tools``: the calls, their results, and what MCP servers sent while they ran.
TOOL_TYPES = frozenset(
    {
        "callTools", "resolveToolResults", "callInteractiveTool", "skillProgress", "skillLog",
        "skillSampling", "skillElicitation", "skillElicitationAnswer",
    }
)  # fmt: skip
#: Events that name tool calls (counted once each in the summary).
_CALL_TYPES = frozenset({"callTools", "resolveToolResults", "callInteractiveTool"})
DELEGATION_TYPES = frozenset({"callDelegate", "stopRunByDelegate"})
DEFAULT_TAKE = 100


@dataclass(frozen=True)
class LogQuery:
    """What ``perstack log`` was asked for (already parsed and validated).

    Attributes:
        job: ``--job``; ``None`` means the latest job.
        run: ``--run``.
        checkpoint: ``--checkpoint``.
        step: ``--step``.
        type: ``--type``.
        errors: ``--errors``.
        tools: ``--tools``.
        delegations: ``--delegations``.
        filter: ``--filter``.
        take: ``--take`` (0 = all).
        offset: ``--offset``.
        context: ``--context``.
    """

    job: str | None = None
    run: str | None = None
    checkpoint: str | None = None
    step: StepRange | None = None
    type: str | None = None
    errors: bool = False
    tools: bool = False
    delegations: bool = False
    filter: FilterExpr | None = None
    take: int = DEFAULT_TAKE
    offset: int = 0
    context: int = 0

    def type_set(self) -> frozenset[str] | None:
        """The event types the type-like filters allow together (``None``: any)."""
        allowed: frozenset[str] | None = None if self.type is None else frozenset({self.type})
        for wanted, group in (
            (self.errors, ERROR_TYPES),
            (self.tools, TOOL_TYPES),
            (self.delegations, DELEGATION_TYPES),
        ):
            if wanted:
                allowed = group if allowed is None else allowed & group
        return allowed


@dataclass(frozen=True)
class LogEvent:
    """One event to show: its reference, and its JSON if the filter already read it."""

    ref: EventFileRef
    document: RawJson | None = None


@dataclass
class LogSelection:
    """Everything ``perstack log`` shows, with events and checkpoints still unread.

    Attributes:
        job: The job's JSON.
        events: The events to show, in order (matches plus ``--context`` neighbours).
        checkpoint: ``--checkpoint``'s JSON.
        checkpoints_of: The job whose checkpoints the JSON lists (``--job`` only); they are
            listed and read only while the JSON is written.
        is_latest_job: The job was chosen as the latest one.
        storage_path: The storage root, as shown to the user.
        total_before_limit: How many events matched the filters.
        matched_after_pagination: How many of those survived ``--offset``/``--take``.
        run_id: The run shown (``--run``, or ``--checkpoint``'s), ``None`` for the job.
    """

    job: dict[str, Any]
    events: list[LogEvent]
    storage_path: str
    total_before_limit: int
    matched_after_pagination: int
    checkpoint: RawJson | None = None
    checkpoints_of: str | None = None
    is_latest_job: bool = False
    run_id: str | None = None


def select_log(storage: Storage, query: LogQuery, storage_path: str) -> LogSelection | None:
    """Choose and filter what to show; ``None`` when there is nothing (``No data found``).

    Raises:
        PerstackError: ``Checkpoint <id> not found in job <id>`` for ``--checkpoint``.
    """
    latest = query.job is None
    job = storage.latest_job_data() if query.job is None else storage.job_data(query.job)
    if job is None:
        return None
    job_id = str(job["id"]) if latest else query.job
    checkpoint: RawJson | None = None
    run_id = query.run
    if query.checkpoint is not None:
        ref = storage.checkpoint_file(job_id, query.checkpoint)  # type: ignore[arg-type]
        checkpoint = None if ref is None else storage.read_checkpoint_raw(ref)
        if checkpoint is None:
            raise PerstackError(f"Checkpoint {query.checkpoint} not found in job {job_id}")
        run_id = str(checkpoint.data.get("runId", ""))
    events, total, paged = _filter_events(storage, job_id, run_id, query)  # type: ignore[arg-type]
    return LogSelection(
        job=job,
        events=events,
        storage_path=storage_path,
        total_before_limit=total,
        matched_after_pagination=paged,
        checkpoint=checkpoint,
        # Upstream lists the job's checkpoints only for a plain --job selection.
        checkpoints_of=job_id
        if not latest and query.run is None and query.checkpoint is None
        else None,
        is_latest_job=latest,
        run_id=run_id,
    )


def _filter_events(
    storage: Storage, job_id: str, run_id: str | None, query: LogQuery
) -> tuple[list[LogEvent], int, int]:
    """``(events to show, matched count, matched count after pagination)``."""
    allowed = query.type_set()
    step = query.step
    if query.context:
        # Context comes from the unfiltered list, so list everything and filter here.
        refs = storage.list_event_files(job_id, run_id)
        candidates = [
            index
            for index, ref in enumerate(refs)
            if (allowed is None or ref.type in allowed)
            and (step is None or step.contains(ref.step))
        ]
    else:
        if allowed is not None and not allowed:
            return [], 0, 0
        max_step = None if step is None else step.max
        refs = storage.list_event_files(job_id, run_id, max_step=max_step, types=allowed)
        candidates = [i for i, ref in enumerate(refs) if step is None or step.contains(ref.step)]
    start, stop = query.offset, (query.offset + query.take if query.take else None)
    documents: dict[int, RawJson] = {}
    if query.filter is not None:
        matched: list[int] = []
        for index in candidates:
            document = storage.read_event_raw(refs[index])
            if document is None or not query.filter.matches(document.data):
                continue
            if start <= len(matched) and (stop is None or len(matched) < stop):
                documents[index] = document  # on the page: keep, to avoid reading it twice
            matched.append(index)
        candidates = matched
    page = candidates[start:stop]
    shown = page
    if query.context and page:
        around: set[int] = set()
        for index in page:
            around.update(range(max(0, index - query.context), index + query.context + 1))
        shown = sorted(i for i in around if i < len(refs))
    events = [LogEvent(refs[index], documents.get(index)) for index in shown]
    return events, len(candidates), len(page)


def read_events(storage: Storage, events: Iterable[LogEvent]) -> Iterator[dict[str, Any]]:
    """The JSON of each event, reading those not read yet; unreadable ones are skipped."""
    for event in events:
        document = event.document or storage.read_event_raw(event.ref)
        if document is not None:
            yield document.data


def tool_call_ids(event: dict[str, Any]) -> set[str]:
    """The ids of the tool calls an event names (calls, their results, an interactive call)."""
    event_type = event.get("type")
    if event_type not in _CALL_TYPES:
        return set()
    if event_type == "callTools":
        items = event.get("toolCalls")
    elif event_type == "resolveToolResults":
        items = event.get("toolResults")
    else:
        items = [event.get("toolCall")]
    return {
        str(item["id"]) for item in items or [] if isinstance(item, dict) and item.get("id")
    }


def count_tool_calls(storage: Storage, events: Iterable[LogEvent]) -> int:
    """How many tool calls the events name (each call once, however many events name it);
    reads only the events that can name one."""
    ids: set[str] = set()
    for event in events:
        if event.ref.type in _CALL_TYPES:
            document = event.document or storage.read_event_raw(event.ref)
            if document is not None:
                ids |= tool_call_ids(document.data)
    return len(ids)


def summarize(events: Iterable[tuple[str, int]], tool_calls: int) -> dict[str, Any]:
    """The ``summary`` of the shown events, from their ``(type, stepNumber)``.

    Args:
        events: The shown events' types and steps.
        tool_calls: How many tool calls they name (``toolCallCount`` counts calls, not
            the events about them).
    """
    total = errors = delegations = 0
    low: int | None = None
    high: int | None = None
    for event_type, step in events:
        total += 1
        errors += event_type in ERROR_TYPES
        delegations += event_type in DELEGATION_TYPES
        low = step if low is None or step < low else low
        high = step if high is None or step > high else high
    summary: dict[str, Any] = {
        "totalEvents": total,
        "errorCount": errors,
        "toolCallCount": tool_calls,
        "delegationCount": delegations,
    }
    if low is not None:
        summary["stepRange"] = {"min": low, "max": high}
    return summary


def _step_of(data: dict[str, Any], ref: EventFileRef) -> int:
    step = data.get("stepNumber")
    return step if isinstance(step, int) else ref.step


class _JsonWriter:
    """Writes one JSON object member by member, compact or 2-space indented.

    Streaming keeps memory flat however many events are shown; the indented form matches
    ``JSON.stringify(data, null, 2)``, which upstream prints with ``--pretty``.
    """

    def __init__(self, out: IO[bytes], pretty: bool) -> None:
        self._out = out
        self._pretty = pretty
        self._members = 0
        out.write(b"{")

    def _encode(self, document: RawJson | Any, depth: int) -> bytes:
        if isinstance(document, RawJson):
            if not self._pretty and b"\n" not in document.raw:
                return document.raw  # the stored bytes are already compact JSON
            document = document.data
        if not self._pretty:
            return orjson.dumps(document)
        return orjson.dumps(document, option=orjson.OPT_INDENT_2).replace(
            b"\n", b"\n" + b"  " * depth
        )

    def _key(self, key: str) -> None:
        separator = b"," if self._members else b""
        if self._pretty:
            self._out.write(separator + b"\n  " + orjson.dumps(key) + b": ")
        else:
            self._out.write(separator + orjson.dumps(key) + b":")
        self._members += 1

    def member(self, key: str, value: RawJson | Any) -> None:
        self._key(key)
        self._out.write(self._encode(value, 1))

    def array(self, key: str, items: Iterable[RawJson | Any], *, omit_empty: bool = False) -> int:
        """Write ``key: [items]``; with ``omit_empty``, nothing at all when there are none."""
        count = 0
        for item in items:
            if count == 0:
                self._key(key)
                self._out.write(b"[")
            self._out.write(b"," if count else b"")
            if self._pretty:
                self._out.write(b"\n    ")
            self._out.write(self._encode(item, 2))
            count += 1
        if count:
            self._out.write(b"\n  ]" if self._pretty else b"]")
        elif not omit_empty:
            self._key(key)
            self._out.write(b"[]")
        return count

    def close(self) -> None:
        self._out.write(b"\n}\n" if self._pretty and self._members else b"}\n")


def write_json(
    storage: Storage,
    selection: LogSelection,
    out: IO[bytes],
    *,
    pretty: bool = False,
    cost: StoredCost | None = None,
) -> None:
    """Write the ``--json`` output (spec §13.3) to ``out``, streaming the events.

    ``cost`` (``--summary``) adds the job's (or run's) tokens and money to the summary.
    """
    writer = _JsonWriter(out, pretty)
    writer.member("job", selection.job)
    shown: list[tuple[str, int]] = []
    calls: set[str] = set()

    def events() -> Iterator[RawJson]:
        for event in selection.events:
            document = event.document or storage.read_event_raw(event.ref)
            if document is not None:
                shown.append((str(document.data.get("type")), _step_of(document.data, event.ref)))
                calls.update(tool_call_ids(document.data))
                yield document

    writer.array("events", events())
    summary = summarize(shown, len(calls))
    if cost is not None:
        summary.update(cost.to_json())
    writer.member("summary", summary)
    if selection.checkpoint is not None:
        writer.member("checkpoint", selection.checkpoint)
    if selection.checkpoints_of is not None:
        checkpoints = (
            document
            for ref in storage.list_checkpoint_files(selection.checkpoints_of)
            if (document := storage.read_checkpoint_raw(ref)) is not None
        )
        writer.array("checkpoints", checkpoints, omit_empty=True)
    if selection.is_latest_job:
        writer.member("isLatestJob", True)
    writer.member("storagePath", selection.storage_path)
    writer.member("totalEventsBeforeLimit", selection.total_before_limit)
    writer.member("matchedAfterPagination", selection.matched_after_pagination)
    writer.close()
