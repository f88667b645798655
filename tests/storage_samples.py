"""Builders of realistic jobs, checkpoints and events for the storage and log tests."""

from __future__ import annotations

import itertools
from typing import Any

from runtime.events import (
    CallDelegate,
    CallTools,
    CompleteRun,
    ContinueToNextStep,
    FinishToolCall,
    ResolveToolResults,
    Retry,
    RunEvent,
    StartGeneration,
    StartRun,
    StopRunByDelegate,
    StopRunByError,
    StreamReasoning,
)
from runtime.model import (
    Checkpoint,
    CheckpointError,
    ExpertMessage,
    ExpertRef,
    InstructionMessage,
    Job,
    Step,
    TextPart,
    ToolCall,
    ToolCallPart,
    ToolMessage,
    ToolResult,
    ToolResultPart,
    Usage,
    UserMessage,
)

T0 = 1_767_225_600_000  # 2026-01-01 00:00:00 UTC


def expert(key: str = "writer") -> ExpertRef:
    return ExpertRef(key=key, name=key, version="1.0.0")


def checkpoint(
    job_id: str,
    run_id: str,
    step: int,
    *,
    checkpoint_id: str | None = None,
    status: str = "proceeding",
    expert_key: str = "writer",
    messages: list[Any] | None = None,
    usage: Usage | None = None,
) -> Checkpoint:
    return Checkpoint(
        id=checkpoint_id or f"cp-{run_id}-{step}",
        job_id=job_id,
        run_id=run_id,
        status=status,  # type: ignore[arg-type]
        step_number=step,
        messages=messages
        if messages is not None
        else [
            InstructionMessage(contents=[TextPart(text="You write.")], cache=True),
            UserMessage(contents=[TextPart(text="Write a haiku")]),
        ],
        expert=expert(expert_key),
        usage=usage or Usage(input_tokens=10 * step, output_tokens=step, total_tokens=11 * step),
    )


def job(job_id: str, *, started_at: int = T0, status: str = "running", steps: int = 0) -> Job:
    return Job(
        id=job_id,
        status=status,  # type: ignore[arg-type]
        coordinator_expert_key="writer",
        total_steps=steps,
        max_steps=100,
        usage=Usage(),
        started_at=started_at,
    )


class EventFactory:
    """Events of one job with strictly increasing timestamps, as the runtime writes them."""

    def __init__(self, job_id: str, start: int = T0) -> None:
        self.job_id = job_id
        self._clock = itertools.count(start)

    def _base(self, run_id: str, step: int, expert_key: str = "writer") -> dict[str, Any]:
        return {
            "job_id": self.job_id,
            "run_id": run_id,
            "step_number": step,
            "expert_key": expert_key,
            "timestamp": next(self._clock),
        }

    def start_run(self, run_id: str, step: int, query: str = "Write a haiku") -> StartRun:
        return StartRun(
            **self._base(run_id, step),
            initial_checkpoint=checkpoint(self.job_id, run_id, step, status="init"),
            input_messages=[
                InstructionMessage(contents=[TextPart(text="You write.")]),
                UserMessage(contents=[TextPart(text=query)]),
            ],
        )

    def start_generation(self, run_id: str, step: int) -> StartGeneration:
        return StartGeneration(**self._base(run_id, step), messages=[])

    def stream_reasoning(self, run_id: str, step: int, delta: str = "hm") -> StreamReasoning:
        return StreamReasoning(**self._base(run_id, step), delta=delta)

    def call_tools(
        self, run_id: str, step: int, tools: list[tuple[str, str]] | None = None
    ) -> CallTools:
        calls = [
            ToolCall(id=f"tc-{step}-{i}", skill_name=skill, tool_name=tool, args={"path": "a.txt"})
            for i, (skill, tool) in enumerate(tools or [("@perstack/base", "readTextFile")])
        ]
        message = ExpertMessage(
            contents=[
                ToolCallPart(tool_call_id=c.id, tool_name=c.tool_name, args=c.args) for c in calls
            ]
        )
        return CallTools(
            **self._base(run_id, step), new_message=message, tool_calls=calls, usage=Usage()
        )

    def resolve(
        self,
        run_id: str,
        step: int,
        text: str = '{"content":"hello"}',
        is_error: bool | None = None,
    ) -> ResolveToolResults:
        result = ToolResult(
            id=f"tc-{step}-0",
            skill_name="@perstack/base",
            tool_name="readTextFile",
            result=[TextPart(text=text)],
            is_error=is_error,
        )
        return ResolveToolResults(**self._base(run_id, step), tool_results=[result])

    def finish_tool_call(self, run_id: str, step: int) -> FinishToolCall:
        message = ToolMessage(
            contents=[
                ToolResultPart(
                    tool_call_id=f"tc-{step}-0",
                    tool_name="readTextFile",
                    contents=[TextPart(text="hello")],
                )
            ]
        )
        return FinishToolCall(**self._base(run_id, step), new_messages=[message])

    def continue_step(self, run_id: str, step: int) -> ContinueToNextStep:
        current = checkpoint(self.job_id, run_id, step)
        following = checkpoint(
            self.job_id, run_id, step + 1, checkpoint_id=f"cp-{run_id}-{step + 1}"
        )
        return ContinueToNextStep(
            **self._base(run_id, step),
            checkpoint=current,
            step=Step(step_number=step, started_at=T0),
            next_checkpoint=following,
        )

    def retry(self, run_id: str, step: int) -> Retry:
        return Retry(
            **self._base(run_id, step),
            reason='{"error":"RateLimit","message":"slow down"}',
            new_messages=[],
            usage=Usage(),
        )

    def stop_by_error(self, run_id: str, step: int) -> StopRunByError:
        return StopRunByError(
            **self._base(run_id, step),
            checkpoint=checkpoint(self.job_id, run_id, step, status="stoppedByError"),
            step=Step(step_number=step, started_at=T0),
            error=CheckpointError(name="APIError", message="boom", is_retryable=False),
        )

    def call_delegate(self, run_id: str, step: int, target: str = "researcher") -> CallDelegate:
        call = ToolCall(id=f"dc-{step}", skill_name=target, tool_name=target, args={"query": "q"})
        message = ExpertMessage(
            contents=[ToolCallPart(tool_call_id=call.id, tool_name=target, args=call.args)]
        )
        return CallDelegate(
            **self._base(run_id, step), new_message=message, tool_calls=[call], usage=Usage()
        )

    def stop_by_delegate(self, run_id: str, step: int) -> StopRunByDelegate:
        return StopRunByDelegate(
            **self._base(run_id, step),
            checkpoint=checkpoint(self.job_id, run_id, step, status="stoppedByDelegate"),
            step=Step(step_number=step, started_at=T0),
        )

    def complete(self, run_id: str, step: int, text: str = "Autumn moonlight") -> CompleteRun:
        return CompleteRun(
            **self._base(run_id, step),
            checkpoint=checkpoint(self.job_id, run_id, step, status="completed"),
            step=Step(step_number=step, started_at=T0),
            text=text,
            usage=Usage(),
        )

    def tool_step(self, run_id: str, step: int) -> list[RunEvent]:
        """The events of one ordinary tool-calling step."""
        return [
            self.start_generation(run_id, step),
            self.stream_reasoning(run_id, step),
            self.call_tools(run_id, step),
            self.resolve(run_id, step),
            self.finish_tool_call(run_id, step),
            self.continue_step(run_id, step),
        ]
