"""Every event the runtime emits, with its exact upstream JSON shape (spec §4).

Three families:

* **ExpertStateEvent**: one per state-machine transition of a run (``startRun`` …
  ``completeRun``). Stored with the job and printed by ``perstack run``.
* **StreamingEvent**: reasoning and run-result text as it streams. Stored and printed.
* **RuntimeEvent**: the runtime's own life (``initializeRuntime``, skill lifecycle). Printed,
  never stored; it carries no ``expertKey`` or ``stepNumber``.
* **Skill activity** (our additions): what an MCP server sends while a step's tool calls
  run: progress, log messages, the model completions it asked for (sampling) and the
  questions it asked the person (elicitation). Stored and printed like state events (they
  belong to a step), but they never change the run's state.

``parse_event`` reads any of them back from JSON.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Self, Union

import orjson
from pydantic import Field, TypeAdapter

from runtime.model import (
    Checkpoint,
    CheckpointError,
    ExpertMessage,
    Message,
    Step,
    ToolCall,
    ToolResult,
    Usage,
    WireModel,
    new_id,
    now_ms,
)

__all__ = [
    "BaseEvent",
    "RunEvent",
    "RuntimeEvent",
    "Event",
    "STATE_EVENT_TYPES",
    "STREAMING_EVENT_TYPES",
    "RUNTIME_EVENT_TYPES",
    "SKILL_ACTIVITY_EVENT_TYPES",
    "parse_event",
]


class BaseEvent(WireModel):
    type: str
    id: str = Field(default_factory=new_id)
    timestamp: int = Field(default_factory=now_ms)
    job_id: str
    run_id: str

    @classmethod
    def make(cls, **fields: Any) -> Self:
        """Build an event from values the runtime already validated (no re-validation).

        The loop emits several events per step carrying the whole history; validating
        those lists again on every event would dominate the per-step cost.
        """
        # Given here, not left to the fields' default factories: pydantic inspects a
        # factory's signature each time it calls one (a few hundred µs per step).
        if "id" not in fields:
            fields["id"] = new_id()
        if "timestamp" not in fields:
            fields["timestamp"] = now_ms()
        return cls.model_construct(**fields)


class RunEvent(BaseEvent):
    """Base of state and streaming events: they belong to a step of a run."""

    expert_key: str
    step_number: int


class RuntimeEvent(BaseEvent):
    """Base of runtime events: no expert key or step number."""


# --- Expert state events -------------------------------------------------------------


class StartRun(RunEvent):
    type: Literal["startRun"] = "startRun"
    initial_checkpoint: Checkpoint
    input_messages: list[Message]


class StartGeneration(RunEvent):
    type: Literal["startGeneration"] = "startGeneration"
    messages: list[Message]


class Retry(RunEvent):
    type: Literal["retry"] = "retry"
    reason: str
    new_messages: list[Message]
    tool_calls: list[ToolCall] | None = None
    tool_results: list[ToolResult] | None = None
    usage: Usage


class CallTools(RunEvent):
    type: Literal["callTools"] = "callTools"
    new_message: ExpertMessage
    tool_calls: list[ToolCall]
    usage: Usage


class CallInteractiveTool(RunEvent):
    type: Literal["callInteractiveTool"] = "callInteractiveTool"
    new_message: ExpertMessage
    tool_call: ToolCall
    usage: Usage


class CallDelegate(RunEvent):
    type: Literal["callDelegate"] = "callDelegate"
    new_message: ExpertMessage
    tool_calls: list[ToolCall]
    usage: Usage


class ResolveToolResults(RunEvent):
    type: Literal["resolveToolResults"] = "resolveToolResults"
    tool_results: list[ToolResult]


class AttemptCompletion(RunEvent):
    type: Literal["attemptCompletion"] = "attemptCompletion"
    tool_result: ToolResult


class FinishToolCall(RunEvent):
    type: Literal["finishToolCall"] = "finishToolCall"
    new_messages: list[Message]


class FinishAllToolCalls(RunEvent):
    type: Literal["finishAllToolCalls"] = "finishAllToolCalls"
    new_messages: list[Message]


class ResumeToolCalls(RunEvent):
    type: Literal["resumeToolCalls"] = "resumeToolCalls"
    pending_tool_calls: list[ToolCall]
    partial_tool_results: list[ToolResult]


class ContinueToNextStep(RunEvent):
    type: Literal["continueToNextStep"] = "continueToNextStep"
    checkpoint: Checkpoint
    step: Step
    next_checkpoint: Checkpoint


class StopRunByInteractiveTool(RunEvent):
    type: Literal["stopRunByInteractiveTool"] = "stopRunByInteractiveTool"
    checkpoint: Checkpoint
    step: Step


class StopRunByDelegate(RunEvent):
    type: Literal["stopRunByDelegate"] = "stopRunByDelegate"
    checkpoint: Checkpoint
    step: Step


class StopRunByExceededMaxSteps(RunEvent):
    type: Literal["stopRunByExceededMaxSteps"] = "stopRunByExceededMaxSteps"
    checkpoint: Checkpoint
    step: Step


class StopRunByError(RunEvent):
    type: Literal["stopRunByError"] = "stopRunByError"
    checkpoint: Checkpoint
    step: Step
    error: CheckpointError


class CompleteRun(RunEvent):
    type: Literal["completeRun"] = "completeRun"
    checkpoint: Checkpoint
    step: Step
    text: str
    usage: Usage


# --- Streaming events ----------------------------------------------------------------


class StartStreamingReasoning(RunEvent):
    type: Literal["startStreamingReasoning"] = "startStreamingReasoning"


class StreamReasoning(RunEvent):
    type: Literal["streamReasoning"] = "streamReasoning"
    delta: str


class CompleteStreamingReasoning(RunEvent):
    type: Literal["completeStreamingReasoning"] = "completeStreamingReasoning"
    text: str


class StartStreamingRunResult(RunEvent):
    type: Literal["startStreamingRunResult"] = "startStreamingRunResult"


class StreamRunResult(RunEvent):
    type: Literal["streamRunResult"] = "streamRunResult"
    delta: str


class CompleteStreamingRunResult(RunEvent):
    type: Literal["completeStreamingRunResult"] = "completeStreamingRunResult"
    text: str


# --- Runtime events ------------------------------------------------------------------


class InitializeRuntime(RuntimeEvent):
    type: Literal["initializeRuntime"] = "initializeRuntime"
    runtime_version: str
    runtime: str = "local"
    expert_name: str
    experts: list[str]
    model: str
    #: Our addition: the ``providerName`` the run uses, so a viewer can price its tokens
    #: (``model`` alone is ambiguous: offline providers cost nothing).
    provider_name: str | None = None
    max_steps: int | None = None
    max_retries: int
    timeout: int
    query: str | None = None
    interactive_tool_call: dict[str, Any] | None = None


class SkillStarting(RuntimeEvent):
    type: Literal["skillStarting"] = "skillStarting"
    skill_name: str
    command: str
    args: list[str]


class ServerInfo(WireModel):
    name: str
    version: str


class SkillConnected(RuntimeEvent):
    type: Literal["skillConnected"] = "skillConnected"
    skill_name: str
    server_info: ServerInfo | None = None
    connect_duration_ms: float | None = None
    total_duration_ms: float | None = None
    spawn_duration_ms: float | None = None
    handshake_duration_ms: float | None = None
    tool_discovery_duration_ms: float | None = None


class SkillStderr(RuntimeEvent):
    type: Literal["skillStderr"] = "skillStderr"
    skill_name: str
    message: str


class SkillDisconnected(RuntimeEvent):
    type: Literal["skillDisconnected"] = "skillDisconnected"
    skill_name: str


class DockerBuildProgress(RuntimeEvent):
    type: Literal["dockerBuildProgress"] = "dockerBuildProgress"
    stage: Literal["pulling", "building", "complete", "error"]
    service: str
    message: str
    progress: float | None = None


class DockerContainerStatus(RuntimeEvent):
    type: Literal["dockerContainerStatus"] = "dockerContainerStatus"
    status: Literal["starting", "running", "healthy", "unhealthy", "stopped", "error"]
    service: str
    message: str | None = None


class ProxyAccess(RuntimeEvent):
    type: Literal["proxyAccess"] = "proxyAccess"
    action: Literal["allowed", "blocked"]
    domain: str
    port: int
    reason: str | None = None


class WarningEvent(RuntimeEvent):
    """Our addition: a warning also printed on stderr (e.g. lockfile drift)."""

    type: Literal["warning"] = "warning"
    message: str
    skill_name: str | None = None


# --- Skill activity (our additions) ----------------------------------------------------


class SkillProgress(RunEvent):
    """An MCP server's progress notification for one running tool call."""

    type: Literal["skillProgress"] = "skillProgress"
    skill_name: str
    tool_call_id: str
    tool_name: str
    progress: float
    total: float | None = None
    message: str | None = None


