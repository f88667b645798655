"""The offline scripted provider: answers from an ordered list of rules, no network.

``[provider] providerName = "scripted"`` with ``[provider.setting] script = "script.toml"``
(relative to ``perstack.toml``) or inline ``rules = [...]``. For every generation the
first rule that matches the Expert, the turn, the purpose and the query answers it, with
text, reasoning, tool calls or an error. See ``docs/offline-providers.md``.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

import orjson

from runtime.errors import PerstackError
from runtime.model import Message, ThinkingPart, Usage, new_id
from runtime.providers._script import Rule, Script, load_script_file, parse_script
from runtime.providers._script_toml import script_from_rules
from runtime.providers.base import (
    GeneratedToolCall,
    GenerationRequest,
    GenerationResult,
    Provider,
    ProviderError,
    StreamSink,
    ToolDefinition,
)

__all__ = ["ScriptedProvider", "create", "script_from_rules"]

#: Characters per token for the usage estimate (the usual rule of thumb for English).
_CHARS_PER_TOKEN = 4
#: What an image or file part counts for in the estimate (~1,000 tokens), whatever its size.
_BINARY_PART_CHARS = 4_000
_INLINE_SOURCE = "[provider.setting]"


class ScriptedProvider(Provider):
    """Answers generations from a :class:`Script`; one instance serves a whole job.

    Attributes:
        script: The compiled rules.
        requests: Every request received, in order (including ones answered with an error
            or left unanswered), so tests can assert on what the model was sent.
    """

    name = "scripted"

    def __init__(
        self,
        script: Script,
        *,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    ) -> None:
        """Build a provider answering from ``script``.

        Args:
            script: The compiled rules.
            sleep: The coroutine used for ``delayMs``/``chunkDelayMs`` (tests pass a fake).
        """
        self.script = script
        self.requests: list[GenerationRequest] = []
        self._sleep = sleep
        self._fired = [0] * len(script.rules)
        # The history only grows and messages never change, so each message (and each
        # tool definition) is measured once per job rather than once per step.
        self._message_chars: dict[str, int] = {}
        self._tool_chars: dict[tuple[str, str], int] = {}

    @classmethod
    def from_file(cls, path: Path) -> ScriptedProvider:
        """A provider for the script at ``path`` (TOML, or JSON if it ends in ``.json``).

        Raises:
            PerstackError: the script is missing, unreadable or invalid.
        """
        return cls(load_script_file(path))

    @classmethod
    def from_rules(
        cls, rules: list[dict[str, Any]], source: str = _INLINE_SOURCE
    ) -> ScriptedProvider:
        """A provider for rules given as data (the same tables a script file holds).

        Raises:
            PerstackError: a rule is invalid.
        """
        return cls(parse_script({"rules": rules}, source))

    # ----------------------------------------------------------------- generation

    async def generate(self, request: GenerationRequest, sink: StreamSink) -> GenerationResult:
        """Answer ``request`` with the first matching rule.

        Raises:
            ProviderError: the rule's scripted error, a ``TimeoutError`` when the rule's
                delay exceeds the request's timeout, or ``ScriptExhausted`` when no rule
                matches.
        """
        self.requests.append(request)
        turn = 1
        for message in request.messages:
            if message.type == "expertMessage":
                turn += 1
        rule = self._match(request, turn)
        if rule is None:
            raise ProviderError(
                "ScriptExhausted",
                f"No scripted answer for expert {request.expert_key}, turn {turn}, "
                f"purpose {request.purpose} in {self.script.source}",
                is_retryable=False,
            )
        if rule.delay:
            await self._wait(rule, request)
        for chunk in rule.reasoning_chunks:
            sink.reasoning_delta(chunk)
            if rule.chunk_delay:
                await self._sleep(rule.chunk_delay)
        for chunk in rule.text_chunks:
            sink.text_delta(chunk)
            if rule.chunk_delay:
                await self._sleep(rule.chunk_delay)
        if rule.error is not None:
            error = rule.error
            raise ProviderError(
                error.name,
                error.message,
                status_code=error.status_code,
                is_retryable=error.retryable,
                retry_after=None if error.retry_after_ms is None else error.retry_after_ms / 1000,
            )
        tool_calls = [
            GeneratedToolCall(
                id=call.id or f"call_{new_id()}",
                name=call.name,
                # A copy, so a consumer that edits args cannot change the next answer.
                args=copy.deepcopy(call.args),
            )
            for call in rule.tool_calls
        ]
        thinking = []
        if rule.reasoning is not None:
            thinking.append(ThinkingPart(thinking=rule.reasoning, signature=rule.signature))
        return GenerationResult(
            text=rule.text,
            thinking=thinking,
            tool_calls=tool_calls,
            finish_reason=rule.finish_reason or ("tool-calls" if tool_calls else "stop"),
            usage=self._usage(rule, request),
        )

    def retry_delay(self, error: ProviderError, attempt: int) -> float:
        """Retries are instant offline, unless the scripted error set ``retryAfterMs``."""
        return error.retry_after if error.retry_after is not None else 0.0

    def _match(self, request: GenerationRequest, turn: int) -> Rule | None:
        query = _first_query(request.messages) if self.script.needs_query else None
        instruction = _instruction(request.messages) if self.script.needs_instruction else None
        fired = self._fired
        for rule in self.script.rules:
            if rule.times is not None and fired[rule.index] >= rule.times:
                continue
            if rule.matches(request.expert_key, turn, request.purpose, query, instruction):
                fired[rule.index] += 1
                return rule
        return None

    async def _wait(self, rule: Rule, request: GenerationRequest) -> None:
        """Sleep for the rule's delay, or fail like a real provider past the timeout."""
        timeout = request.timeout_ms / 1000
        if 0 < timeout < rule.delay:
            await self._sleep(timeout)
            raise ProviderError(
                "TimeoutError",
                f"Request timed out after {request.timeout_ms} ms "
                f"(rule {rule.index} of {self.script.source} waits {round(rule.delay * 1000)} ms)",
                is_retryable=True,
            )
        await self._sleep(rule.delay)

    # ---------------------------------------------------------------------- usage

    def _usage(self, rule: Rule, request: GenerationRequest) -> Usage:
        given = rule.usage
        input_tokens = given.input_tokens if given else None
        output_tokens = given.output_tokens if given else None
        reasoning_tokens = given.reasoning_tokens if given else None
        if input_tokens is None:
            input_tokens = _tokens(self._request_chars(request))
        if output_tokens is None:
            answer_chars = len(rule.text) + len(rule.reasoning or "")
            for call in rule.tool_calls:
                answer_chars += len(call.name) + len(orjson.dumps(call.args))
            output_tokens = _tokens(answer_chars)
        if reasoning_tokens is None:
            reasoning_tokens = _tokens(len(rule.reasoning or ""))
        return Usage(
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            reasoning_tokens=reasoning_tokens,
            total_tokens=input_tokens + output_tokens,
            cached_input_tokens=(given.cached_input_tokens or 0) if given else 0,
        )

    def _request_chars(self, request: GenerationRequest) -> int:
        cache = self._message_chars
        total = 0
        for message in request.messages:
            chars = cache.get(message.id)
            if chars is None:
                chars = cache[message.id] = _message_chars(message)
            total += chars
        tool_cache = self._tool_chars
        for tool in request.tools:
            key = (tool.skill_name, tool.name)
            chars = tool_cache.get(key)
            if chars is None:
                chars = tool_cache[key] = _tool_chars(tool)
            total += chars
        return total


