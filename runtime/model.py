"""The data model shared by the loop, storage, events and the workbench (spec §3).

Every class serialises to exactly the JSON upstream Perstack writes: attributes are
snake_case in Python and camelCase on the wire (``by_alias=True``), ``None`` fields are
left out, and fields we do not know are kept so a checkpoint written by another version
round-trips unchanged.
"""

from __future__ import annotations

import base64
import os
import time
from typing import Annotated, Any, Literal, Union

import orjson
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr
from pydantic.alias_generators import to_camel

__all__ = [
    "CheckpointStatus",
    "JobStatus",
    "Usage",
    "TextPart",
    "ImageUrlPart",
    "ImageInlinePart",
    "ImageBinaryPart",
    "FileUrlPart",
    "FileInlinePart",
    "FileBinaryPart",
    "ToolCallPart",
    "ToolResultPart",
    "ThinkingPart",
    "MessagePart",
    "InstructionMessage",
    "UserMessage",
    "ExpertMessage",
    "ToolMessage",
    "Message",
    "ToolCall",
    "ToolResult",
    "ExpertRef",
    "DelegationTarget",
    "DelegatedBy",
    "CheckpointError",
    "Checkpoint",
    "Step",
    "ForkedFrom",
    "Job",
    "InteractiveToolCallResult",
    "RunInput",
    "new_id",
    "now_ms",
    "dumps",
]

CheckpointStatus = Literal[
    "init",
    "proceeding",
    "completed",
    "stoppedByInteractiveTool",
    "stoppedByDelegate",
    "stoppedByExceededMaxSteps",
    "stoppedByError",
]
JobStatus = Literal[
    "running", "completed", "stoppedByMaxSteps", "stoppedByInteractiveTool", "stoppedByError"
]


def new_id() -> str:
    """A fresh 24-character lowercase id (120 random bits), like upstream's cuid2 ids."""
    return base64.b32encode(os.urandom(15)).decode("ascii").lower()


def now_ms() -> int:
    """Wall-clock time in integer milliseconds, the unit of every timestamp on the wire."""
    return time.time_ns() // 1_000_000


