"""The client half of an MCP session: the calls in flight, and what a server may ask of us.

A server sends notifications about a call (progress, log messages) and requests back to
the client while a call runs (sampling, elicitation, the roots). This module keeps the
skill's calls in flight and answers those through the run's services
(:class:`~runtime.skills.calls.ToolCallContext`):

* **progress** becomes ``skillProgress`` events of the call (at most one per 50 ms; the
  last one always);
* **log messages** at or above the skill's ``logLevel`` become ``skillLog`` events;
* **sampling** is answered by the run's own provider and model;
* **elicitation** is asked of the person (or defers the call: a headless run stops);
* **roots** is the run's workspace.

The protocol links a progress notification to its call (the progress token), but gives a
log message or a request no link to the call it serves. A log message is the call's when
exactly one of the skill's calls runs, the skill's otherwise; a request (sampling,
elicitation) is answered for the oldest call in flight, which needs one to run at all.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from pathlib import Path
from typing import Any

from runtime.model import (
    ExpertMessage,
    FileInlinePart,
    ImageInlinePart,
    TextPart,
    UserMessage,
)
from runtime.skills.calls import (
    ElicitationRequest,
    InputDeferred,
    SamplingRequest,
    ToolCallContext,
)
from runtime.skills.manager import SkillContext

__all__ = ["ClientFeatures", "InFlightCall", "LOG_LEVELS"]

#: MCP's log levels, least severe first.
LOG_LEVELS = ("debug", "info", "notice", "warning", "error", "critical", "alert", "emergency")
#: The shortest gap between two progress events of one call.
_PROGRESS_INTERVAL = 0.05


class InFlightCall:
    """One ``tools/call`` in progress.

    Attributes:
        context: The call as the runtime knows it (its id, the run's services).
        task: The task awaiting the result (cancelled to give the call up).
        deadline: Its ``asyncio.timeout``, paused while a person answers a question.
        deferred: The question nobody could answer now (the call is given up).
    """

    __slots__ = ("context", "task", "deadline", "deferred", "_sent_at", "_unsent")

    def __init__(self, context: ToolCallContext, task: asyncio.Task[Any] | None) -> None:
        self.context = context
        self.task = task
        self.deadline: asyncio.Timeout | None = None
        self.deferred: ElicitationRequest | None = None
        self._sent_at = 0.0
        self._unsent: dict[str, Any] | None = None

    def progress(self, skill_name: str, progress: float, total: float | None, message: str | None):
        """Record a progress notification (throttled)."""
        payload = {"progress": progress, "total": total, "message": message}
        now = time.monotonic()
        final = total is not None and progress >= total
        if not final and now - self._sent_at < _PROGRESS_INTERVAL:
            self._unsent = payload
            return
        self._emit_progress(skill_name, payload, now)

    def _emit_progress(self, skill_name: str, payload: dict[str, Any], now: float) -> None:
        self._sent_at, self._unsent = now, None
        context = self.context
        context.emit(
            "skillProgress",
            skill_name=skill_name,
            tool_call_id=context.tool_call_id,
            tool_name=context.tool_name,
            **payload,
        )

    def flush(self, skill_name: str) -> None:
        """Emit the last progress notification that was held back, if any."""
        if self._unsent is not None:
            self._emit_progress(skill_name, self._unsent, time.monotonic())

    async def paused(self, answer: Any) -> Any:
        """Await ``answer`` with the call's deadline stopped (a person takes their time)."""
        deadline = self.deadline
        when = deadline.when() if deadline is not None else None
        loop = asyncio.get_running_loop()
        started = loop.time()
        if deadline is not None and when is not None:
            deadline.reschedule(None)
        try:
            return await answer
        finally:
            if deadline is not None and when is not None and not deadline.expired():
                # The call may have ended meanwhile (cancelled): its deadline is gone.
                with contextlib.suppress(RuntimeError):
                    deadline.reschedule(when + (loop.time() - started))


def _sampling_parts(content: Any) -> list[Any]:
    blocks = content if isinstance(content, list) else [content]
    parts: list[Any] = []
    for block in blocks:
        kind = getattr(block, "type", None)
        if kind == "text":
            parts.append(TextPart(text=block.text))
        elif kind == "image":
            parts.append(ImageInlinePart(encoded_data=block.data, mime_type=block.mime_type))
        elif kind == "audio":
            parts.append(FileInlinePart(encoded_data=block.data, mime_type=block.mime_type))
        else:
            parts.append(TextPart(text=f"[{kind} content]"))
    return parts


def sampling_request(params: Any) -> SamplingRequest:
    """A ``CreateMessageRequestParams`` as the runtime's :class:`SamplingRequest`."""
    messages: list[Any] = []
    for message in params.messages:
        parts = _sampling_parts(message.content)
        if message.role == "assistant":
            texts = [p if isinstance(p, TextPart) else TextPart(text="[media]") for p in parts]
            messages.append(ExpertMessage(contents=texts))
        else:
            messages.append(UserMessage(contents=parts))
    wire = params.model_dump(by_alias=True, mode="json", exclude_none=True)
    wire.pop("_meta", None)
    return SamplingRequest(
        messages=messages,
        system_prompt=params.system_prompt,
        max_tokens=params.max_tokens,
        wire=wire,
    )


class ClientFeatures:
    """What one skill's MCP client offers its server, and the skill's calls in flight.

    Args:
        skill_name: The skill.
        config: Its configuration (``sampling``, ``elicitation``, ``roots``, ``logLevel``).
        context: The run's context (the workspace; ``emit_activity`` for log messages
            that come while no call runs).
    """

    def __init__(self, skill_name: str, config: Any, context: SkillContext) -> None:
        self.skill_name = skill_name
        self.config = config
        self.context = context
        self.log_level: str = getattr(config, "log_level", None) or "info"
        self._threshold = LOG_LEVELS.index(self.log_level)
        self.calls: dict[int, InFlightCall] = {}

    # --- calls --------------------------------------------------------------------------

    def begin(self, context: ToolCallContext) -> InFlightCall:
        """Register a call that starts now (from the task that awaits it)."""
        call = InFlightCall(context, asyncio.current_task())
        self.calls[id(call)] = call
        return call

    def end(self, call: InFlightCall) -> None:
        """The call is over: emit its last held-back progress; forget it."""
        self.calls.pop(id(call), None)
        call.flush(self.skill_name)

    def _current(self) -> InFlightCall | None:
        """The oldest call in flight (what a server's request is answered for)."""
        return next(iter(self.calls.values()), None)

    def _only(self) -> InFlightCall | None:
        """The call in flight when there is exactly one (a log message is surely its)."""
        return next(iter(self.calls.values())) if len(self.calls) == 1 else None

    # --- the session's callbacks --------------------------------------------------------

    def session_options(self) -> dict[str, Any]:
        """Keyword arguments for ``ClientSession``: a callback per capability left on (the
        SDK declares exactly the capabilities it has callbacks for)."""
        config = self.config
        options: dict[str, Any] = {"logging_callback": self._on_log}
        if getattr(config, "sampling", None) is not False:
            options["sampling_callback"] = self._on_sampling
        if getattr(config, "elicitation", None) is not False:
            options["elicitation_callback"] = self._on_elicitation
        if getattr(config, "roots", None) is not False:
            options["list_roots_callback"] = self._on_list_roots
        return options

    async def _on_log(self, params: Any) -> None:
        level = str(params.level)
        if level in LOG_LEVELS and LOG_LEVELS.index(level) < self._threshold:
            return  # below the skill's level (a server should not send it; some do)
        call = self._only()
        payload = {"skill_name": self.skill_name, "level": level, "data": params.data}
        if params.logger:
            payload["logger"] = params.logger
        if call is not None:
            call.context.emit("skillLog", tool_call_id=call.context.tool_call_id, **payload)
        else:
            self.context.emit_activity("skillLog", **payload)

    async def _on_list_roots(self, _context: Any) -> Any:
        import mcp_types

        workspace = Path(self.context.workspace).resolve()
        root = mcp_types.Root(uri=workspace.as_uri(), name=workspace.name or str(workspace))
        return mcp_types.ListRootsResult(roots=[root])

    async def _on_sampling(self, _context: Any, params: Any) -> Any:
        import mcp_types

        call = self._current()
        if call is None or call.context.sample is None:
            return mcp_types.ErrorData(
                code=mcp_types.INVALID_REQUEST,
                message="sampling is answered only while one of this server's tools runs",
            )
        try:
            answer = await call.context.sample(self.skill_name, sampling_request(params))
        except Exception as exc:  # the provider failed: the server is told why
            return mcp_types.ErrorData(code=mcp_types.INTERNAL_ERROR, message=str(exc))
        return mcp_types.CreateMessageResult(
            role="assistant",
            content=mcp_types.TextContent(text=answer.text),
            model=answer.model,
            stop_reason=answer.stop_reason,
        )

    async def _on_elicitation(self, _context: Any, params: Any) -> Any:
        import mcp_types

        call = self._current()
        if call is None or call.context.elicit is None:
            return mcp_types.ElicitResult(action="cancel")
        if getattr(params, "mode", "form") == "url":
            request = ElicitationRequest(
                self.skill_name, params.message, mode="url", url=params.url
            )
        else:
            request = ElicitationRequest(
                self.skill_name, params.message, requested_schema=dict(params.requested_schema)
            )
        try:
            answer = await call.paused(call.context.elicit(request))
        except InputDeferred:
            # Nobody can answer now: give the call up (the server is told it was
            # cancelled); it runs again with the answer when the run is continued.
            call.deferred = request
            if call.task is not None:
                call.task.cancel()
            return mcp_types.ElicitResult(action="cancel")
        content = answer.content if answer.action == "accept" and request.mode == "form" else None
        return mcp_types.ElicitResult(action=answer.action, content=content)
