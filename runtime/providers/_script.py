"""Loading, validating and compiling the rules of the scripted provider.

A script is TOML (or JSON when the file name ends in ``.json``) holding an ordered
``rules`` array. Everything that can be decided once is decided here, at load time:
globs become compiled patterns, ``turn`` specs become ranges or sets, streamed text is
pre-split into chunks. That keeps :meth:`ScriptedProvider.generate` down to a few
comparisons per rule, so a long scripted run costs next to nothing per step.
"""

from __future__ import annotations

import fnmatch
import json
import re
import sys
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator
from pydantic.alias_generators import to_camel

from runtime.errors import PerstackError
from runtime.providers._script_toml import locate_line
from runtime.providers.base import FinishReason

__all__ = [
    "Rule",
    "Script",
    "ToolCallSpec",
    "ErrorSpec",
    "UsageSpec",
    "load_script_file",
    "parse_script",
    "split_chunks",
]

_ANY_TURN = sys.maxsize


# --------------------------------------------------------------------------- schema


class _Strict(BaseModel):
    # strict: TOML and JSON already carry exact types, so "1" for an int is a mistake
    # worth reporting rather than coercing; extra="forbid" catches misspelt fields.
    model_config = ConfigDict(
        extra="forbid", strict=True, frozen=True, alias_generator=to_camel, validate_by_name=False
    )


class ToolCallSpec(_Strict):
    """One ``[[rules.toolCalls]]`` entry."""

    name: str = Field(min_length=1)
    args: Any = Field(default_factory=dict)
    id: str | None = Field(default=None, min_length=1)


class ErrorSpec(_Strict):
    """A ``[rules.error]`` table: the rule answers with this error."""

    name: str = Field(min_length=1)
    message: str = "Scripted error"
    status_code: int | None = None
    retryable: bool = False
    retry_after_ms: int | None = Field(default=None, ge=0)


class UsageSpec(_Strict):
    """A rule's ``usage``; fields left out are estimated."""

    input_tokens: int | None = Field(default=None, ge=0)
    output_tokens: int | None = Field(default=None, ge=0)
    reasoning_tokens: int | None = Field(default=None, ge=0)
    cached_input_tokens: int | None = Field(default=None, ge=0)


