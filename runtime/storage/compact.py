"""Each message written once: checkpoints and message lists as deltas on a known checkpoint.

A run's history only grows, so a checkpoint's messages are nearly always those of an
earlier checkpoint plus a few. The compact form writes just the few, and says where the
rest are::

    "messages": [<the new messages>],
    "messagesBase": {"checkpointId": "<an earlier checkpoint>", "count": 12}

which reads "the first 12 messages are those of that checkpoint, then these". The same
form is used in stored checkpoint files, in stored events, and in the event stream of
``perstack run`` (where the base is always a checkpoint that appeared earlier in the
stream). ``startGeneration``'s ``messages`` (what was sent to the model) is compacted the
same way. Everything else of an event or a checkpoint is written as before.

A reference stays valid when its base is written again: a checkpoint file is only ever
replaced by a version of itself with more messages (the same step, further on), never
fewer, so "its first 12 messages" do not change. A checkpoint is never its own base.

:class:`HistoryCompactor` chooses bases on the writing side; :func:`expand` rebuilds the
full document on the reading side, given a way to find a base's full messages.
"""

from __future__ import annotations

import operator
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from runtime.model import Checkpoint

__all__ = [
    "BASE_FIELD",
    "CHECKPOINT_FIELDS",
    "HistoryCompactor",
    "StoredHistories",
    "UnresolvedBase",
    "expand",
    "expand_checkpoint",
    "is_compact",
    "slim_document",
]

#: The field naming a compact document's base.
BASE_FIELD = "messagesBase"
#: (python name, wire name) of the checkpoint fields an event may carry, in wire order.
CHECKPOINT_FIELDS = (
    ("initial_checkpoint", "initialCheckpoint"),
    ("checkpoint", "checkpoint"),
    ("next_checkpoint", "nextCheckpoint"),
)

#: ``(checkpoint id, count)`` -> at least the first ``count`` messages (JSON values) of
#: that checkpoint, or ``None`` when it is not known.
Resolver = Callable[[str, int], "list[Any] | None"]
#: How many runs a compactor keeps the latest checkpoint of (a long-lived server writes
#: many jobs; a run that falls out only costs one full write if it is resumed later).
MAX_RUNS = 256
#: How many rebuilt histories a :class:`StoredHistories` keeps. The checkpoints of one
#: chain share a list, so an entry costs a few bytes: a replay's checkpoint panel can
#: jump back a thousand steps without reading the chain again.
MAX_CACHED = 1024
#: Files a walk of a chain reads one by one before it reads the rest at once (``read_all``).
SERIAL_READS = 4


class UnresolvedBase(ValueError):
    """A compact document's base is missing, or has fewer messages than it claims."""


@dataclass(slots=True)
class _Known:
    """A checkpoint that may serve as a base: its run and its messages.

    ``messages`` holds the message objects themselves (compared by identity, which costs
    next to nothing), or their ids for a checkpoint read back from storage (``by_id``).
    """

    run_id: str
    messages: tuple[Any, ...]
    by_id: bool = False
    #: For a stored checkpoint: the base its own file names, and how many messages.
    base: tuple[str, int] | None = None

    def is_prefix_of(self, messages: Sequence[Any], count: int | None = None) -> bool:
        """Whether this checkpoint's first ``count`` messages (all by default) begin
        ``messages``."""
        prefix = self.messages if count is None else self.messages[:count]
        size = len(prefix)
        if size == 0 or size > len(messages):
            return False
        if self.by_id:
            return prefix[-1] == messages[size - 1].id and all(
                known == message.id for known, message in zip(prefix, messages)
            )
        # Messages are never changed once made: the same objects mean the same history.
        return prefix[-1] is messages[size - 1] and all(map(operator.is_, prefix, messages))


