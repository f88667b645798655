"""Full checkpoints from a compact event stream (what ``perstack run`` prints by default).

In a compact stream, a checkpoint (or ``startGeneration``'s message list) carries only the
messages that are new since a checkpoint earlier in the same stream, and names that one::

    "messages": [...new messages...],
    "messagesBase": {"checkpointId": "...", "count": 12}

"the first 12 messages are those of that checkpoint, then these". A consumer that keeps
the stream rebuilds every full event with :class:`StreamRebuilder` (or
:func:`rebuild_events` over a whole capture)::

    rebuilder = StreamRebuilder()
    for line in sys.stdin:
        event = rebuilder.feed(json.loads(line))   # the event with full histories

It keeps the latest checkpoint of each run (the only possible bases), so its memory is one
history per run. Full (upstream-shaped) events pass through unchanged.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from runtime.storage.compact import (
    BASE_FIELD,
    CHECKPOINT_FIELDS,
    UnresolvedBase,
    expand_checkpoint,
)

__all__ = ["StreamRebuilder", "UnresolvedBase", "rebuild_events"]


class StreamRebuilder:
    """Turns the events of one compact stream, fed in order, into full events."""

    def __init__(self) -> None:
        self._messages: dict[str, list[Any]] = {}
        self._latest: dict[str, str] = {}

    def _resolve(self, checkpoint_id: str, count: int) -> list[Any] | None:
        return self._messages.get(checkpoint_id)

    def _remember(self, checkpoint: dict[str, Any]) -> None:
        checkpoint_id, run_id = checkpoint.get("id"), checkpoint.get("runId")
        messages = checkpoint.get("messages")
        if not isinstance(checkpoint_id, str) or not isinstance(messages, list):
            return
        previous = self._latest.get(str(run_id))
        if previous is not None and previous != checkpoint_id:
            self._messages.pop(previous, None)
        self._latest[str(run_id)] = checkpoint_id
        self._messages[checkpoint_id] = messages

    def feed(self, event: dict[str, Any]) -> dict[str, Any]:
        """The full form of ``event`` (the next event of the stream).

        Raises:
            UnresolvedBase: the event names a checkpoint the stream has not shown (the
                stream was cut at its start, or events are out of order).
        """
        full = event
        for _, wire in CHECKPOINT_FIELDS:
            checkpoint = event.get(wire)
            if not isinstance(checkpoint, dict):
                continue
            if BASE_FIELD in checkpoint:
                if full is event:
                    full = dict(event)
                checkpoint = full[wire] = expand_checkpoint(checkpoint, self._resolve)
            self._remember(checkpoint)
        if BASE_FIELD in event:
            full = expand_checkpoint(full, self._resolve)
        return full


def rebuild_events(events: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Every event of a stream (parsed JSON objects, in order) with full histories."""
    rebuilder = StreamRebuilder()
    for event in events:
        yield rebuilder.feed(event)