def _tokens(chars: int) -> int:
    return -(-chars // _CHARS_PER_TOKEN)


def _first_query(messages: list[Message]) -> str | None:
    for message in messages:
        if message.type == "userMessage":
            return "".join(getattr(part, "text", "") for part in message.contents)
    return None


def _instruction(messages: list[Message]) -> str | None:
    for message in messages:
        if message.type == "instructionMessage":
            return "".join(part.text for part in message.contents)
    return None


def _part_chars(part: Any) -> int:
    kind = part.type
    if kind == "textPart":
        return len(part.text)
    if kind == "thinkingPart":
        return len(part.thinking)
    if kind == "toolCallPart":
        return len(part.tool_name) + len(orjson.dumps(part.args))
    if kind == "toolResultPart":
        return len(part.tool_name) + sum(_part_chars(content) for content in part.contents)
    return _BINARY_PART_CHARS


def _message_chars(message: Message) -> int:
    return sum(_part_chars(part) for part in message.contents)


def _tool_chars(tool: ToolDefinition) -> int:
    return len(tool.name) + len(tool.description or "") + len(orjson.dumps(tool.input_schema))


# ------------------------------------------------------------------------ factory


def create(
    provider_name: str,
    setting: dict[str, Any],
    env: Mapping[str, str],
    base_dir: Path,
) -> ScriptedProvider:
    """Build the scripted provider from ``[provider.setting]`` (called by the factory).

    Args:
        provider_name: Always ``"scripted"``.
        setting: ``script`` (a path relative to ``base_dir``) or ``rules`` (inline tables).
        env: Unused; the scripted provider needs no keys.
        base_dir: The directory of ``perstack.toml``.

    Raises:
        PerstackError: neither or both of ``script``/``rules`` set, or an invalid script.
    """
    script = setting.get("script")
    rules = setting.get("rules")
    if script is not None and rules is not None:
        raise PerstackError(
            "Scripted provider: set either [provider.setting] script or rules, not both"
        )
    if script is not None:
        if not isinstance(script, str) or not script.strip():
            raise PerstackError("Scripted provider: [provider.setting] script must be a file path")
        return ScriptedProvider.from_file(base_dir / Path(script).expanduser())
    if rules is not None:
        if not isinstance(rules, list):
            raise PerstackError(
                "Scripted provider: [provider.setting] rules must be an array of rule tables"
            )
        return ScriptedProvider.from_rules(rules)
    raise PerstackError(
        'Scripted provider needs [provider.setting] script = "<file>" or inline rules'
    )
