"""Turns a provider's deltas into streaming events, always in order.

Each stream is ``start…`` → ``stream…``* → ``complete…``; a reasoning stream is completed
before any run-result text starts, and nothing is left open when a generation ends.
"""

from __future__ import annotations

from collections.abc import Callable

from runtime.events import (
    BaseEvent,
    CompleteStreamingReasoning,
    CompleteStreamingRunResult,
    StartStreamingReasoning,
    StartStreamingRunResult,
    StreamReasoning,
    StreamRunResult,
)

__all__ = ["EventStreamSink"]


class EventStreamSink:
    """A :class:`~runtime.providers.base.StreamSink` that emits streaming events.

    Args:
        emit: Emits one event.
        base: The run-event fields (``job_id``, ``run_id``, ``expert_key``, ``step_number``).
        stream_text: Emit run-result events for text deltas (only the final run-result
            generation streams its text live; a tool-calling step's text does not).
    """

    def __init__(
        self, emit: Callable[[BaseEvent], None], base: dict[str, object], stream_text: bool
    ) -> None:
        self._emit = emit
        self._base = base
        self._stream_text = stream_text
        self._reasoning: list[str] | None = None
        self._text: list[str] | None = None

    def reasoning_delta(self, delta: str) -> None:
        if not delta:
            return
        if self._reasoning is None:
            self._reasoning = []
            self._emit(StartStreamingReasoning.make(**self._base))
        self._reasoning.append(delta)
        self._emit(StreamReasoning.make(delta=delta, **self._base))

    def text_delta(self, delta: str) -> None:
        if not delta or not self._stream_text:
            return
        self._finish_reasoning()
        if self._text is None:
            self._text = []
            self._emit(StartStreamingRunResult.make(**self._base))
        self._text.append(delta)
        self._emit(StreamRunResult.make(delta=delta, **self._base))

    def _finish_reasoning(self) -> None:
        if self._reasoning is not None:
            text = "".join(self._reasoning)
            self._reasoning = None
            self._emit(CompleteStreamingReasoning.make(text=text, **self._base))

    def finish(self, final_text: str | None = None) -> None:
        """Close any open stream.

        Args:
            final_text: When given, the run result: it is streamed whole if no delta
                arrived (so a completed run always has its run-result events).
        """
        self._finish_reasoning()
        if final_text is not None and self._text is None and final_text:
            self._stream_text = True
            self.text_delta(final_text)
        if self._text is not None:
            text = "".join(self._text)
            self._text = None
            self._emit(CompleteStreamingRunResult.make(text=text, **self._base))