class SkillLog(RunEvent):
    """A log message an MCP server sent (``notifications/message``) at or above the
    skill's ``logLevel``; ``toolCallId`` names the call it came during, when known."""

    type: Literal["skillLog"] = "skillLog"
    skill_name: str
    level: str
    data: Any = None
    logger: str | None = None
    tool_call_id: str | None = None


class SkillSampling(RunEvent):
    """An MCP server asked for a completion (``sampling/createMessage``), answered by the
    run's own provider and model; ``usage`` is counted in the step's and the job's."""

    type: Literal["skillSampling"] = "skillSampling"
    skill_name: str
    tool_call_id: str | None = None
    request: dict[str, Any]
    model: str
    text: str | None = None
    stop_reason: str | None = None
    usage: Usage
    error: str | None = None


class SkillElicitation(RunEvent):
    """An MCP server asked the person something (``elicitation/create``): a form
    (``requestedSchema``) or a URL to open (``url``)."""

    type: Literal["skillElicitation"] = "skillElicitation"
    skill_name: str
    tool_call_id: str | None = None
    mode: Literal["form", "url"] = "form"
    message: str
    requested_schema: dict[str, Any] | None = None
    url: str | None = None


class SkillElicitationAnswer(RunEvent):
    """What the server was told: ``accept`` (with ``content`` for a form), ``decline``
    or ``cancel``."""

    type: Literal["skillElicitationAnswer"] = "skillElicitationAnswer"
    skill_name: str
    tool_call_id: str | None = None
    action: Literal["accept", "decline", "cancel"]
    content: dict[str, Any] | None = None


