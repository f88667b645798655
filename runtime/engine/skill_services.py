"""What a run segment offers the skills while its tool calls run (issue 18).

An MCP server may, during a call, report progress, log, ask for a completion (sampling)
or ask the person something (elicitation). :class:`SkillServices` gives each call its
:class:`~runtime.skills.calls.ToolCallContext`:

* ``emit``: skill-activity events, stamped with the segment's current step;
* ``sample``: the run's own provider and model answer; the request, the answer and its
  tokens are recorded in a ``skillSampling`` event, and the tokens count in the step's
  usage (so in the job's usage and cost);
* ``elicit``: the question is recorded (``skillElicitation``), then answered, in order, by
  answers given earlier to the same call (a resumed run), by the person through the
  front end's handler (the workbench's form), or, with nobody there (headless), deferred:
  the call is given up and the run stops waiting on it, like on an interactive tool.
  ``--continue -i <answer>`` then resumes the run and the call runs again, its questions
  answered from what was given (:meth:`resume_call`).

The pending question is kept in the checkpoint's ``metadata.elicitation`` (tool call,
question, answers already given) so a stored job says what it waits for.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from runtime.events import EVENT_CLASSES
from runtime.model import InstructionMessage, TextPart, Usage
from runtime.providers.base import GenerationRequest, NullSink
from runtime.skills.calls import (
    ElicitationAnswer,
    ElicitationHandler,
    ElicitationQuestion,
    ElicitationRequest,
    InputDeferred,
    SamplingAnswer,
    SamplingRequest,
    ToolCallContext,
)

if TYPE_CHECKING:
    from runtime.model import Checkpoint, InteractiveToolCallResult, ToolCall

__all__ = ["ElicitationQuestion", "ElicitationHandler", "SkillServices", "PENDING_KEY"]

#: Where a checkpoint keeps the question its run waits on (``checkpoint.metadata``).
PENDING_KEY = "elicitation"


class SkillServices:
    """The run's answers to MCP servers, for one run segment.

    Args:
        spec: The segment's ``SegmentSpec`` (provider, settings, bus, the front end's
            handler, the skills' state).
        base: The current step's event fields (job, run, expert, step number).
    """

    def __init__(self, spec: Any, base: Callable[[], dict[str, Any]]) -> None:
        self.spec = spec
        self._base = base
        self._prepared: dict[str, list[ElicitationAnswer]] = {}
        self._given: dict[str, list[ElicitationAnswer]] = {}

    def context(self, call: ToolCall) -> ToolCallContext:
        """The context a skill sees while it executes ``call``."""
        context = ToolCallContext(tool_call_id=call.id, tool_name=call.tool_name, emit=self.emit)
        context.sample = lambda skill, request: self._sample(context, skill, request)
        context.elicit = lambda request: self._elicit(context, request)
        return context

    def emit(self, event_type: str, **payload: Any) -> None:
        """Emit a skill-activity event of the current step."""
        self.spec.bus.emit(EVENT_CLASSES[event_type].make(**self._base(), **payload))

    # --- sampling -------------------------------------------------------------------------

    async def _sample(
        self, context: ToolCallContext, skill_name: str, request: SamplingRequest
    ) -> SamplingAnswer:
        setting = self.spec.setting
        base = self._base()
        messages: list[Any] = list(request.messages)
        if request.system_prompt:
            messages.insert(0, InstructionMessage(contents=[TextPart(text=request.system_prompt)]))
        generation = GenerationRequest(
            model=setting.model,
            messages=messages,
            tools=[],
            reasoning_budget="none",
            timeout_ms=setting.timeout,
            expert_key=base["expert_key"],
            job_id=base["job_id"],
            run_id=base["run_id"],
            step_number=base["step_number"],
            purpose="sampling",
            max_tokens=request.max_tokens,
        )
        event = {"skill_name": skill_name, "tool_call_id": context.tool_call_id}
        try:
            async with asyncio.timeout(setting.timeout / 1000):
                result = await self.spec.provider.generate(generation, NullSink())
        except Exception as exc:
            reason = getattr(exc, "message", None) or str(exc) or type(exc).__name__
            self.emit(
                "skillSampling", **event, request=request.wire, model=setting.model,
                usage=Usage(), error=reason,
            )  # fmt: skip
            raise
        context.usage = context.usage + result.usage
        stop = "maxTokens" if result.finish_reason == "length" else "endTurn"
        self.emit(
            "skillSampling", **event, request=request.wire, model=setting.model,
            text=result.text, stop_reason=stop, usage=result.usage,
        )  # fmt: skip
        return SamplingAnswer(text=result.text, model=setting.model, stop_reason=stop)

    # --- elicitation ----------------------------------------------------------------------

    async def _elicit(
        self, context: ToolCallContext, request: ElicitationRequest
    ) -> ElicitationAnswer:
        call_id = context.tool_call_id
        event = {"skill_name": request.skill_name, "tool_call_id": call_id}
        self.emit(
            "skillElicitation", **event, mode=request.mode, message=request.message,
            requested_schema=request.requested_schema, url=request.url,
        )  # fmt: skip
        prepared = self._prepared.get(call_id)
        handler = self.spec.elicitation_handler
        if prepared:
            answer = prepared.pop(0)
        elif handler is not None:
            question = ElicitationQuestion(
                self._base()["expert_key"], call_id, context.tool_name, request
            )
            answer = await handler(question)
        else:
            self.spec.skill_state[PENDING_KEY] = {
                "toolCallId": call_id,
                "toolName": context.tool_name,
                "request": request.to_json(),
                "answers": [a.to_json() for a in self._given.get(call_id, [])],
            }
            raise InputDeferred(request)
        self._given.setdefault(call_id, []).append(answer)
        self.emit("skillElicitationAnswer", **event, action=answer.action, content=answer.content)
        return answer

    def resume_call(self, checkpoint: Checkpoint, answer: InteractiveToolCallResult) -> bool:
        """Take ``-i``'s answer for a call that stopped on a server's question.

        Returns:
            True when ``answer`` is for such a call: the call stays pending and runs again,
            its questions answered from the answers given so far. False for an ordinary
            interactive (or delegate) answer.

        Raises:
            PerstackError: The answer does not fit the question (see ``parse_answer``).
        """
        from runtime.skills.elicitation import parse_answer

        pending = (checkpoint.metadata or {}).get(PENDING_KEY)
        if not isinstance(pending, dict) or pending.get("toolCallId") != answer.tool_call_id:
            return False
        request = ElicitationRequest.from_json(pending.get("request") or {})
        earlier = [ElicitationAnswer.from_json(a) for a in pending.get("answers") or []]
        self._prepared[answer.tool_call_id] = [*earlier, parse_answer(answer.text, request)]
        self.spec.skill_state.pop(PENDING_KEY, None)
        return True