class HistoryCompactor:
    """Chooses bases for the checkpoints and message lists one writer writes.

    One compactor serves one destination (a store, or one event stream): only
    checkpoints that destination holds are offered as bases. It keeps each run's latest
    checkpoint (and checkpoints read back for a resume), so its memory is one history
    per run, not one per step.
    """

    def __init__(self) -> None:
        self._known: dict[str, _Known] = {}
        #: run id -> its latest known checkpoint id, least recently updated first.
        self._latest: dict[str, str] = {}

    # --- what the destination holds ---------------------------------------------------

    def remember(
        self,
        checkpoint_id: str,
        run_id: str,
        messages: Sequence[Any],
        base: tuple[str, int] | None = None,
        *,
        by_id: bool = False,
    ) -> None:
        """``checkpoint_id`` (with these messages, or these message ids) is in the
        destination now."""
        self._known[checkpoint_id] = _Known(run_id, tuple(messages), by_id, base)
        previous = self._latest.pop(run_id, None)
        if previous is not None and previous != checkpoint_id:
            self._known.pop(previous, None)  # superseded: the run's history goes on in this one
        self._latest[run_id] = checkpoint_id
        if len(self._latest) > MAX_RUNS:
            oldest = next(iter(self._latest))
            self._known.pop(self._latest.pop(oldest), None)

    def remember_document(self, data: dict[str, Any]) -> None:
        """A full checkpoint document read back from the destination (resume, continue)."""
        messages = data.get("messages")
        if isinstance(messages, list) and isinstance(data.get("id"), str):
            ids = [m.get("id") if isinstance(m, dict) else None for m in messages]
            if all(isinstance(i, str) for i in ids):
                self.remember(data["id"], str(data.get("runId")), ids, by_id=True)

    # --- choosing a base ----------------------------------------------------------------

    def _candidates(self, own_id: str, run_id: str, *, as_file: bool) -> Iterator[str]:
        # Lazily: the first candidate nearly always fits, and there may be hundreds of runs.
        own = self._known.get(own_id)
        if as_file:
            if own is not None and own.base is not None:
                yield own.base[0]
        else:
            yield own_id
        latest = self._latest.get(run_id)
        if latest is not None:
            yield latest
        for other in reversed(self._latest.values()):  # other runs: a resumed parent, a fork
            yield other

    def choose_base(
        self, own_id: str, run_id: str, messages: Sequence[Any], *, as_file: bool
    ) -> tuple[str, int] | None:
        """The base (checkpoint id, message count) to write ``messages`` against, if any.

        Args:
            own_id: The checkpoint being written (a message list: the checkpoint it
                belongs to).
            run_id: Its run.
            messages: Its messages, in order.
            as_file: The document is the checkpoint's own file: it may not be its own base.
        """
        own = self._known.get(own_id)
        if as_file and own is not None and own.base is not None:
            # Its file is being replaced by a longer version of itself: same base.
            if own.is_prefix_of(messages, own.base[1]):
                return own.base
        seen: set[str] = set()
        for candidate in self._candidates(own_id, run_id, as_file=as_file):
            if candidate in seen or (as_file and candidate == own_id):
                continue
            seen.add(candidate)
            known = self._known.get(candidate)
            if known is not None and known.is_prefix_of(messages):
                return candidate, len(known.messages)
        return None

    # --- writing ------------------------------------------------------------------------

    def checkpoint_document(self, checkpoint: Checkpoint, *, as_file: bool) -> dict[str, Any]:
        """The checkpoint's JSON value, its messages as a delta when a base fits.

        Args:
            checkpoint: The full checkpoint.
            as_file: It is being stored as its own file (it becomes a base for later
                documents). Otherwise it is part of an event; in a stream (see
                :meth:`event_document`) it becomes a base once written.
        """
        from runtime.model import _shallow

        messages = checkpoint.messages
        base = self.choose_base(checkpoint.id, checkpoint.run_id, messages, as_file=as_file)
        document = _shallow(checkpoint)
        if base is not None:
            document["messages"] = messages[base[1] :]
            document[BASE_FIELD] = {"checkpointId": base[0], "count": base[1]}
        if as_file:
            self.remember(checkpoint.id, checkpoint.run_id, messages, base)
        return document

    def event_document(self, event: Any, *, stream: bool) -> dict[str, Any] | None:
        """The event's JSON value with compact histories, or ``None`` if it has none.

        Args:
            event: A run event.
            stream: The destination is an event stream: each checkpoint an event carries
                becomes a base for the events after it. In a store, only checkpoint files
                are bases (the bus stores an event's checkpoint before the event).
        """
        from runtime.model import _shallow

        document: dict[str, Any] | None = None
        for name, wire in CHECKPOINT_FIELDS:
            checkpoint = event.__dict__.get(name)
            if checkpoint is None:
                continue
            if document is None:
                document = _shallow(event)
            document[wire] = self.checkpoint_document(checkpoint, as_file=False)
            if stream:
                self.remember(checkpoint.id, checkpoint.run_id, checkpoint.messages)
        if event.type == "startGeneration":
            messages = event.__dict__.get("messages") or []
            latest = self._latest.get(event.run_id)
            base = (
                None
                if latest is None
                else self.choose_base(latest, event.run_id, messages, as_file=False)
            )
            if base is not None:
                document = _shallow(event)
                document["messages"] = messages[base[1] :]
                document[BASE_FIELD] = {"checkpointId": base[0], "count": base[1]}
        return document


