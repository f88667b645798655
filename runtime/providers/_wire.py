"""A run's history kept in wire form between requests, so each step maps only what is new.

Model APIs are stateless: every step sends the whole history again. Mapping and encoding
hundreds of messages at every step would make a step's cost grow with the run's length.
Histories only grow, so :class:`HistoryEncoder` keeps what it built for the previous
request of the same run and adds the new messages to it; each message is encoded once, as
an :class:`orjson.Fragment` (encoded JSON that ``orjson.dumps`` copies verbatim).
"""

from __future__ import annotations

import operator
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

import orjson

__all__ = ["HistoryEncoder", "ToolEncoder", "fragment"]

S = TypeVar("S")


def fragment(value: Any) -> orjson.Fragment:
    """``value`` encoded once, to embed in any later ``orjson.dumps``."""
    return orjson.Fragment(orjson.dumps(value))


class ToolEncoder:
    """Each tool definition's wire form, encoded once.

    The same definitions are offered at every step (they are immutable and shared by the
    skills), so each is mapped and encoded on first use and reused by identity after.

    Args:
        encode: Maps one definition to its wire form (a JSON-ready dict).
        keep: How many definitions to remember (skills whose tools are rebuilt would
            otherwise grow the cache without end); past that it starts afresh.
    """

    def __init__(self, encode: Callable[[Any], Any], keep: int = 512) -> None:
        self._encode = encode
        self._keep = keep
        # id -> (definition, fragment): holding the definition keeps its id from being reused.
        self._cache: dict[int, tuple[Any, orjson.Fragment]] = {}

    def encoded(self, tools: Sequence[Any]) -> list[orjson.Fragment]:
        """The encoded form of each of ``tools``, in order."""
        out = []
        for tool in tools:
            entry = self._cache.get(id(tool))
            if entry is None or entry[0] is not tool:
                if len(self._cache) >= self._keep:
                    self._cache.clear()
                entry = self._cache[id(tool)] = (tool, fragment(self._encode(tool)))
            out.append(entry[1])
        return out


class _Entry(Generic[S]):
    __slots__ = ("messages", "state")

    def __init__(self, state: S) -> None:
        self.messages: list[Any] = []
        self.state = state


class HistoryEncoder(Generic[S]):
    """The wire state of the histories last sent, one per run (by its first message).

    Args:
        new_state: An empty state.
        add: Adds one message to a state (maps and encodes it).
        keep: How many histories to remember (a delegating parent and its children
            alternate; anything older is rebuilt if it comes back).
    """

    def __init__(
        self, new_state: Callable[[], S], add: Callable[[S, Any], None], keep: int = 8
    ) -> None:
        self._new_state = new_state
        self._add = add
        self._keep = keep
        self._entries: OrderedDict[int, _Entry[S]] = OrderedDict()

    def state_for(self, messages: Sequence[Any]) -> S:
        """The state of ``messages``: the previous one extended, or built afresh."""
        key = id(messages[0]) if messages else 0
        entry = self._entries.get(key)
        if entry is None or not _extends(messages, entry.messages):
            entry = _Entry(self._new_state())
            self._entries[key] = entry
        self._entries.move_to_end(key)
        while len(self._entries) > self._keep:
            self._entries.popitem(last=False)
        for message in messages[len(entry.messages) :]:
            self._add(entry.state, message)
            entry.messages.append(message)
        return entry.state


def _extends(messages: Sequence[Any], previous: list[Any]) -> bool:
    """Whether ``messages`` starts with exactly the message objects of ``previous``."""
    if len(messages) < len(previous):
        return False
    # `map` with `operator.is_` compares identities in C: a few microseconds per 1000.
    return all(map(operator.is_, previous, messages))
