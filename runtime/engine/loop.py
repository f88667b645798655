"""The agent-loop state machine of one run segment (spec §5).

Each state does its work, emits exactly one state event (persisting the checkpoint it
carries first) and moves to the next state, until ``Stopped``. The segment returns its
final checkpoint; the job runner (``runtime.engine.jobs``) decides what happens next
(delegation, resuming a parent, ending the job).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from runtime import events as ev
from runtime.engine._messages import (
    LENGTH_REASON,
    NO_OUTPUT_REASON,
    in_call_order,
    json_reason,
    user_message,
)
from runtime.engine.context_window import context_window_usage
from runtime.engine.segment_spec import SegmentSpec
from runtime.engine.skill_services import PENDING_KEY, SkillServices
from runtime.engine.streaming import EventStreamSink
from runtime.engine.tool_execution import ToolExecutor, tool_message
from runtime.errors import PerstackError
from runtime.model import (
    Checkpoint,
    CheckpointError,
    ExpertMessage,
    Message,
    Step,
    TextPart,
    ToolCall,
    ToolCallPart,
    ToolResult,
    Usage,
    UserMessage,
    new_id,
    now_ms,
)
from runtime.providers.base import GenerationRequest, GenerationResult, ProviderError

__all__ = ["RunSegment", "SegmentSpec"]


class RunSegment:
    """Runs one Expert from a checkpoint until it stops.

    Args:
        spec: The segment's settings, provider, skills and bus.
    """

    def __init__(self, spec: SegmentSpec) -> None:
        self.spec = spec
        self.setting = spec.setting
        self.checkpoint: Checkpoint
        self.step: Step
        self._tool_calls: list[ToolCall] = []
        self._pending: list[ToolCall] = []
        self._partial: list[ToolResult] = []
        self._completion_results: list[ToolResult] = []
        self._sink: EventStreamSink | None = None
        self.services = SkillServices(spec, self._base)
        self._executor = ToolExecutor(spec.skills, spec.expert_ref, self.services.context)

    # --- plumbing -----------------------------------------------------------------------

    def _base(self) -> dict[str, Any]:
        return {
            "job_id": self.checkpoint.job_id,
            "run_id": self.setting.run_id,
            "expert_key": self.checkpoint.expert.key,
            "step_number": self.checkpoint.step_number,
        }

    def _emit(self, event: ev.BaseEvent) -> None:
        self.spec.bus.emit(event)

    def _update(self, **changes: Any) -> Checkpoint:
        """A new checkpoint object (events keep the one they were given)."""
        metadata = dict(self.checkpoint.metadata or {})
        state = self.spec.skill_state
        if state.get("todos") is not None:
            metadata["todos"] = list(state["todos"])
        metadata.pop(PENDING_KEY, None)  # the question a stopped run waits on, if any
        if state.get(PENDING_KEY):
            metadata[PENDING_KEY] = state[PENDING_KEY]
        changes.setdefault("metadata", metadata or None)
        if "usage" in changes:
            changes["context_window_usage"] = context_window_usage(
                changes["usage"], self.spec.context_window
            )
        self.checkpoint = self.checkpoint.model_copy(update=changes)
        return self.checkpoint

    def _add_messages(self, *messages: Message) -> None:
        self.step.new_messages = [*self.step.new_messages, *messages]
        self._update(messages=[*self.checkpoint.messages, *messages])

    def _finish_step(self) -> Step:
        self.step = self.step.model_copy(
            update={
                "finished_at": now_ms(),
                "tool_calls": self._tool_calls or None,
                "pending_tool_calls": self._pending or None,
                "partial_tool_results": self._partial or None,
            }
        )
        return self.step

    # --- the machine --------------------------------------------------------------------

    async def execute(self, initial: Checkpoint) -> Checkpoint:
        """Run the state machine from ``initial`` until it stops; return the last checkpoint."""
        self.checkpoint = initial
        state: Callable[[], Any] | None = self._init
        while state is not None:
            state = await state()
        return self.checkpoint

    async def _init(self) -> Callable[[], Any]:
        initial = self.checkpoint
        run_input = self.setting.input
        status = initial.status
        self._pending = list(initial.pending_tool_calls or [])
        self._partial = list(initial.partial_tool_results or [])
        todos = (initial.metadata or {}).get("todos")
        if todos is not None:
            self.spec.skill_state["todos"] = list(todos)
        if status == "init":
            if not run_input.text:
                raise _input_error("Input message is undefined")
            input_messages: list[Message] = [
                self.spec.build_instruction(),
                UserMessage(contents=[TextPart(text=run_input.text)]),
            ]
        elif status in ("stoppedByDelegate", "stoppedByInteractiveTool"):
            answer = run_input.interactive_tool_call_result
            if answer is None:
                raise _input_error("Interactive tool call result is undefined")
            # An answer to a server's question keeps its call pending: it runs again.
            if not self.services.resume_call(initial, answer):
                self._partial.append(answer.as_tool_result())
                self._pending = [c for c in self._pending if c.id != answer.tool_call_id]
                self._partial = in_call_order(self._partial, initial.messages)
            input_messages = []
        elif status == "proceeding" and not run_input.text:
            input_messages = []  # an interrupted run goes on where it was (server restart)
        else:
            if not run_input.text:
                raise _input_error("Input message is undefined")
            input_messages = [UserMessage(contents=[TextPart(text=run_input.text)])]
        self.step = Step(
            step_number=initial.step_number,
            input_messages=input_messages or None,
            started_at=now_ms(),
        )
        self._emit(
            ev.StartRun.make(
                initial_checkpoint=initial, input_messages=input_messages, **self._base()
            )
        )
        self._update(
            status="proceeding",
            messages=[*initial.messages, *input_messages],
            pending_tool_calls=None,
            partial_tool_results=None,
            delegate_to=None,
            error=None,
        )
        return self._prepare_for_step

    async def _prepare_for_step(self) -> Callable[[], Any]:
        if self._pending:
            self._emit(
                ev.ResumeToolCalls.make(
                    pending_tool_calls=self._pending,
                    partial_tool_results=self._partial,
                    **self._base(),
                )
            )
            self._tool_calls = list(self._pending)
            return self._calling_tool
        if self._partial:
            message = tool_message(self._partial)
            self._emit(ev.FinishAllToolCalls.make(new_messages=[message], **self._base()))
            self.step = self.step.model_copy(update={"tool_results": self._partial})
            self._partial = []
            self._add_messages(message)
            return self._finishing_step
        await self.spec.skills.ready()
        self._emit(ev.StartGeneration.make(messages=self.checkpoint.messages, **self._base()))
        return self._generating_tool_call

    async def _generate(
        self, messages: list[Message], *, with_tools: bool
    ) -> tuple[GenerationResult | None, ProviderError | None]:
        request = GenerationRequest(
            model=self.setting.model,
            messages=messages,
            tools=self.spec.skills.tools() if with_tools else [],
            reasoning_budget=self.setting.reasoning_budget,
            timeout_ms=self.setting.timeout,
            expert_key=self.checkpoint.expert.key,
            job_id=self.checkpoint.job_id,
            run_id=self.setting.run_id,
            step_number=self.checkpoint.step_number,
            purpose="toolCall" if with_tools else "runResult",
        )
        sink = EventStreamSink(self._emit, self._base(), stream_text=not with_tools)
        try:
            async with asyncio.timeout(self.setting.timeout / 1000):
                result = await self.spec.provider.generate(request, sink)
        except ProviderError as error:
            sink.finish()
            return None, error
        except TimeoutError:
            sink.finish()
            message = f"Generation timeout after {self.setting.timeout}ms"
            return None, ProviderError("TimeoutError", message, is_retryable=True)
        self._sink = sink
        return result, None

    def _finish_stream(self) -> None:
        if self._sink is not None:
            self._sink.finish()

    def _retries_exhausted(self) -> bool:
        return (self.checkpoint.retry_count or 0) >= self.setting.max_retries

    async def _stop_by_error(self, error: ProviderError, *, exhausted: bool) -> None:
        message = error.message
        if exhausted:
            message = f"Max retries ({self.setting.max_retries}) exceeded: {message}"
        failure = CheckpointError(
            name=error.name, message=message, status_code=error.status_code, is_retryable=False
        )
        checkpoint = self._update(status="stoppedByError", error=failure)
        self._emit(
            ev.StopRunByError.make(
                checkpoint=checkpoint, step=self._finish_step(), error=failure, **self._base()
            )
        )

    async def _retry(self, reason: str, new_messages: list[Message], error: ProviderError | None):
        self._emit(
            ev.Retry.make(reason=reason, new_messages=new_messages, usage=Usage(), **self._base())
        )
        self._add_messages(*new_messages)
        retries = (self.checkpoint.retry_count or 0) + 1
        self._update(retry_count=retries)
        if error is not None:
            delay = self.spec.provider.retry_delay(error, retries)
            if delay > 0:
                await asyncio.sleep(delay)
        return self._finishing_step

    async def _generation_failed(self, error: ProviderError, extra: list[Message]):
        if not error.is_retryable or self._retries_exhausted():
            await self._stop_by_error(error, exhausted=error.is_retryable)
            return None
        reason = json_reason(error.name, error.message)
        return await self._retry(reason, [*extra, user_message(reason)], error)

    async def _generating_tool_call(self) -> Callable[[], Any] | None:
        result, error = await self._generate(self.checkpoint.messages, with_tools=True)
        if error is not None:
            return await self._generation_failed(error, [])
        assert result is not None
        usage = result.usage
        if not result.tool_calls:
            if result.text.strip():
                return await self._complete(
                    ExpertMessage(contents=[*result.thinking, TextPart(text=result.text)]),
                    text=result.text,
                    usage=usage,
                    new_messages=[],
                )
            self._finish_stream()
            if self._retries_exhausted():
                error = ProviderError(
                    "MaxRetriesExceeded", "No tool call or text generated", is_retryable=True
                )
                await self._stop_by_error(error, exhausted=True)
                return None
            return await self._retry(NO_OUTPUT_REASON, [user_message(NO_OUTPUT_REASON)], None)
        self._finish_stream()
        if result.finish_reason == "length":
            if self._retries_exhausted():
                error = ProviderError(
                    "MaxRetriesExceeded", "Generation length exceeded", is_retryable=True
                )
                await self._stop_by_error(error, exhausted=True)
                return None
            first = result.tool_calls[0]
            call_part = ToolCallPart(tool_call_id=first.id, tool_name=first.name, args=first.args)
            answer = tool_message(
                [
                    ToolResult(
                        id=first.id,
                        skill_name="",
                        tool_name=first.name,
                        result=[TextPart(text=LENGTH_REASON)],
                        is_error=True,
                    )
                ]
            )
            return await self._retry(
                LENGTH_REASON, [ExpertMessage(contents=[call_part]), answer], None
            )
        calls = self._executor.resolve_calls(result.tool_calls)
        contents: list[Any] = list(result.thinking)
        if result.text:
            contents.append(TextPart(text=result.text))
        contents += [
            ToolCallPart(tool_call_id=c.id, tool_name=c.tool_name, args=c.args) for c in calls
        ]
        message = ExpertMessage(contents=contents)
        self.step = self.step.model_copy(update={"usage": self.step.usage + usage})
        self._emit(
            ev.CallTools.make(new_message=message, tool_calls=calls, usage=usage, **self._base())
        )
        self._tool_calls = calls
        self._pending = list(calls)
        self._add_messages(message)
        self._update(usage=self.checkpoint.usage + usage, retry_count=0)
        return self._calling_tool

    async def _calling_tool(self) -> Callable[[], Any] | None:
        outcome = await self._executor.run(self._pending, self._partial)
        self._partial = outcome.results
        if outcome.usage.total_tokens:  # completions the servers asked for (sampling)
            self.step = self.step.model_copy(update={"usage": self.step.usage + outcome.usage})
            self._update(usage=self.checkpoint.usage + outcome.usage)
        if outcome.completion is not None:
            completion = outcome.completion
            if outcome.remaining_todos:
                return self._resolve(outcome.results)
            last = self.checkpoint.messages[-1]
            text = last.text.strip() if isinstance(last, ExpertMessage) else ""
            self._pending = []
            if text:
                message = tool_message(outcome.results)
                return await self._complete(
                    ExpertMessage(contents=[TextPart(text=text)]),
                    text=text,
                    usage=Usage(),
                    new_messages=[message],
                )
            self._emit(ev.AttemptCompletion.make(tool_result=completion, **self._base()))
            self._completion_results = outcome.results
            self._partial = []
            return self._generating_run_result
        if outcome.delegates:
            self._pending = outcome.delegates + outcome.interactive
            last = self.checkpoint.messages[-1]
            self._emit(
                ev.CallDelegate.make(
                    new_message=last,
                    tool_calls=outcome.delegates,
                    usage=self.step.usage,
                    **self._base(),
                )
            )
            return self._calling_delegate(outcome.delegates, outcome.interactive)
        if outcome.interactive:
            self._pending = outcome.interactive
            last = self.checkpoint.messages[-1]
            self._emit(
                ev.CallInteractiveTool.make(
                    new_message=last,
                    tool_call=outcome.interactive[0],
                    usage=self.step.usage,
                    **self._base(),
                )
            )
            return self._calling_interactive_tool
        return self._resolve(outcome.results)

    def _resolve(self, results: list[ToolResult]) -> Callable[[], Any]:
        self._emit(ev.ResolveToolResults.make(tool_results=results, **self._base()))
        self.step = self.step.model_copy(update={"tool_results": results})
        self._pending = []
        self._partial = []
        return self._resolving_tool_result

    async def _resolving_tool_result(self) -> Callable[[], Any]:
        message = tool_message(self.step.tool_results or [])
        self._emit(ev.FinishToolCall.make(new_messages=[message], **self._base()))
        self._add_messages(message)
        return self._finishing_step

    async def _generating_run_result(self) -> Callable[[], Any] | None:
        results = self._completion_results
        message = tool_message(results)
        self.step = self.step.model_copy(update={"tool_results": results})
        history = [*self.checkpoint.messages, message]
        result, error = await self._generate(history, with_tools=False)
        if error is not None:
            return await self._generation_failed(error, [message])
        assert result is not None
        answer = ExpertMessage(contents=[*result.thinking, TextPart(text=result.text)])
        return await self._complete(
            answer, text=result.text, usage=result.usage, new_messages=[message]
        )

    async def _complete(
        self, answer: ExpertMessage, *, text: str, usage: Usage, new_messages: list[Message]
    ) -> None:
        # The final text always streams as run-result events before completeRun, even
        # when it was generated earlier (text that accompanied attemptCompletion).
        sink = self._sink or EventStreamSink(self._emit, self._base(), stream_text=True)
        sink.finish(final_text=text)
        self.step = self.step.model_copy(update={"usage": self.step.usage + usage})
        self._add_messages(*new_messages, answer)
        self._pending = []
        self._partial = []
        checkpoint = self._update(
            status="completed", usage=self.checkpoint.usage + usage, retry_count=0
        )
        self._emit(
            ev.CompleteRun.make(
                checkpoint=checkpoint,
                step=self._finish_step(),
                text=text,
                usage=usage,
                **self._base(),
            )
        )

    async def _calling_interactive_tool(self) -> None:
        checkpoint = self._update(
            status="stoppedByInteractiveTool",
            pending_tool_calls=self._pending,
            partial_tool_results=self._partial or None,
        )
        self._emit(
            ev.StopRunByInteractiveTool.make(
                checkpoint=checkpoint, step=self._finish_step(), **self._base()
            )
        )

    def _calling_delegate(
        self, delegates: list[ToolCall], others: list[ToolCall]
    ) -> Callable[[], Any]:
        async def state() -> None:
            targets = self._executor.delegation_targets(delegates)
            checkpoint = self._update(
                status="stoppedByDelegate",
                delegate_to=targets,
                pending_tool_calls=others or None,
                partial_tool_results=self._partial or None,
            )
            self._pending = others
            self._emit(
                ev.StopRunByDelegate.make(
                    checkpoint=checkpoint, step=self._finish_step(), **self._base()
                )
            )

        return state

    async def _finishing_step(self) -> Callable[[], Any] | None:
        step = self._finish_step()
        checkpoint = self._update(
            pending_tool_calls=self._pending or None,
            partial_tool_results=self._partial or None,
        )
        if checkpoint.step_number >= self.setting.max_steps:
            checkpoint = self._update(status="stoppedByExceededMaxSteps")
            self._emit(
                ev.StopRunByExceededMaxSteps.make(checkpoint=checkpoint, step=step, **self._base())
            )
            return None
        next_checkpoint = checkpoint.model_copy(
            update={"id": new_id(), "step_number": checkpoint.step_number + 1}
        )
        self._emit(
            ev.ContinueToNextStep.make(
                checkpoint=checkpoint, step=step, next_checkpoint=next_checkpoint, **self._base()
            )
        )
        self.checkpoint = next_checkpoint
        self.step = Step(step_number=next_checkpoint.step_number, started_at=now_ms())
        self._tool_calls = []
        self._sink = None
        return self._prepare_for_step


def _input_error(message: str) -> Exception:
    return PerstackError(message)
