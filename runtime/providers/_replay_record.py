"""Reads a stored job back into the model calls it made: each request and its answer.

Events record a generation in pieces (spec §4, §5.1), and this module puts them back
together, run by run:

* ``startGeneration.messages`` is the request of a tool-calling generation; its answer is
  the next ``callTools.newMessage`` (thinking, text, tool calls with their ids), the last
  message of the ``completeRun`` checkpoint (an answer with text and no tool call), a
  ``retry`` (an error, an empty answer, or a call cut short by the length limit) or a
  ``stopRunByError`` (an error, possibly after the retries ran out).
* After ``attemptCompletion`` the run-result generation's request is the history plus the
  completion's tool message; its answer is the ``completeRun`` checkpoint's last message,
  or the ``retry``/``stopRunByError`` that failed it.
* ``streamReasoning`` / ``streamRunResult`` deltas in between are the generation's
  stream, replayed delta by delta.

Works for jobs of this runtime and of upstream Perstack alike (same event shapes; no
``job.json`` or ``run-setting.json`` needed).
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from runtime.engine.tool_execution import UNKNOWN_SKILL, tool_message
from runtime.model import ExpertMessage, Message, TextPart, ThinkingPart, ToolCallPart, Usage
from runtime.providers.base import (
    FinishReason,
    GeneratedToolCall,
    GenerationResult,
    ProviderError,
)

if TYPE_CHECKING:
    from runtime.events import RunEvent
    from runtime.model import CheckpointError
    from runtime.storage import Storage

__all__ = ["RecordedAnswer", "RecordedGeneration", "read_generations", "INDEXED_EVENT_TYPES"]

#: The only event types a replay needs (``continueToNextStep`` and friends carry whole
#: checkpoints and are skipped unread).
INDEXED_EVENT_TYPES = frozenset(
    {
        "startGeneration",
        "streamReasoning",
        "streamRunResult",
        "callTools",
        "attemptCompletion",
        "retry",
        "completeRun",
        "stopRunByError",
    }
)

# The loop's own retry reasons (runtime/engine/_messages.py, spec §5.1 outcomes 3 and 5).
_NO_OUTPUT = "Error: No tool call or text generated"
_LENGTH = "Error: Tool call generation failed"
_EXHAUSTED = re.compile(r"Max retries \(\d+\) exceeded: (?P<message>.*)\Z", re.S)
_EXHAUSTED_NO_OUTPUT = "No tool call or text generated"
_EXHAUSTED_LENGTH = "Generation length exceeded"

Purpose = Literal["toolCall", "runResult"]


@dataclass(slots=True)
class RecordedError:
    """A failed generation, raised afresh on every replay."""

    name: str
    message: str
    status_code: int | None
    retryable: bool

    def make(self) -> ProviderError:
        return ProviderError(
            self.name, self.message, status_code=self.status_code, is_retryable=self.retryable
        )


@dataclass(slots=True)
class RecordedAnswer:
    """What the model answered to one recorded request.

    Attributes:
        result: The answer, when the generation succeeded (or produced an empty or
            truncated answer the loop then retried).
        error: The provider error, when it failed.
        reasoning_deltas: The reasoning stream, as recorded.
        text_deltas: The run-result text stream, as recorded.
        required_tools: Tools the answer calls that the recorded run had on offer: a
            replay whose request no longer offers one of them cannot reproduce the job.
    """

    result: GenerationResult | None = None
    error: RecordedError | None = None
    reasoning_deltas: list[str] = field(default_factory=list)
    text_deltas: list[str] = field(default_factory=list)
    required_tools: frozenset[str] = frozenset()

    def fresh_result(self) -> GenerationResult:
        """A copy of the result, so a consumer editing it cannot change the next replay."""
        assert self.result is not None
        return copy.deepcopy(self.result)


@dataclass(slots=True)
class RecordedGeneration:
    """One model call of the stored job."""

    expert_key: str
    purpose: Purpose
    messages: list[Message]
    answer: RecordedAnswer
    run_id: str
    step_number: int


@dataclass(slots=True)
class _Pending:
    purpose: Purpose
    messages: list[Message] | None
    expert_key: str
    step_number: int
    reasoning: list[str] = field(default_factory=list)
    text: list[str] = field(default_factory=list)


class _RunReader:
    """Follows one run's events and yields its generations in order."""

    def __init__(self, run_id: str, out: list[RecordedGeneration]) -> None:
        self.run_id = run_id
        self.out = out
        self.pending: _Pending | None = None
        self.history: list[Message] = []

    def _emit(self, answer: RecordedAnswer, messages: list[Message] | None = None) -> None:
        pending = self.pending
        self.pending = None
        if pending is None:
            return
        messages = pending.messages if messages is None else messages
        if messages is None:
            return  # not enough recorded to know the request; nothing can match it
        answer.reasoning_deltas = pending.reasoning
        answer.text_deltas = pending.text
        if not answer.reasoning_deltas and answer.result is not None:
            thinking = "".join(part.thinking for part in answer.result.thinking)
            answer.reasoning_deltas = [thinking] if thinking else []
        if not answer.text_deltas and answer.result is not None and answer.result.text:
            answer.text_deltas = [answer.result.text]
        self.out.append(
            RecordedGeneration(
                expert_key=pending.expert_key,
                purpose=pending.purpose,
                messages=messages,
                answer=answer,
                run_id=self.run_id,
                step_number=pending.step_number,
            )
        )

    def feed(self, event: RunEvent) -> None:
        kind = event.type
        pending = self.pending
        if kind == "startGeneration":
            self.history = list(event.messages)  # type: ignore[attr-defined]
            self.pending = _Pending("toolCall", self.history, event.expert_key, event.step_number)
        elif kind == "streamReasoning":
            if pending is not None:
                pending.reasoning.append(event.delta)  # type: ignore[attr-defined]
        elif kind == "streamRunResult":
            if pending is not None:
                pending.text.append(event.delta)  # type: ignore[attr-defined]
        elif kind == "callTools":
            message: ExpertMessage = event.new_message  # type: ignore[attr-defined]
            if pending is not None and pending.purpose == "toolCall":
                required = frozenset(
                    call.tool_name
                    for call in event.tool_calls  # type: ignore[attr-defined]
                    if call.skill_name != UNKNOWN_SKILL
                )
                answer = _answer(message, event.usage, "tool-calls")  # type: ignore[attr-defined]
                answer.required_tools = required
                self._emit(answer)
            self.pending = None
            self.history = [*self.history, message]
        elif kind == "attemptCompletion":
            self.pending = _Pending("runResult", None, event.expert_key, event.step_number)
        elif kind == "completeRun":
            self._complete(event)
        elif kind == "retry":
            self._retry(event)
        elif kind == "stopRunByError":
            self._stop(event)

    def _complete(self, event: RunEvent) -> None:
        pending = self.pending
        if pending is None:
            return  # completed with the text that came with attemptCompletion: no call
        messages = list(event.checkpoint.messages)  # type: ignore[attr-defined]
        last = messages[-1] if messages else None
        if isinstance(last, ExpertMessage):
            answer = _answer(last, event.usage, "stop")  # type: ignore[attr-defined]
        else:
            text, usage = event.text, event.usage  # type: ignore[attr-defined]
            answer = RecordedAnswer(result=GenerationResult(text=text, usage=usage))
        self._emit(answer, messages[:-1] if pending.purpose == "runResult" else None)

    def _retry(self, event: RunEvent) -> None:
        pending = self.pending
        if pending is None:
            return
        new_messages = list(event.new_messages)  # type: ignore[attr-defined]
        answer = _retry_answer(event.reason, new_messages)  # type: ignore[attr-defined]
        request = None
        if pending.purpose == "runResult" and new_messages:
            request = [*self.history, new_messages[0]]
        self._emit(answer, request)

    def _stop(self, event: RunEvent) -> None:
        pending = self.pending
        if pending is None:
            return
        request = None
        if pending.purpose == "runResult":
            checkpoint = event.checkpoint  # type: ignore[attr-defined]
            results = event.step.tool_results or []  # type: ignore[attr-defined]
            request = [*checkpoint.messages, tool_message(results)]
        self._emit(_error_answer(event.error), request)  # type: ignore[attr-defined]


