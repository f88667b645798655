"""The job's event bus: stamps, persists and delivers every event, in order.

One bus serves a whole job (all its runs, including parallel delegates), so timestamps
are strictly increasing job-wide: event file names never collide and any reader that
orders by timestamp sees the true order.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from runtime.engine.event_format import EventEncoder, EventFormat
from runtime.events import EVENT_CLASSES, BaseEvent, RunEvent
from runtime.model import now_ms

__all__ = ["EventBus", "EventListener", "RawEventListener"]

#: Receives each event object (embedders, the workbench).
EventListener = Callable[[BaseEvent], Any]
#: Receives each event with its JSON bytes, serialised once (``perstack run``'s stdout).
RawEventListener = Callable[[BaseEvent, bytes], Any]


class EventBus:
    """Persists then delivers events.

    Every event that carries a checkpoint has it stored *before* the event is emitted,
    so a listener that sees ``continueToNextStep`` can rely on ``--continue`` finding it.
    Storage keeps histories compact whatever the stream's format.

    Args:
        storage: Where run events and checkpoints go (``None``: nowhere).
        listeners: Called with each event object (full histories, in memory).
        raw_listeners: Called with each event and its JSON bytes.
        event_format: The bytes raw listeners get: ``compact`` (each message once in the
            stream) or ``upstream`` (full histories in every event).
    """

    def __init__(
        self,
        storage: Any | None = None,
        listeners: list[EventListener] | None = None,
        raw_listeners: list[RawEventListener] | None = None,
        event_format: EventFormat = "compact",
    ) -> None:
        self.storage = storage
        self.listeners = list(listeners or [])
        self.raw_listeners = list(raw_listeners or [])
        self._encoder = EventEncoder(event_format)
        self._last_timestamp = 0

    def _stamp(self) -> int:
        timestamp = now_ms()
        if timestamp <= self._last_timestamp:
            timestamp = self._last_timestamp + 1
        self._last_timestamp = timestamp
        return timestamp

    def emit(self, event: BaseEvent) -> None:
        """Stamp, persist (run events and their checkpoints) and deliver ``event``."""
        event.timestamp = self._stamp()
        if self.storage is not None and isinstance(event, RunEvent):
            checkpoint = getattr(event, "checkpoint", None)
            if checkpoint is not None:
                self.storage.store_checkpoint(checkpoint)
            self.storage.store_event(event)
        for listener in self.listeners:
            listener(event)
        if self.raw_listeners:
            data = self._encoder.encode(event)
            for raw_listener in self.raw_listeners:
                raw_listener(event, data)

    def emit_runtime(self, event_type: str, *, job_id: str, run_id: str, **payload: Any) -> None:
        """Build and emit a runtime event by its type name (skills use this)."""
        cls = EVENT_CLASSES[event_type]
        self.emit(cls(job_id=job_id, run_id=run_id, **payload))
