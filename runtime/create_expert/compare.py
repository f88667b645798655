"""What changed from one round to the next: the definitions, and what each scenario's run did.

:func:`compare_runs` is the one place two test runs are compared. It compares the plain
summaries the lab keeps (:class:`~runtime.create_expert.scenarios.RunRecord`); when the
diff of two jobs (``runtime/views/diff.py``) lands, this function is where it plugs in,
since both runs are stored jobs (``before.job_id``, ``after.job_id``).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from typing import Any

from runtime.create_expert.scenarios import RunRecord

__all__ = ["RoundChange", "compare_definitions", "compare_runs"]


@dataclass
class RoundChange:
    """How round ``number`` differs from the round before it.

    Attributes:
        number: The later round.
        definitions: One line per Expert added or field changed.
        why: What the designer said it changed and why.
        runs: Scenario name -> one line per difference in what its run did.
    """

    number: int
    definitions: list[str] = field(default_factory=list)
    why: str = ""
    runs: dict[str, list[str]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "round": self.number,
            "definitions": self.definitions,
            "why": self.why,
            "runs": self.runs,
        }


def compare_definitions(old_text: str | None, new_text: str | None, keys: list[str]) -> list[str]:
    """One line per Expert of ``keys`` added, removed or changed (naming the fields)."""
    old = _experts(old_text)
    new = _experts(new_text)
    lines = []
    for key in keys:
        if key not in old and key in new:
            lines.append(f"{key}: added")
        elif key in old and key not in new:
            lines.append(f"{key}: removed")
        elif key in old and old[key] != new[key]:
            fields = sorted(
                name for name in {*old[key], *new[key]} if old[key].get(name) != new[key].get(name)
            )
            lines.append(f"{key}: {', '.join(fields)} changed")
    return lines


def compare_runs(before: RunRecord, after: RunRecord) -> list[str]:
    """What the later run of a scenario did differently, one line per difference."""
    lines = []
    if before.status != after.status:
        lines.append(f"status {before.status} -> {after.status}")
    for label, old, new in (
        ("tools", before.tool_names, after.tool_names),
        ("delegates to", set(before.delegations), set(after.delegations)),
        ("writes", set(before.files_written), set(after.files_written)),
    ):
        gained, lost = sorted(new - old), sorted(old - new)
        if gained:
            lines.append(f"{label} now: {', '.join(gained)}")
        if lost:
            lines.append(f"{label} no longer: {', '.join(lost)}")
    if before.steps != after.steps:
        lines.append(f"steps {before.steps} -> {after.steps}")
    if bool(before.errors) != bool(after.errors):
        lines.append("errors gone" if before.errors else f"new error: {after.errors[0]}")
    return lines


def _experts(text: str | None) -> dict[str, Any]:
    if not text:
        return {}
    try:
        experts = tomllib.loads(text).get("experts", {})
    except tomllib.TOMLDecodeError:
        return {}
    return experts if isinstance(experts, dict) else {}