def _answer(message: ExpertMessage, usage: Usage, finish: FinishReason) -> RecordedAnswer:
    thinking = [p for p in message.contents if isinstance(p, ThinkingPart)]
    text = "".join(p.text for p in message.contents if isinstance(p, TextPart))
    calls = [
        GeneratedToolCall(id=p.tool_call_id, name=p.tool_name, args=p.args)
        for p in message.contents
        if isinstance(p, ToolCallPart)
    ]
    return RecordedAnswer(
        result=GenerationResult(
            text=text, thinking=thinking, tool_calls=calls, finish_reason=finish, usage=usage
        )
    )


def _retry_answer(reason: str, new_messages: list[Message]) -> RecordedAnswer:
    try:
        data = json.loads(reason)
    except ValueError:
        data = None
    if not isinstance(data, dict):
        return RecordedAnswer(error=RecordedError("Error", reason, None, True))
    name = str(data.get("error", "Error"))
    message = str(data.get("message", ""))
    if name == _NO_OUTPUT:
        return RecordedAnswer(result=GenerationResult())
    if name == _LENGTH:
        first = next(
            (
                part
                for m in new_messages
                if isinstance(m, ExpertMessage)
                for part in m.contents
                if isinstance(part, ToolCallPart)
            ),
            None,
        )
        return RecordedAnswer(result=_length_result(first))
    return RecordedAnswer(error=RecordedError(name, message, None, True))


