"""The interface between the agent loop and a model provider.

The loop builds a :class:`GenerationRequest` (the full history, the tools on offer and the
reasoning budget), hands the provider a :class:`StreamSink` for reasoning and text deltas,
and receives a :class:`GenerationResult`. Providers raise :class:`ProviderError` for every
failure; the loop turns retryable ones into ``retry`` events and the rest into
``stopRunByError``.
"""

from __future__ import annotations

import random
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from runtime.model import Message, ThinkingPart, Usage

__all__ = [
    "ToolDefinition",
    "GenerationRequest",
    "GeneratedToolCall",
    "GenerationResult",
    "FinishReason",
    "StreamSink",
    "NullSink",
    "ProviderError",
    "Provider",
]

FinishReason = Literal["stop", "tool-calls", "length", "content-filter", "error", "other"]


@dataclass(frozen=True, slots=True)
class ToolDefinition:
    """A tool as offered to the model: its bare name, description and JSON Schema.

    ``title``, ``annotations`` (MCP's hints: ``readOnlyHint``, ``idempotentHint``…, in their
    wire form) and ``output_schema`` are what an MCP server says besides; they are kept in
    ``perstack.lock`` and shown to people, never sent to the model.
    """

    name: str
    description: str | None
    input_schema: dict[str, Any]
    skill_name: str = ""
    title: str | None = None
    annotations: dict[str, Any] | None = None
    output_schema: dict[str, Any] | None = None


@dataclass(slots=True)
class GenerationRequest:
    """One model call.

    Attributes:
        model: The model name from the run settings.
        messages: The whole history, instruction message first.
        tools: The tools on offer; empty for the final run-result generation.
        reasoning_budget: ``none|minimal|low|medium|high`` or a token count.
        timeout_ms: Abort the generation after this long.
        expert_key: The Expert being run (offline providers choose answers by it).
        job_id: The job, for providers that replay a recorded job.
        run_id: The run segment.
        step_number: The job-wide step this generation belongs to.
        purpose: ``"toolCall"`` for a normal step, ``"runResult"`` for the final answer,
            ``"sampling"`` for a completion an MCP server asked for during a tool call.
        max_tokens: The most tokens the answer may take (``None``: the model's ceiling).
    """

    model: str
    messages: list[Message]
    tools: list[ToolDefinition]
    reasoning_budget: str | int
    timeout_ms: int
    expert_key: str
    job_id: str
    run_id: str
    step_number: int
    purpose: Literal["toolCall", "runResult", "sampling"] = "toolCall"
    max_tokens: int | None = None


@dataclass(slots=True)
class GeneratedToolCall:
    """A tool call as the model produced it (``args`` already parsed from JSON)."""

    id: str
    name: str
    args: Any


@dataclass(slots=True)
class GenerationResult:
    """What one model call produced."""

    text: str = ""
    thinking: list[ThinkingPart] = field(default_factory=list)
    tool_calls: list[GeneratedToolCall] = field(default_factory=list)
    finish_reason: FinishReason = "stop"
    usage: Usage = field(default_factory=Usage)


class StreamSink(Protocol):
    """Where a provider pushes deltas while it streams."""

    def reasoning_delta(self, delta: str) -> None:
        """A piece of reasoning (thinking) text."""

    def text_delta(self, delta: str) -> None:
        """A piece of answer text."""


class NullSink:
    """A sink that drops everything (for callers that do not stream)."""

    def reasoning_delta(self, delta: str) -> None:
        pass

    def text_delta(self, delta: str) -> None:
        pass


class ProviderError(Exception):
    """A failed generation, normalised across providers.

    Attributes:
        name: The error's name (``RateLimitError``, ``TimeoutError``…).
        message: A human-readable message.
        status_code: The HTTP status when there was one.
        is_retryable: Whether the loop may try again.
        retry_after: Seconds the service asked us to wait, when it said so.
    """

    def __init__(
        self,
        name: str,
        message: str,
        *,
        status_code: int | None = None,
        is_retryable: bool = False,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.name = name
        self.message = message
        self.status_code = status_code
        self.is_retryable = is_retryable
        self.retry_after = retry_after


class Provider(ABC):
    """A model provider. One instance serves a whole job (connections are reused)."""

    #: The ``providerName`` this class serves.
    name: str = ""

    @abstractmethod
    async def generate(self, request: GenerationRequest, sink: StreamSink) -> GenerationResult:
        """Run one generation, streaming deltas into ``sink``.

        Raises:
            ProviderError: for every failure, retryable or not.
        """

    def retry_delay(self, error: ProviderError, attempt: int) -> float:
        """Seconds to wait before retry number ``attempt`` (1-based).

        The default honours ``retry-after`` and otherwise backs off exponentially with
        full jitter, capped at 30 s. Offline providers override it to retry at once.
        """
        if error.retry_after is not None:
            return max(0.0, error.retry_after)
        return random.uniform(0, min(30.0, 0.5 * 2 ** (attempt - 1)))

    async def aclose(self) -> None:
        """Release connections (called once when the job ends)."""
