"""How events are written to a stream: compact (the default) or in upstream's shape.

``compact``: a checkpoint or a ``startGeneration`` message list carries only the messages
that are new since a checkpoint earlier in the same stream, and names it
(``messagesBase``, see :mod:`runtime.storage.compact`). A 1,600-step job prints tens of
megabytes instead of gigabytes; :func:`runtime.views.checkpoints.rebuild_events` turns
such a stream back into full events.

``upstream``: every event exactly as upstream Perstack prints it, full histories included.
"""

from __future__ import annotations

from typing import Literal

from runtime.events import BaseEvent, RunEvent
from runtime.storage.compact import HistoryCompactor

__all__ = ["EVENT_FORMATS", "EventEncoder", "EventFormat"]

EventFormat = Literal["compact", "upstream"]
EVENT_FORMATS: tuple[EventFormat, ...] = ("compact", "upstream")


class EventEncoder:
    """Serialises the events of one stream, in order.

    Args:
        event_format: ``compact`` or ``upstream``.
    """

    def __init__(self, event_format: EventFormat = "compact") -> None:
        if event_format not in EVENT_FORMATS:
            raise ValueError(f"event format must be one of {', '.join(EVENT_FORMATS)}")
        self.event_format = event_format
        self._compactor = HistoryCompactor() if event_format == "compact" else None

    def encode(self, event: BaseEvent) -> bytes:
        """The event's JSON line (without the newline)."""
        if self._compactor is None or not isinstance(event, RunEvent):
            return event.to_json()
        document = self._compactor.event_document(event, stream=True)
        if document is None:
            return event.to_json()
        from runtime.model import dumps

        return dumps(document)
