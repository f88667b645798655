"""What a skill knows of the tool call it is executing, and what it may ask the run for.

The executor sets :data:`CURRENT_CALL` around each ``Skill.call`` (each call runs in a task
of its own, so the value never leaks between parallel calls). An MCP skill reads it when a
call starts and keeps it while the call runs: the server's progress and log notifications
become skill-activity events of the call's step through :attr:`ToolCallContext.emit`, and
the requests the server sends back (sampling, elicitation) are answered through
:attr:`ToolCallContext.sample` and :attr:`ToolCallContext.elicit`.

The request and answer types are plain data: the engine answers them without importing
the MCP SDK, and the skill converts them to and from the protocol's types.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Literal

from runtime.model import Message, Usage

__all__ = [
    "CURRENT_CALL",
    "CallResult",
    "ElicitationAnswer",
    "ElicitationHandler",
    "ElicitationQuestion",
    "ElicitationRequest",
    "InputDeferred",
    "SamplingAnswer",
    "SamplingRequest",
    "ToolCallContext",
]


@dataclass(slots=True)
class SamplingRequest:
    """A server's ``sampling/createMessage``, in the runtime's terms.

    Attributes:
        messages: The conversation to complete (user and expert messages).
        system_prompt: The server's system prompt, if any.
        max_tokens: The most tokens the answer may take.
        wire: The request's parameters as the server sent them (recorded in the event).
    """

    messages: list[Message]
    system_prompt: str | None
    max_tokens: int
    wire: dict[str, Any]


@dataclass(slots=True)
class SamplingAnswer:
    """The completion: its text, the model that wrote it and why it stopped."""

    text: str
    model: str
    stop_reason: str = "endTurn"


@dataclass(slots=True)
class ElicitationRequest:
    """A server's ``elicitation/create``: a form to fill in, or a URL to open.

    Attributes:
        skill_name: The skill whose server asks.
        message: What the server says to the person.
        mode: ``form`` (answer with data matching ``requested_schema``) or ``url``.
        requested_schema: The form's JSON Schema (a flat object of primitive fields).
        url: The page to open (``url`` mode).
    """

    skill_name: str
    message: str
    mode: Literal["form", "url"] = "form"
    requested_schema: dict[str, Any] | None = None
    url: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The camelCase form kept in a checkpoint's metadata while the run waits."""
        data: dict[str, Any] = {"skillName": self.skill_name, "message": self.message}
        data["mode"] = self.mode
        if self.requested_schema is not None:
            data["requestedSchema"] = self.requested_schema
        if self.url is not None:
            data["url"] = self.url
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ElicitationRequest:
        """Read :meth:`to_json`'s form back."""
        return cls(
            skill_name=str(data.get("skillName", "")),
            message=str(data.get("message", "")),
            mode="url" if data.get("mode") == "url" else "form",
            requested_schema=data.get("requestedSchema"),
            url=data.get("url"),
        )


@dataclass(slots=True)
class ElicitationAnswer:
    """The person's answer: ``accept`` (with ``content`` for a form), ``decline``, ``cancel``."""

    action: Literal["accept", "decline", "cancel"]
    content: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"action": self.action}
        if self.content is not None:
            data["content"] = self.content
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ElicitationAnswer:
        action = data.get("action")
        content = data.get("content")
        return cls(
            action=action if action in ("accept", "decline", "cancel") else "cancel",
            content=content if isinstance(content, dict) else None,
        )


@dataclass(frozen=True, slots=True)
class ElicitationQuestion:
    """A server's question, with the call it came during (for a front end to ask)."""

    expert_key: str
    tool_call_id: str
    tool_name: str
    request: ElicitationRequest


#: A front end's way to ask the person (the workbench's form).
ElicitationHandler = Callable[[ElicitationQuestion], Awaitable[ElicitationAnswer]]


class InputDeferred(Exception):
    """Nobody can answer the server's question now (a headless run): the call is given up,
    the run stops like one waiting on an interactive tool, and the call runs again with
    the answer when the run is continued (``--continue -i``)."""

    def __init__(self, request: ElicitationRequest) -> None:
        super().__init__(request.message)
        self.request = request


@dataclass(slots=True)
class ToolCallContext:
    """The tool call being executed, and the run's services for it.

    Attributes:
        tool_call_id: The call's id.
        tool_name: The tool called.
        emit: Emits a skill-activity event of the call's step:
            ``emit("skillProgress", skill_name=..., progress=...)``.
        sample: Answers a sampling request with the run's provider and model (``None``:
            nobody to answer; the skill then refuses the request).
        elicit: Asks the person; raises :class:`InputDeferred` when nobody can answer now.
        usage: Tokens the call's sampling requests used (added to the step's usage).
    """

    tool_call_id: str
    tool_name: str
    emit: Callable[..., None] = lambda _type, **_payload: None
    sample: Callable[[str, SamplingRequest], Awaitable[SamplingAnswer]] | None = None
    elicit: Callable[[ElicitationRequest], Awaitable[ElicitationAnswer]] | None = None
    usage: Usage = field(default_factory=Usage)


#: The call the current task is executing (``None`` outside a tool call).
CURRENT_CALL: ContextVar[ToolCallContext | None] = ContextVar("perstack_tool_call", default=None)


@dataclass(slots=True)
class CallResult:
    """A tool call's result beyond its contents (an MCP skill's): whether the tool failed,
    and fields recorded on the event's tool result (``structuredContent``)."""

    contents: list[Any]
    is_error: bool = False
    extra: dict[str, Any] = field(default_factory=dict)