def _length_result(call: ToolCallPart | None) -> GenerationResult:
    calls = [
        GeneratedToolCall(id=call.tool_call_id, name=call.tool_name, args=call.args)
        if call is not None
        else GeneratedToolCall(id="replay_truncated_call", name="", args={})
    ]
    return GenerationResult(tool_calls=calls, finish_reason="length")


def _error_answer(error: CheckpointError) -> RecordedAnswer:
    exhausted = _EXHAUSTED.match(error.message)
    if exhausted is None:
        return RecordedAnswer(
            error=RecordedError(error.name, error.message, error.status_code, False)
        )
    # The loop prefixes "Max retries (N) exceeded: " itself: replay the failure that
    # exhausted the retries, not the final message, so the prefix is not doubled.
    message = exhausted["message"]
    if error.name == "MaxRetriesExceeded" and message == _EXHAUSTED_NO_OUTPUT:
        return RecordedAnswer(result=GenerationResult())
    if error.name == "MaxRetriesExceeded" and message == _EXHAUSTED_LENGTH:
        return RecordedAnswer(result=_length_result(None))
    return RecordedAnswer(error=RecordedError(error.name, message, error.status_code, True))


def read_generations(storage: Storage, job_id: str) -> tuple[list[RecordedGeneration], int]:
    """Every model call of ``job_id``, run by run, each run in order.

    Returns:
        The generations, and how many events were read (0: the job has no events).
    """
    refs = storage.list_event_files(job_id, types=INDEXED_EVENT_TYPES)
    keyed = [(event, ref) for ref in refs if (event := storage.read_event(ref)) is not None]
    # The order of Storage.list_events: file-name order, then the events' own timestamps.
    keyed.sort(key=lambda pair: (pair[0].timestamp, pair[1].timestamp))
    readers: dict[str, _RunReader] = {}
    out: list[RecordedGeneration] = []
    for event, _ in keyed:
        reader = readers.get(event.run_id)
        if reader is None:
            reader = readers[event.run_id] = _RunReader(event.run_id, out)
        reader.feed(event)
    return out, len(keyed)
