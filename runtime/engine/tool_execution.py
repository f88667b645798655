"""Executes a step's tool calls: routing, concurrency, completion, delegation targets.

MCP calls of one step run concurrently and their results keep the call order. Calls the
model makes to tools nobody offers get an error result instead of crashing the run (D4).
Each call runs with its :class:`~runtime.skills.calls.ToolCallContext` set; a call whose
server asked a question nobody can answer now (``InputDeferred``) waits like an
interactive call, and the tokens of the completions servers asked for are summed.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from runtime.model import (
    DelegationTarget,
    ExpertRef,
    FileInlinePart,
    ImageInlinePart,
    TextPart,
    ToolCall,
    ToolMessage,
    ToolResult,
    ToolResultPart,
    Usage,
)
from runtime.providers.base import GeneratedToolCall
from runtime.skills.calls import CURRENT_CALL, CallResult, InputDeferred, ToolCallContext
from runtime.skills.delegate import DelegateSkill
from runtime.skills.skillset import SkillSet

__all__ = ["ToolExecutor", "ToolOutcome", "tool_message", "UNKNOWN_SKILL", "BASE_SKILL"]

BASE_SKILL = "@perstack/base"
#: The skill name recorded for calls to tools that no skill offers (D4).
UNKNOWN_SKILL = "unknown"
_KIND_ORDER = {"mcp": 0, "delegate": 1, "interactive": 2}


@dataclass
class ToolOutcome:
    """What running a step's pending calls produced.

    Attributes:
        results: Results so far (earlier partial results first, then call order).
        delegates: Delegate calls still to run (valid ones).
        interactive: Calls still to answer: calls whose server asked the person something
            (first), then interactive calls.
        completion: The ``attemptCompletion`` result when it was called.
        remaining_todos: Todos ``attemptCompletion`` reported as not done.
        usage: Tokens of the completions MCP servers asked for during the calls.
    """

    results: list[ToolResult] = field(default_factory=list)
    delegates: list[ToolCall] = field(default_factory=list)
    interactive: list[ToolCall] = field(default_factory=list)
    completion: ToolResult | None = None
    remaining_todos: list[Any] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)


def tool_message(results: list[ToolResult]) -> ToolMessage:
    """One toolMessage answering ``results`` (contents limited to what a result may hold)."""
    return ToolMessage(
        contents=[
            ToolResultPart(
                tool_call_id=r.id,
                tool_name=r.tool_name,
                contents=[
                    p
                    for p in r.result
                    if isinstance(p, (TextPart, ImageInlinePart, FileInlinePart))
                ],
                is_error=r.is_error,
            )
            for r in results
        ]
    )


def _error_result(call: ToolCall, text: str) -> ToolResult:
    return ToolResult(
        id=call.id,
        skill_name=call.skill_name,
        tool_name=call.tool_name,
        result=[TextPart(text=text)],
        is_error=True,
    )


class ToolExecutor:
    """Routes and runs tool calls for one run segment.

    Args:
        skills: The segment's skills.
        expert_ref: Looks up a delegate Expert's reference by key.
        call_context: Makes the context each call runs with (the run's services).
    """

    def __init__(
        self,
        skills: SkillSet,
        expert_ref: Callable[[str], ExpertRef] | None = None,
        call_context: Callable[[ToolCall], ToolCallContext] | None = None,
    ) -> None:
        self.skills = skills
        self.expert_ref = expert_ref
        self.call_context = call_context
        self._usage = Usage()

    def _kind(self, call: ToolCall) -> str:
        owner = self.skills.owner(call.tool_name)
        if owner is None or owner.name != call.skill_name:
            return "mcp"
        return owner.kind

    def resolve_calls(self, generated: list[GeneratedToolCall]) -> list[ToolCall]:
        """Attach each call's owning skill, ordered MCP, then delegates, then interactive."""
        calls = []
        for g in generated:
            owner = self.skills.owner(g.name)
            calls.append(
                ToolCall(
                    id=g.id,
                    skill_name=owner.name if owner is not None else UNKNOWN_SKILL,
                    tool_name=g.name,
                    args=g.args,
                )
            )
        return sorted(calls, key=lambda c: _KIND_ORDER[self._kind(c)])

    async def _call(self, call: ToolCall) -> ToolResult | InputDeferred:
        owner = self.skills.owner(call.tool_name)
        if owner is None or owner.name != call.skill_name:
            available = ", ".join(t.name for t in self.skills.tools())
            return _error_result(
                call, f"Tool {call.tool_name} not found. Available tools: {available}"
            )
        context = self.call_context(call) if self.call_context is not None else None
        # Each call runs in a task of its own (gather), so this never leaks to a sibling.
        CURRENT_CALL.set(context)
        try:
            reply = await owner.call(call.tool_name, call.args)
        except asyncio.CancelledError:
            raise
        except InputDeferred as deferred:
            return deferred
        except Exception as exc:  # a skill bug must not end the run: the model is told
            return _error_result(call, f"Error calling tool {call.tool_name}: {exc}")
        finally:
            if context is not None:
                self._usage = self._usage + context.usage
        if isinstance(reply, CallResult):
            return ToolResult(
                id=call.id,
                skill_name=call.skill_name,
                tool_name=call.tool_name,
                result=reply.contents,
                is_error=True if reply.is_error else None,
                **reply.extra,
            )
        return ToolResult(
            id=call.id, skill_name=call.skill_name, tool_name=call.tool_name, result=reply
        )

    async def run(self, pending: list[ToolCall], partial: list[ToolResult]) -> ToolOutcome:
        """Run the MCP calls among ``pending``; sort out delegates and interactive calls."""
        outcome = ToolOutcome(results=list(partial))
        mcp: list[ToolCall] = []
        for call in pending:
            kind = self._kind(call)
            if kind == "delegate":
                query = call.args.get("query") if isinstance(call.args, dict) else None
                if isinstance(query, str):
                    outcome.delegates.append(call)
                else:
                    outcome.results.append(
                        _error_result(
                            call, f"Delegation error: query is undefined for {call.tool_name}"
                        )
                    )
            elif kind == "interactive":
                outcome.interactive.append(call)
            else:
                mcp.append(call)
        completion = next(
            (c for c in mcp if c.tool_name == "attemptCompletion" and c.skill_name == BASE_SKILL),
            None,
        )
        if completion is not None and (outcome.delegates or outcome.interactive):
            completion = None  # completion waits until delegations and answers are in
        siblings = [c for c in mcp if c is not completion]
        self._usage = Usage()
        replies = await asyncio.gather(*(self._call(c) for c in siblings))
        deferred = [
            c for c, r in zip(siblings, replies, strict=True) if isinstance(r, InputDeferred)
        ]
        by_id = {r.id: r for r in replies if isinstance(r, ToolResult)}
        if deferred:
            # Calls waiting on the person come first (``-i`` answers the first pending
            # call); completion waits until they are answered.
            outcome.interactive = [*deferred, *outcome.interactive]
            if completion is not None:
                outcome.interactive.insert(len(deferred), completion)
                completion = None
        if completion is not None:
            # D6: the sibling calls run first, then completion is attempted.
            done = await self._call(completion)
            assert isinstance(done, ToolResult)  # the base skill never asks the person
            by_id[done.id] = done
            outcome.completion = done
            outcome.remaining_todos = _remaining_todos(done)
        outcome.results += [by_id[c.id] for c in mcp if c.id in by_id]
        outcome.usage = self._usage
        return outcome

    def delegation_targets(self, delegates: list[ToolCall]) -> list[DelegationTarget]:
        """The Experts to run for ``delegates`` (each call's ``query`` already checked)."""
        targets = []
        for call in delegates:
            owner = self.skills.owner(call.tool_name)
            assert isinstance(owner, DelegateSkill)
            expert = (
                self.expert_ref(owner.expert_key)
                if self.expert_ref is not None
                else ExpertRef(key=owner.expert_key, name=owner.name, version="1.0.0")
            )
            targets.append(
                DelegationTarget(
                    expert=expert,
                    tool_call_id=call.id,
                    tool_name=call.tool_name,
                    query=call.args["query"],
                )
            )
        return targets


def _remaining_todos(result: ToolResult) -> list[Any]:
    for part in result.result:
        if isinstance(part, TextPart):
            try:
                data = json.loads(part.text)
            except ValueError:
                return []
            if isinstance(data, dict) and isinstance(data.get("remainingTodos"), list):
                return data["remainingTodos"]
    return []