_STATE = (
    StartRun, StartGeneration, Retry, CallTools, CallInteractiveTool, CallDelegate,
    ResolveToolResults, AttemptCompletion, FinishToolCall, FinishAllToolCalls,
    ResumeToolCalls, ContinueToNextStep, StopRunByInteractiveTool, StopRunByDelegate,
    StopRunByExceededMaxSteps, StopRunByError, CompleteRun,
)  # fmt: skip
_STREAMING = (
    StartStreamingReasoning, StreamReasoning, CompleteStreamingReasoning,
    StartStreamingRunResult, StreamRunResult, CompleteStreamingRunResult,
)  # fmt: skip
_SKILL_ACTIVITY = (
    SkillProgress, SkillLog, SkillSampling, SkillElicitation, SkillElicitationAnswer,
)  # fmt: skip
_RUNTIME = (
    InitializeRuntime, SkillStarting, SkillConnected, SkillStderr, SkillDisconnected,
    DockerBuildProgress, DockerContainerStatus, ProxyAccess, WarningEvent,
)  # fmt: skip


def _type_name(cls: type[BaseEvent]) -> str:
    return cls.model_fields["type"].default


STATE_EVENT_TYPES: frozenset[str] = frozenset(_type_name(c) for c in _STATE)
STREAMING_EVENT_TYPES: frozenset[str] = frozenset(_type_name(c) for c in _STREAMING)
SKILL_ACTIVITY_EVENT_TYPES: frozenset[str] = frozenset(_type_name(c) for c in _SKILL_ACTIVITY)
RUNTIME_EVENT_TYPES: frozenset[str] = frozenset(_type_name(c) for c in _RUNTIME)
EVENT_CLASSES: dict[str, type[BaseEvent]] = {
    _type_name(c): c for c in (*_STATE, *_STREAMING, *_SKILL_ACTIVITY, *_RUNTIME)
}

Event = Annotated[
    Union[_STATE + _STREAMING + _SKILL_ACTIVITY + _RUNTIME],  # type: ignore[valid-type]
    Field(discriminator="type"),
]
_adapter: TypeAdapter[Any] | None = None


def _event_adapter() -> TypeAdapter[Any]:
    # Built on first use: building every event's schema costs tens of milliseconds that
    # `perstack run` would otherwise pay before printing its first event.
    global _adapter
    if _adapter is None:
        _adapter = TypeAdapter(Event)
    return _adapter


def parse_event(data: bytes | str | dict[str, Any]) -> BaseEvent:
    """Read one event from its JSON (text, bytes or an already-parsed dict).

    Raises:
        pydantic.ValidationError: when the JSON is not a known event.
    """
    if isinstance(data, (bytes, str)):
        data = orjson.loads(data)
    return _event_adapter().validate_python(data)


def is_run_event(event: BaseEvent) -> bool:
    """True for state, streaming and skill-activity events (those stored with the job)."""
    return isinstance(event, RunEvent)


# Re-exported event classes, grouped for readers of `__all__`.
__all__ += [c.__name__ for c in (*_STATE, *_STREAMING, *_SKILL_ACTIVITY, *_RUNTIME, ServerInfo)]
__all__ += ["EVENT_CLASSES", "is_run_event"]