# --- reading ----------------------------------------------------------------------------


def is_compact(data: dict[str, Any]) -> bool:
    """Whether ``data`` (a checkpoint or an event) has a history to rebuild."""
    if BASE_FIELD in data:
        return True
    return any(
        isinstance(value := data.get(wire), dict) and BASE_FIELD in value
        for _, wire in CHECKPOINT_FIELDS
    )


def expand_checkpoint(data: dict[str, Any], resolve: Resolver) -> dict[str, Any]:
    """The full form of a checkpoint (or a ``startGeneration``) document.

    Raises:
        UnresolvedBase: when its base cannot be found or is too short.
    """
    reference = data.get(BASE_FIELD)
    if reference is None:
        return data
    if not isinstance(reference, dict):
        raise UnresolvedBase(f"{BASE_FIELD} is not an object")
    base_id, count = reference.get("checkpointId"), reference.get("count")
    if not isinstance(base_id, str) or not isinstance(count, int) or count < 0:
        raise UnresolvedBase(f"{BASE_FIELD} needs checkpointId and count")
    base = resolve(base_id, count)
    if base is None:
        raise UnresolvedBase(f"its base checkpoint {base_id} is missing")
    if len(base) < count:
        raise UnresolvedBase(f"its base checkpoint {base_id} has {len(base)} of {count} messages")
    full = {key: value for key, value in data.items() if key != BASE_FIELD}
    full["messages"] = [*base[:count], *(data.get("messages") or [])]
    return full


def expand(data: dict[str, Any], resolve: Resolver) -> dict[str, Any]:
    """The full form of any document: a checkpoint, or an event with checkpoints in it.

    Raises:
        UnresolvedBase: when a base cannot be found or is too short.
    """
    if not is_compact(data):
        return data
    full = expand_checkpoint(data, resolve) if BASE_FIELD in data else dict(data)
    for _, wire in CHECKPOINT_FIELDS:
        value = full.get(wire)
        if isinstance(value, dict) and BASE_FIELD in value:
            full[wire] = expand_checkpoint(value, resolve)
    return full


def slim_document(data: dict[str, Any]) -> dict[str, Any]:
    """``data`` (an event, compact or whole) without the message histories it carries.

    Checkpoint fields keep every other field with ``messages`` empty, and a
    ``startGeneration`` keeps its other fields: what a viewer needs of an event, read
    without rebuilding any history (see :func:`runtime.views.event_refs.slim_event`).
    """
    slim = data
    for _, wire in CHECKPOINT_FIELDS:
        checkpoint = data.get(wire)
        if isinstance(checkpoint, dict) and (
            checkpoint.get("messages") or BASE_FIELD in checkpoint
        ):
            if slim is data:
                slim = dict(data)
            checkpoint = dict(checkpoint)
            checkpoint.pop(BASE_FIELD, None)
            checkpoint["messages"] = []
            slim[wire] = checkpoint
    if data.get("type") == "startGeneration" and (data.get("messages") or BASE_FIELD in data):
        if slim is data:
            slim = dict(data)
        slim.pop(BASE_FIELD, None)
        slim["messages"] = []
    return slim


