"""Filtering timeline rows with `perstack log`'s grammar (runtime/views/timeline_filter.py),
and the lazy JSON view the filter reads events through (runtime/views/wireview.py)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from runtime.views.activity import ActivityLog
from runtime.views.filtering import parse_filter, parse_step_range
from runtime.views.runtree import ROOT
from runtime.views.timeline_filter import FilteredRows, RowFilter
from runtime.views.wireview import wire_view
from tests.runtime.activity_helpers import PARALLEL_RULES, call, job_events


def plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain(item) for item in value]
    return value


async def test_the_view_reads_exactly_the_events_json(tmp_path: Path) -> None:
    events, _, _ = await job_events(tmp_path, PARALLEL_RULES)
    for event in events:
        assert plain(wire_view(event)) == event.to_json_dict(), event.type
    view = wire_view(events[0])
    assert "expertKey" not in view or view["expertKey"]  # None fields are absent
    with pytest.raises(KeyError):
        view["no such field"]


async def rows_of(tmp_path: Path) -> ActivityLog:
    rules = [
        *PARALLEL_RULES[:1],
        {"expert": "alpha", "turn": 1, "toolCalls": [call("readTextFile", path="missing.txt")]},
        *PARALLEL_RULES[2:],
    ]
    events, _, _ = await job_events(tmp_path, rules)
    log = ActivityLog()
    for event in events:
        log.feed(event)
    return log


def shown(log: ActivityLog, row_filter: RowFilter) -> list[tuple[str, str]]:
    rows = FilteredRows(log)
    rows.set_filter(row_filter)
    return [(rows.row_at(i).kind, rows.row_at(i).label) for i in range(len(rows))]


async def test_expression_step_toggles_and_node(tmp_path: Path) -> None:
    log = await rows_of(tmp_path)
    by_tool = RowFilter(expression=parse_filter('.toolCalls[].toolName == "readTextFile"'))
    assert shown(log, by_tool) == [("tool", "readTextFile path=missing.txt")]
    # A failed read is an error: the errors toggle shows it.
    assert shown(log, RowFilter(errors=True)) == [("tool", "readTextFile path=missing.txt")]
    assert [kind for kind, _ in shown(log, RowFilter(delegations=True))] == ["delegate"] * 2
    assert {kind for kind, _ in shown(log, RowFilter(tools=True, delegations=True))} == {
        "tool", "delegate"
    }
    first_steps = shown(log, RowFilter(steps=parse_step_range("1")))
    assert [kind for kind, _ in first_steps] == ["query", "reasoning", "delegate", "delegate"]
    lead_only = shown(log, RowFilter(node_id=ROOT))
    assert lead_only[0] == ("query", "Go") and ("query", "Do A") not in lead_only
    # Paths reach slim checkpoints; histories are not kept.
    completed = RowFilter(expression=parse_filter('.checkpoint.status == "completed"'))
    assert [kind for kind, _ in shown(log, completed)] == ["completion"] * 3
    assert shown(log, RowFilter(expression=parse_filter(".nothing == 1"))) == []


async def test_incremental_updates_equal_a_full_recompute(tmp_path: Path) -> None:
    events, _, _ = await job_events(tmp_path, PARALLEL_RULES)
    filters = [
        RowFilter(),
        RowFilter(tools=True),
        RowFilter(errors=True, delegations=True),
        RowFilter(expression=parse_filter(".stepNumber >= 3")),
        RowFilter(node_id=ROOT, steps=parse_step_range(">=2")),
    ]
    for row_filter in filters:
        log = ActivityLog()
        live = FilteredRows(log)
        live.set_filter(row_filter)
        for event in events:
            live.update(log.feed(event))
            fresh = FilteredRows(log)
            fresh.set_filter(row_filter)
            assert live.indices == fresh.indices
        for position, index in enumerate(live.indices):
            assert live.position_of(index) == position


async def test_update_reports_whether_the_shown_list_changed(tmp_path: Path) -> None:
    events, _, _ = await job_events(tmp_path, PARALLEL_RULES)
    log = ActivityLog()
    rows = FilteredRows(log)
    rows.set_filter(RowFilter(delegations=True))
    reported = []
    for event in events:
        reported.append(rows.update(log.feed(event)))
    assert sum(reported) == 1  # the two delegate rows become delegates in one event
    assert rows.position_of(0) is None
