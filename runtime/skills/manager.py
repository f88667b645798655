"""The interface every skill implements, and the context the runtime gives it.

A run segment starts its skills (concurrently), offers the union of their tools to the
model, routes each tool call to the skill that owns the tool, and closes every skill when
the segment ends, however it ends.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from runtime.model import FileInlinePart, ImageInlinePart, TextPart
from runtime.providers.base import ToolDefinition
from runtime.skills.calls import CallResult

__all__ = ["SkillContext", "Skill", "ToolContent", "filter_tools"]

#: What a tool call returns: the contents of its toolResultPart.
ToolContent = TextPart | ImageInlinePart | FileInlinePart


@dataclass(slots=True)
class SkillContext:
    """What the runtime hands a skill when it starts.

    Attributes:
        workspace: The directory the run works in (the base skill is confined to it).
        env: The run's environment: the process environment plus the ``.env`` files.
            A skill takes what it needs from here (stdio servers get only the safe
            variables and their ``requiredEnv``).
        emit_runtime: Emits a runtime event: ``emit_runtime("skillConnected",
            skill_name=..., server_info=...)``; the runtime fills in ids and timestamps.
        state: Per-run state the skill may keep and the runtime persists with each
            checkpoint (``checkpoint.metadata``), e.g. the base skill's todo list.
        emit_activity: Emits a skill-activity event (``skillLog``…) of the run's current
            step, for what a server sends while none of its tools runs (during a call,
            the call's own context emits: see :mod:`runtime.skills.calls`).
    """

    workspace: Path
    env: dict[str, str]
    emit_runtime: Callable[..., None] = lambda _type, **_payload: None
    state: dict[str, Any] = field(default_factory=dict)
    emit_activity: Callable[..., None] = lambda _type, **_payload: None


class Skill(ABC):
    """One skill of a run segment.

    Attributes:
        name: The skill's name (its table key in ``perstack.toml``).
        kind: ``mcp`` tools are executed by the skill; ``interactive`` and ``delegate``
            tools are handled by the loop (they stop the run or start a child run).
        rule: Text added to the system prompt, if any.
        lazy: Connect on first use instead of before the run starts.
    """

    name: str
    kind: Literal["mcp", "interactive", "delegate"] = "mcp"
    rule: str | None = None
    lazy: bool = False

    @abstractmethod
    async def start(self, context: SkillContext) -> None:
        """Connect (spawn, handshake, list tools). Raises ``PerstackError`` on failure."""

    @abstractmethod
    def tools(self) -> list[ToolDefinition]:
        """The tools offered to the model, already filtered by ``pick``/``omit``."""

    async def call(self, tool_name: str, args: Any) -> list[ToolContent] | CallResult:
        """Execute one tool call and return its result contents (or a :class:`CallResult`
        that also says whether the tool failed).

        Tool failures are results, not exceptions: return an error text the model can
        read. Only ``mcp`` skills implement this. The call being executed is in
        :data:`runtime.skills.calls.CURRENT_CALL`.

        Raises:
            InputDeferred: The tool needs a person's answer and nobody can give it now.
        """
        raise NotImplementedError(f"{self.kind} skill {self.name} does not execute tools")

    async def close(self) -> None:
        """Disconnect and release every process or connection. Safe to call twice."""


def filter_tools(
    tools: list[ToolDefinition], pick: list[str], omit: list[str]
) -> list[ToolDefinition]:
    """Apply a skill's ``omit`` list, then its ``pick`` list when non-empty (spec §8.5)."""
    kept = [t for t in tools if t.name not in set(omit)]
    if pick:
        wanted = set(pick)
        kept = [t for t in kept if t.name in wanted]
    return kept