class StoredHistories:
    """Rebuilds stored checkpoints' full message lists by following their bases.

    Args:
        read_document: ``checkpoint id -> its stored (possibly compact) JSON`` or ``None``.
        read_all: Every stored checkpoint of the job at once (``id -> JSON``), or
            ``None`` from a store where one read after another is quick enough (a
            folder); a bucket has it, each read being a round trip. A walk
            that has read :data:`SERIAL_READS` files one by one takes the rest from one
            such snapshot. It is consistent: a file only grows, so a base read later than
            the file naming it holds at least the messages it was named for.

    A chain is walked iteratively (a 1,600-step run is a chain of 1,600 files), and the
    latest rebuilt histories are cached: reading a job's events in order reads each
    checkpoint file once. A cached history serves any reference to at most as many
    messages as it holds (a checkpoint's file only ever grows).

    The checkpoints of one chain share one list as long as each only adds messages to
    the one before: a history is the first *n* items of a list, so rebuilding a chain of
    *n* files costs O(n), not O(n²).
    """

    def __init__(
        self,
        read_document: Callable[[str], dict[str, Any] | None],
        read_all: Callable[[], dict[str, dict[str, Any]] | None] | None = None,
    ) -> None:
        self._read = read_document
        self._read_all = read_all
        #: checkpoint id -> (a list whose first ``length`` items are its messages, length)
        self._cache: OrderedDict[str, tuple[list[Any], int]] = OrderedDict()

    def _cached(self, checkpoint_id: str, count: int) -> tuple[list[Any], int] | None:
        entry = self._cache.get(checkpoint_id)
        if entry is None or entry[1] < count:
            return None
        self._cache.move_to_end(checkpoint_id)
        return entry

    def messages(self, checkpoint_id: str, count: int = 0) -> list[Any] | None:
        """The messages of a stored checkpoint (at least ``count`` of them), or ``None``.

        Raises:
            UnresolvedBase: a base further down the chain is missing, short or circular.
        """
        entry = self._history(checkpoint_id, count)
        if entry is None:
            return None
        shared, length = entry
        return shared if len(shared) == length else shared[:length]

    def _prefix(self, checkpoint_id: str, count: int) -> list[Any] | None:
        """A list whose first ``count`` items are the checkpoint's first ``count``
        messages (it may go on: only for ``[:count]``)."""
        entry = self._history(checkpoint_id, count)
        return None if entry is None else entry[0]

    def _history(self, checkpoint_id: str, count: int) -> tuple[list[Any], int] | None:
        found = self._cached(checkpoint_id, count)
        if found is not None:
            return found
        chain: list[tuple[str, dict[str, Any]]] = []
        visited: set[str] = set()
        current, needed = checkpoint_id, count
        shared: list[Any] = []
        length = 0
        snapshot: dict[str, dict[str, Any]] | None = None
        while True:
            if current in visited:
                raise UnresolvedBase(f"its bases go round in a circle at {current}")
            visited.add(current)
            if snapshot is None and self._read_all is not None and len(chain) >= SERIAL_READS:
                snapshot = self._read_all()
                if snapshot is None:
                    self._read_all = None  # this store reads one by one as quickly
            data = snapshot.get(current) if snapshot is not None else None
            if data is None:  # not in the snapshot: written since, or not stored
                data = self._read(current)
            if data is None:
                if not chain:
                    return None
                raise UnresolvedBase(f"its base checkpoint {current} is not stored")
            chain.append((current, data))
            reference = data.get(BASE_FIELD)
            if not isinstance(reference, dict):
                break
            current, needed = reference.get("checkpointId"), reference.get("count")
            if not isinstance(current, str) or not isinstance(needed, int) or needed < 0:
                raise UnresolvedBase(f"{BASE_FIELD} needs checkpointId and count")
            cached = self._cached(current, needed)
            if cached is not None:
                shared, length = cached
                break
        for own_id, data in reversed(chain):
            delta = data.get("messages") or []
            reference = data.get(BASE_FIELD)
            if not isinstance(reference, dict):
                shared, length = list(delta), len(delta)
            else:
                base_count = reference["count"]
                if base_count > length:
                    raise UnresolvedBase(
                        f"its base checkpoint {reference['checkpointId']} has {length} of "
                        f"{base_count} messages"
                    )
                if base_count == len(shared):
                    shared.extend(delta)  # the usual case: only new messages, no copy
                else:
                    shared = [*shared[:base_count], *delta]
                length = base_count + len(delta)
            self._cache[own_id] = (shared, length)
            self._cache.move_to_end(own_id)
        while len(self._cache) > MAX_CACHED:
            self._cache.popitem(last=False)
        if length < count:
            raise UnresolvedBase(f"checkpoint {checkpoint_id} has {length} of {count} messages")
        return shared, length

    def expand(self, data: dict[str, Any]) -> dict[str, Any]:
        """The full form of a stored checkpoint or event (see :func:`expand`)."""
        return expand(data, self._prefix)