class WireModel(BaseModel):
    """Base of every wire type: camelCase aliases, unknown fields preserved."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="allow",
        ser_json_bytes="base64",
        val_json_bytes="base64",
        defer_build=True,
    )

    def to_json_dict(self) -> dict[str, Any]:
        """The JSON-ready dict upstream would write (camelCase, no ``None`` fields)."""
        return orjson.loads(dumps(self))

    def to_json(self) -> bytes:
        """Compact JSON bytes, as upstream writes them."""
        return dumps(self)

    def model_copy(self, *, update: dict[str, Any] | None = None, deep: bool = False) -> Any:
        copied = super().model_copy(update=update, deep=deep)
        private = copied.__pydantic_private__
        if private and private.get("_json") is not None:
            private["_json"] = None  # a copy is a new value: never reuse the cached JSON
        return copied


class _Cached(WireModel):
    """A value that is never changed once made (copies are new values), so its JSON is
    encoded once and reused: messages and checkpoints appear in several events and files."""

    _json: orjson.Fragment | None = PrivateAttr(default=None)

    def __eq__(self, other: object) -> bool:
        # Equal values are equal whether or not one of them has been serialised yet.
        if not isinstance(other, BaseModel) or type(other) is not type(self):
            return NotImplemented
        return (
            self.__dict__ == other.__dict__ and self.__pydantic_extra__ == other.__pydantic_extra__
        )

    __hash__ = None  # type: ignore[assignment]


class Usage(WireModel):
    """Token counts; sums are field-wise."""

    input_tokens: int = 0
    output_tokens: int = 0
    reasoning_tokens: int = 0
    total_tokens: int = 0
    cached_input_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            input_tokens=self.input_tokens + other.input_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
            reasoning_tokens=self.reasoning_tokens + other.reasoning_tokens,
            total_tokens=self.total_tokens + other.total_tokens,
            cached_input_tokens=self.cached_input_tokens + other.cached_input_tokens,
        )


def _part_id() -> str:
    return new_id()


class _Part(WireModel):
    id: str = Field(default_factory=_part_id)


class TextPart(_Part):
    type: Literal["textPart"] = "textPart"
    text: str


class ImageUrlPart(_Part):
    type: Literal["imageUrlPart"] = "imageUrlPart"
    url: str
    mime_type: str


class ImageInlinePart(_Part):
    type: Literal["imageInlinePart"] = "imageInlinePart"
    encoded_data: str
    mime_type: str


class ImageBinaryPart(_Part):
    type: Literal["imageBinaryPart"] = "imageBinaryPart"
    data: str
    mime_type: str


class FileUrlPart(_Part):
    type: Literal["fileUrlPart"] = "fileUrlPart"
    url: str
    mime_type: str


class FileInlinePart(_Part):
    type: Literal["fileInlinePart"] = "fileInlinePart"
    encoded_data: str
    mime_type: str


class FileBinaryPart(_Part):
    type: Literal["fileBinaryPart"] = "fileBinaryPart"
    data: str
    mime_type: str


class ToolCallPart(_Part):
    type: Literal["toolCallPart"] = "toolCallPart"
    tool_call_id: str
    tool_name: str
    args: Any = Field(default_factory=dict)


ToolResultContent = Annotated[
    Union[TextPart, ImageInlinePart, FileInlinePart], Field(discriminator="type")
]


class ToolResultPart(_Part):
    type: Literal["toolResultPart"] = "toolResultPart"
    tool_call_id: str
    tool_name: str
    contents: list[ToolResultContent]
    is_error: bool | None = None


class ThinkingPart(_Part):
    type: Literal["thinkingPart"] = "thinkingPart"
    thinking: str
    signature: str | None = None


MessagePart = Annotated[
    Union[
        TextPart,
        ImageUrlPart,
        ImageInlinePart,
        ImageBinaryPart,
        FileUrlPart,
        FileInlinePart,
        FileBinaryPart,
        ToolCallPart,
        ToolResultPart,
        ThinkingPart,
    ],
    Field(discriminator="type"),
]


class _Message(_Cached):
    id: str = Field(default_factory=new_id)
    cache: bool | None = None


class InstructionMessage(_Message):
    """The system prompt (always one text part, sent with cache control)."""

    type: Literal["instructionMessage"] = "instructionMessage"
    contents: list[TextPart]


class UserMessage(_Message):
    type: Literal["userMessage"] = "userMessage"
    contents: list[
        Annotated[
            Union[
                TextPart,
                ImageUrlPart,
                ImageInlinePart,
                ImageBinaryPart,
                FileUrlPart,
                FileInlinePart,
                FileBinaryPart,
            ],
            Field(discriminator="type"),
        ]
    ]


class ExpertMessage(_Message):
    """What the model said: thinking, text and tool calls."""

    type: Literal["expertMessage"] = "expertMessage"
    contents: list[
        Annotated[Union[TextPart, ToolCallPart, ThinkingPart], Field(discriminator="type")]
    ]

    @property
    def text(self) -> str:
        """The concatenated text parts."""
        return "".join(p.text for p in self.contents if isinstance(p, TextPart))


class ToolMessage(_Message):
    type: Literal["toolMessage"] = "toolMessage"
    contents: list[ToolResultPart]


Message = Annotated[
    Union[InstructionMessage, UserMessage, ExpertMessage, ToolMessage],
    Field(discriminator="type"),
]


class ToolCall(WireModel):
    id: str
    skill_name: str
    tool_name: str
    args: Any = Field(default_factory=dict)


class ToolResult(WireModel):
    """A tool call's result. ``is_error`` is our addition (failed delegates, D3/D4)."""

    id: str
    skill_name: str
    tool_name: str
    result: list[MessagePart]
    is_error: bool | None = None


class ExpertRef(WireModel):
    key: str
    name: str
    version: str


class DelegationTarget(WireModel):
    expert: ExpertRef
    tool_call_id: str
    tool_name: str
    query: str


class DelegatedBy(WireModel):
    expert: ExpertRef
    tool_call_id: str
    tool_name: str
    checkpoint_id: str
    run_id: str


class CheckpointError(WireModel):
    name: str
    message: str
    status_code: int | None = None
    is_retryable: bool = False