class _RuleSpec(_Strict):
    # Field order matters: the validators of later fields look at earlier ones.
    expert: str | None = Field(default=None, min_length=1)
    turn: Any = None
    purpose: Literal["toolCall", "runResult", "sampling"] | None = None
    query_contains: str | None = None
    instruction_contains: str | None = None
    times: int | None = Field(default=None, ge=1)
    delay_ms: int = Field(default=0, ge=0)
    chunk_delay_ms: int = Field(default=0, ge=0)
    reasoning: str | None = None
    signature: str | None = None
    text: str | None = None
    chunk_size: int | None = Field(default=None, ge=1)
    finish_reason: FinishReason | None = None
    usage: UsageSpec | None = None
    tool_calls: list[ToolCallSpec] = Field(default_factory=list)
    error: ErrorSpec | None = None

    @field_validator("turn", mode="plain")
    @classmethod
    def _check_turn(cls, value: Any) -> tuple[int, int] | frozenset[int] | None:
        return compile_turn(value)

    @field_validator("signature")
    @classmethod
    def _signature_needs_reasoning(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None and info.data.get("reasoning") is None:
            raise ValueError("signature needs reasoning")
        return value

    @field_validator("error")
    @classmethod
    def _error_stands_alone(cls, value: ErrorSpec | None, info: ValidationInfo) -> ErrorSpec | None:
        if value is not None:
            clashing = [
                alias
                for alias, name in (
                    ("toolCalls", "tool_calls"),
                    ("finishReason", "finish_reason"),
                    ("usage", "usage"),
                )
                if info.data.get(name)
            ]
            if clashing:
                raise ValueError(f"an error answer cannot also set {', '.join(clashing)}")
        return value


class _ScriptSpec(_Strict):
    rules: list[_RuleSpec] = Field(min_length=1)


_TURN_RANGE = re.compile(r"^\s*(\d+)\s*-\s*(\d+)\s*$")
_TURN_BOUND = re.compile(r"^\s*(>=|<=|>|<)?\s*(\d+)\s*$")


def compile_turn(value: Any) -> tuple[int, int] | frozenset[int] | None:
    """Turn a ``turn`` spec into an inclusive ``(low, high)`` range or a set of turns.

    Accepts an int, a list of ints, ``"a-b"`` (inclusive) or ``">=n"``/``">n"``/``"<=n"``/``"<n"``.

    Raises:
        ValueError: for anything else, or for turns below 1.
    """
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 1:
            raise ValueError("turn must be 1 or more")
        return (value, value)
    if isinstance(value, list):
        if not value or not all(isinstance(t, int) and not isinstance(t, bool) for t in value):
            raise ValueError("a turn list must hold one or more integers")
        if min(value) < 1:
            raise ValueError("turn must be 1 or more")
        return frozenset(value)
    if isinstance(value, str):
        if match := _TURN_RANGE.match(value):
            low, high = int(match[1]), int(match[2])
            if low < 1 or high < low:
                raise ValueError(f'turn range "{value}" must be "low-high" with 1 <= low <= high')
            return (low, high)
        if match := _TURN_BOUND.match(value):
            op, number = match[1], int(match[2])
            low, high = {
                None: (number, number),
                ">=": (number, _ANY_TURN),
                ">": (number + 1, _ANY_TURN),
                "<=": (1, number),
                "<": (1, number - 1),
            }[op]
            if low < 1 or high < low:
                raise ValueError(f'turn "{value}" matches no turn')
            return (low, high)
    raise ValueError(
        'turn must be an integer, a list of integers, "low-high" or ">=n" / ">n" / "<=n" / "<n"'
    )


# ------------------------------------------------------------------ compiled rules

_WORD_CHUNKS = re.compile(r"\s*\S+\s*|\s+")


def split_chunks(text: str, chunk_size: int | None) -> tuple[str, ...]:
    """Split text into stream deltas: fixed-size pieces, or words with their whitespace."""
    if not text:
        return ()
    if chunk_size:
        return tuple(text[i : i + chunk_size] for i in range(0, len(text), chunk_size))
    return tuple(_WORD_CHUNKS.findall(text))


@dataclass(frozen=True, slots=True)
class Rule:
    """One rule, compiled for cheap matching.

    Attributes:
        index: Position in the script (0-based), used in messages.
        expert_exact: The ``expert`` value when it has no glob characters.
        expert_pattern: The compiled glob otherwise.
        turns: An inclusive ``(low, high)`` range or a set of turns; ``None`` matches any.
        times: How often the rule may fire per provider instance; ``None`` is unlimited.
        delay: Seconds to wait before answering.
        chunk_delay: Seconds to wait between streamed deltas.
    """

    index: int
    expert_exact: str | None
    expert_pattern: re.Pattern[str] | None
    turns: tuple[int, int] | frozenset[int] | None
    purpose: str | None
    query_contains: str | None
    instruction_contains: str | None
    times: int | None
    delay: float
    chunk_delay: float
    reasoning: str | None
    signature: str | None
    text: str
    reasoning_chunks: tuple[str, ...]
    text_chunks: tuple[str, ...]
    finish_reason: FinishReason | None
    usage: UsageSpec | None
    tool_calls: tuple[ToolCallSpec, ...]
    error: ErrorSpec | None

    def matches(
        self,
        expert_key: str,
        turn: int,
        purpose: str,
        query: str | None,
        instruction: str | None = None,
    ) -> bool:
        """Whether this rule answers a request (``times`` is checked by the provider)."""
        if self.expert_exact is not None and expert_key != self.expert_exact:
            return False
        if self.expert_pattern is not None and self.expert_pattern.match(expert_key) is None:
            return False
        turns = self.turns
        if turns is not None:
            if type(turns) is tuple:
                if not turns[0] <= turn <= turns[1]:
                    return False
            elif turn not in turns:
                return False
        if self.purpose is not None and purpose != self.purpose:
            return False
        if self.purpose is None and purpose == "sampling":
            return False  # an MCP server's request is answered only by rules meant for it
        if self.query_contains is not None and (query is None or self.query_contains not in query):
            return False
        wanted = self.instruction_contains
        if wanted is not None and (instruction is None or wanted not in instruction):
            return False
        return True


@dataclass(frozen=True, slots=True)
class Script:
    """A loaded script.

    Attributes:
        rules: The compiled rules, in script order.
        source: What to call the script in messages (its path, or the inline setting).
        needs_query: Whether any rule looks at the query (so the provider only finds the
            first user message when it has to).
        needs_instruction: Whether any rule looks at the instruction message.
    """

    rules: tuple[Rule, ...]
    source: str
    needs_query: bool
    needs_instruction: bool = False


def _compile_rule(index: int, spec: _RuleSpec) -> Rule:
    expert_exact = expert_pattern = None
    if spec.expert is not None:
        if any(c in spec.expert for c in "*?["):
            expert_pattern = re.compile(fnmatch.translate(spec.expert))
        else:
            expert_exact = spec.expert
    return Rule(
        index=index,
        expert_exact=expert_exact,
        expert_pattern=expert_pattern,
        turns=spec.turn,
        purpose=spec.purpose,
        query_contains=spec.query_contains,
        instruction_contains=spec.instruction_contains,
        times=spec.times,
        delay=spec.delay_ms / 1000,
        chunk_delay=spec.chunk_delay_ms / 1000,
        reasoning=spec.reasoning,
        signature=spec.signature,
        text=spec.text or "",
        reasoning_chunks=split_chunks(spec.reasoning or "", spec.chunk_size),
        text_chunks=split_chunks(spec.text or "", spec.chunk_size),
        finish_reason=spec.finish_reason,
        usage=spec.usage,
        tool_calls=tuple(spec.tool_calls),
        error=spec.error,
    )


# -------------------------------------------------------------------------- loading


def parse_script(data: Any, source: str, text: str | None = None) -> Script:
    """Validate a decoded script (``{"rules": [...]}``) and compile its rules.

    Args:
        data: The decoded TOML/JSON document.
        source: The file (or setting) to name in error messages.
        text: The TOML source, when there is one, to point errors at a line.

    Raises:
        PerstackError: one line naming the source, line when known, field and problem.
    """
    try:
        spec = _ScriptSpec.model_validate(_plain(data))
    except ValidationError as exc:
        raise PerstackError(_describe(exc, source, text)) from None
    rules = tuple(_compile_rule(i, rule) for i, rule in enumerate(spec.rules))
    return Script(
        rules=rules,
        source=source,
        needs_query=any(rule.query_contains is not None for rule in rules),
        needs_instruction=any(rule.instruction_contains is not None for rule in rules),
    )


def load_script_file(path: Path) -> Script:
    """Read, parse and compile a script file (JSON if it ends in ``.json``, else TOML).

    Raises:
        PerstackError: the file is missing, unreadable, not valid TOML/JSON, or breaks
            the rule schema; the message names the file and, where known, the line.
    """
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise PerstackError(f"Scripted provider script {source} is not UTF-8 text") from None
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise PerstackError(f"Cannot read scripted provider script {source}: {reason}") from None
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise PerstackError(
                f"{source}:{exc.lineno}: invalid JSON in scripted provider script: {exc.msg}"
            ) from None
        return parse_script(data, source)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        # Python 3.11's TOMLDecodeError has no lineno attribute; the message ends with it.
        if match := re.search(r"\s*\(at line (\d+), column \d+\)$", message):
            line, message = match[1], message[: match.start()]
            raise PerstackError(
                f"{source}:{line}: invalid TOML in scripted provider script: {message}"
            ) from None
        raise PerstackError(
            f"{source}: invalid TOML in scripted provider script: {message}"
        ) from None
    return parse_script(data, source, text)


def _plain(value: Any) -> Any:
    """Plain Python values (tomlkit items subclass int/str/dict; strict mode wants exact types)."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, str):
        return str(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    return value


def _describe(exc: ValidationError, source: str, text: str | None) -> str:
    """The first validation problem as ``<source>[:<line>]: <path>: <message>``."""
    errors = exc.errors(include_url=False)
    error = errors[0]
    if error["type"] == "missing":
        # A misspelt field shows up as both "missing" and "unknown"; the unknown one,
        # with the list of valid names, is what tells the user how to fix it.
        parent = error["loc"][:-1]
        error = next(
            (e for e in errors if e["type"] == "extra_forbidden" and e["loc"][:-1] == parent),
            error,
        )
    loc: Sequence[str | int] = error["loc"]
    path = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in loc)
    path = path.lstrip(".") or "script"
    kind = error["type"]
    if kind == "extra_forbidden":
        message = f'unknown field "{loc[-1]}"'
        if allowed := _allowed_fields(loc):
            message += f" (expected one of: {', '.join(allowed)})"
    elif kind == "missing":
        message = "required field missing"
    elif kind in ("model_type", "dict_type"):
        message = "expected a table"
    elif loc == ("rules",) and kind == "too_short":
        message = "the script has no rules"
    else:
        message = str(error["msg"]).removeprefix("Value error, ")
    line = locate_line(text, loc) if text is not None else None
    where = f"{source}:{line}" if line else source
    return f"{where}: {path}: {message}"


def _allowed_fields(loc: Sequence[str | int]) -> list[str]:
    """The field names valid where an unknown field ``loc[-1]`` was found."""
    parent = tuple(loc[:-1])
    if len(parent) == 0:
        model: type[BaseModel] = _ScriptSpec
    elif len(parent) == 2:
        model = _RuleSpec
    elif len(parent) == 4 and parent[2] == "toolCalls":
        model = ToolCallSpec
    elif len(parent) == 3 and parent[2] == "error":
        model = ErrorSpec
    elif len(parent) == 3 and parent[2] == "usage":
        model = UsageSpec
    else:
        return []
    return [field.alias or name for name, field in model.model_fields.items()]
