"""Compare a job's events with its replay's, ids and timestamps aside."""

from __future__ import annotations

import re
from typing import Any

import orjson

#: Fields that differ between any two runs of the same job (``providerName``: a replay, or
#: the same script through another provider, runs the same job on another provider).
VOLATILE_KEYS = frozenset(
    {
        "id", "timestamp", "jobId", "runId", "checkpointId", "startedAt", "finishedAt",
        "updatedAt", "providerName",
    }
)  # fmt: skip
_CURRENT_TIME = re.compile(r"^- Current time: .*$", re.M)
_WORKING_DIRECTORY = re.compile(r"^- Working directory: .*$", re.M)


def comparable(value: Any) -> Any:
    """``value`` without ids, timestamps, durations, and the prompt's time and directory."""
    if isinstance(value, dict):
        return {
            key: comparable(item)
            for key, item in value.items()
            if key not in VOLATILE_KEYS and not key.endswith("DurationMs")
        }
    if isinstance(value, list):
        return [comparable(item) for item in value]
    if isinstance(value, str):
        value = _CURRENT_TIME.sub("- Current time: (time)", value)
        return _WORKING_DIRECTORY.sub("- Working directory: (directory)", value)
    return value


def comparable_runs(events: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Each run's events in order, made comparable; runs sorted by content.

    Parallel delegates interleave their events differently every time, so runs are
    compared one by one, not the whole stream line by line.
    """
    runs: dict[str, list[dict[str, Any]]] = {}
    for event in events:
        runs.setdefault(event["runId"], []).append(comparable(event))
    return sorted(runs.values(), key=lambda run: orjson.dumps(run, option=orjson.OPT_SORT_KEYS))
