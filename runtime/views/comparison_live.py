"""A comparison's runs as they happen: each column's figures and steps, from its events.

The workbench's compare view feeds each run's events to a :class:`LiveRun` (from the
thread that runs the comparison) and draws them a few times a second: status, step,
tokens, cost (the :class:`~runtime.views.cost.CostMeter` the timeline uses), elapsed
time, and one line per step, keyed like :class:`~runtime.views.steps.JobStep` so that
:func:`align_live` lines the columns' steps up the way ``perstack diff`` does. Once the
comparison is over, the stored jobs' alignment (delegates under their delegating step)
replaces the live one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import orjson

from runtime.model import Usage
from runtime.storage.records import STEP_END_TYPES
from runtime.views.cost import Cost, CostMeter, PriceBook, format_cost
from runtime.views.diff import align_many
from runtime.views.diff_text import describe_action, format_seconds, format_tokens
from runtime.views.steps import step_action

if TYPE_CHECKING:
    from runtime.events import BaseEvent

__all__ = ["LiveRun", "align_live"]

#: The checkpoint's fields a step's action is read from (the rest is its history).
_CHECKPOINT_FIELDS = {"status", "delegate_to", "error", "delegated_by"}


class LiveRun:
    """One column's run, fed its events in order.

    Attributes:
        status: ``pending``, ``running``, then the job's last status.
        steps: Steps ended so far (delegates' included).
        usage: Tokens of every generation so far.
        cost: Their cost.
        keys: Each ended step's action key (equal keys, same action).
        lines: Each ended step on one line: ``12 writer  readTextFile path=a.txt``.
        final_answer: The coordinator's answer, once given.
        started_ms: The first event's time.
        last_ms: The latest event's time.
    """

    def __init__(self, prices: PriceBook | None = None) -> None:
        self.meter = CostMeter(prices)
        self.status = "pending"
        self.steps = 0
        self.usage = Usage()
        self.cost = Cost()
        self.keys: list[bytes] = []
        self.lines: list[str] = []
        self.final_answer: str | None = None
        self.started_ms: int | None = None
        self.last_ms: int | None = None

    def feed(self, event: BaseEvent) -> None:
        """Take the run's next event."""
        if self.started_ms is None:
            self.started_ms = event.timestamp
            self.status = "running"
        self.last_ms = event.timestamp
        cost = self.meter.feed(event)
        if cost is not None:
            self.cost += cost
            self.usage += event.usage  # type: ignore[attr-defined]
        if event.type in STEP_END_TYPES:
            self._step_ended(event)

    def _step_ended(self, event: Any) -> None:
        checkpoint = event.checkpoint
        data = {
            "type": event.type,
            "text": getattr(event, "text", None),
            "step": event.step.to_json_dict(),
            "checkpoint": checkpoint.model_dump(
                include=_CHECKPOINT_FIELDS, by_alias=True, mode="json", exclude_none=True
            ),
        }
        action = step_action(data)
        expert = event.expert_key
        self.steps += 1
        self.keys.append(orjson.dumps([expert, action], option=orjson.OPT_SORT_KEYS))
        self.lines.append(f"{event.step_number} {expert}  {describe_action(action)}")
        if event.type == "completeRun" and checkpoint.delegated_by is None:
            self.final_answer = event.text
        status = str(checkpoint.status)
        if checkpoint.delegated_by is None and status not in ("proceeding", "stoppedByDelegate"):
            self.status = status  # the job's end (a follow-up step would say running again)

    def elapsed_ms(self, now_ms: int | None = None) -> int:
        """From the first event to ``now_ms`` (or to the last event)."""
        if self.started_ms is None:
            return 0
        end = now_ms if now_ms is not None else self.last_ms or self.started_ms
        return max(0, end - self.started_ms)

    def summary(self, now_ms: int | None = None) -> str:
        """The column's figures on one line: ``step 12 · 3.1k/250 tok · $0.012 · 4.2s``."""
        tokens = f"{format_tokens(self.usage.input_tokens)}/{format_tokens(self.usage.output_tokens)}"
        return (
            f"step {self.steps} · {tokens} tok · {format_cost(self.cost) or '$0'} · "
            f"{format_seconds(self.elapsed_ms(now_ms))}"
        )


def align_live(runs: Sequence[LiveRun]) -> list[tuple[int | None, ...]]:
    """The runs' ended steps aligned (each row: an index into each run's ``lines``)."""
    return align_many([list(run.keys) for run in runs])
