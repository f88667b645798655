"""Slim copies of events for viewers, and the way back to the full stored event.

A viewer keeps an :class:`EventRef` and a slim copy (:func:`slim_event`) of each event;
:func:`read_stored_event` reads the full JSON again when someone asks for it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from runtime.events import BaseEvent

__all__ = ["EventRef", "read_stored_event", "slim_event"]


@dataclass(frozen=True, slots=True)
class EventRef:
    """Where a stored event is: enough to find its file (see ``Storage.list_event_files``)."""

    type: str
    run_id: str
    step: int
    id: str
    timestamp: int

    @classmethod
    def of(cls, event: BaseEvent) -> EventRef:
        """The reference of a run event."""
        return cls(event.type, event.run_id, event.step_number, event.id, event.timestamp)  # type: ignore[attr-defined]


# --- slimming -----------------------------------------------------------------------------


def slim_event(event: BaseEvent) -> BaseEvent:
    """The event without the message histories it carries (a shallow copy when needed).

    ``startGeneration`` carries everything sent to the model, and every event with a
    checkpoint carries the whole history again; a viewer holding them all would hold the
    history once per step. The copy keeps every other field, so filters on
    ``.checkpoint.status``, ``.step.toolCalls[]…`` and the like still work.
    """
    update: dict[str, Any] = {}
    for name in ("checkpoint", "initial_checkpoint", "next_checkpoint"):
        checkpoint = event.__dict__.get(name)
        if checkpoint is not None and checkpoint.messages:
            update[name] = checkpoint.model_copy(update={"messages": []})
    if event.type == "startGeneration" and event.__dict__.get("messages"):
        update["messages"] = []
    return event.model_copy(update=update) if update else event


# --- reading the full events back ---------------------------------------------------------


def read_stored_event(storage: Any, job_id: str, ref: EventRef) -> dict[str, Any] | None:
    """The full JSON of a referenced event from ``storage``, or ``None`` if not stored.

    Looks in the event's run directory at events of its type, nearest in step and time
    first, so it usually reads a single file.
    """
    refs = storage.list_event_files(job_id, run_id=ref.run_id, types={ref.type})
    refs.sort(key=lambda r: (r.step != ref.step, abs(r.timestamp - ref.timestamp)))
    for candidate in refs:
        raw = storage.read_event_raw(candidate)
        if raw is not None and raw.data.get("id") == ref.id:
            return raw.data
    return None