class Checkpoint(_Cached):
    """The state of a run at the end of a step; what `--continue` resumes from."""

    id: str
    job_id: str
    run_id: str
    status: CheckpointStatus
    step_number: int
    messages: list[Message]
    expert: ExpertRef
    delegate_to: list[DelegationTarget] | None = None
    delegated_by: DelegatedBy | None = None
    usage: Usage = Field(default_factory=Usage)
    context_window: int | None = None
    context_window_usage: float | None = None
    pending_tool_calls: list[ToolCall] | None = None
    partial_tool_results: list[ToolResult] | None = None
    metadata: dict[str, Any] | None = None
    error: CheckpointError | None = None
    retry_count: int | None = None


class Step(WireModel):
    step_number: int
    input_messages: list[Message] | None = None
    new_messages: list[Message] = Field(default_factory=list)
    tool_calls: list[ToolCall] | None = None
    tool_results: list[ToolResult] | None = None
    pending_tool_calls: list[ToolCall] | None = None
    partial_tool_results: list[ToolResult] | None = None
    usage: Usage = Field(default_factory=Usage)
    started_at: int
    finished_at: int | None = None


class ForkedFrom(WireModel):
    """Where a forked job came from (our addition): the job, run and checkpoint it was
    started from by ``perstack fork``."""

    job_id: str
    run_id: str
    checkpoint_id: str


class Job(WireModel):
    id: str
    status: JobStatus
    coordinator_expert_key: str
    total_steps: int = 0
    max_steps: int | None = None
    usage: Usage = Field(default_factory=Usage)
    started_at: int
    finished_at: int | None = None
    #: Our addition: set on a job made by ``perstack fork``.
    forked_from: ForkedFrom | None = None


class InteractiveToolCallResult(WireModel):
    """The answer to a pending interactive (or delegate) tool call.

    ``is_error`` is our addition (D3): a failed delegate's error goes back to the parent
    as an error tool result.
    """

    tool_call_id: str
    tool_name: str
    skill_name: str
    text: str
    is_error: bool | None = None

    def as_tool_result(self) -> ToolResult:
        """The answer as the result of the call it answers."""
        return ToolResult(
            id=self.tool_call_id,
            skill_name=self.skill_name,
            tool_name=self.tool_name,
            result=[TextPart(text=self.text)],
            is_error=self.is_error,
        )


class RunInput(WireModel):
    text: str | None = None
    interactive_tool_call_result: InteractiveToolCallResult | None = None


def encode_base64(data: bytes) -> str:
    """Base64 text of ``data``, the form inline image and file parts carry."""
    return base64.b64encode(data).decode("ascii")


_ALIASES: dict[type, tuple[tuple[str, str], ...]] = {}


def _field_aliases(cls: type[WireModel]) -> tuple[tuple[str, str], ...]:
    aliases = _ALIASES.get(cls)
    if aliases is None:
        aliases = tuple((name, info.alias or name) for name, info in cls.model_fields.items())
        _ALIASES[cls] = aliases
    return aliases


def _shallow(model: WireModel) -> dict[str, Any]:
    values = model.__dict__
    out = {
        alias: values[name]
        for name, alias in _field_aliases(type(model))
        if values[name] is not None
    }
    extra = model.__pydantic_extra__
    if extra:
        out.update(extra)
    return out


def _encode(obj: Any) -> Any:
    if isinstance(obj, _Cached):
        # Read the private slot directly: pydantic's __getattr__ costs more than the encode.
        private = obj.__pydantic_private__
        cached = private.get("_json")
        if cached is None:
            cached = orjson.Fragment(orjson.dumps(_shallow(obj), default=_encode))
            private["_json"] = cached
        return cached
    if isinstance(obj, BaseModel):
        return _shallow(obj)  # type: ignore[arg-type]
    if isinstance(obj, (set, frozenset, tuple)):
        return list(obj)
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")


def dumps(obj: Any, *, indent: bool = False) -> bytes:
    """Serialise models (and plain JSON values holding them) to compact JSON bytes.

    Faster than ``model_dump_json`` for our shapes: each message is encoded once and
    reused in every checkpoint and event that carries the history.
    """
    option = orjson.OPT_INDENT_2 if indent else 0
    return orjson.dumps(obj, default=_encode, option=option)
