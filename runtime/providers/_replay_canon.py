"""The id-free, time-free form of a model request that the replay provider matches on.

Two requests are "the same" for replay when their messages say the same things: message
types, texts, thinking, tool calls (name and arguments) and tool results, in order. Ids,
timestamps and the ``cache`` flag never count. The instruction message is compared by
what the user controls: the Expert's instruction, skill rules and delegates, not the
current time or working directory the runtime writes into it (see :func:`instruction_key`).
"""

from __future__ import annotations

import difflib
import hashlib
import re
from collections.abc import Sequence
from typing import Any

import orjson

from runtime.model import InstructionMessage, Message

__all__ = [
    "MessageCanon",
    "instruction_key",
    "instruction_matches",
    "expert_instruction",
    "render_diff",
]

#: Our own prompt's environment block (runtime/engine/prompt.py). Everything after it is the
#: Expert's part of the prompt; everything before it is the runtime's fixed meta rules.
_OUR_ENVIRONMENT = re.compile(
    r"^Environment:\n- Current time: [^\n]*\n- Working directory: [^\n]*(?:\n|\Z)", re.M
)
#: Time and directory lines in any prompt (upstream's included), for a generic comparison.
_VOLATILE_LINE = re.compile(
    r"^(?P<lead>[^\w\n]*)(?P<label>current (?:time|date)|working directory|cwd)\s*:.*$",
    re.M | re.I,
)
_INSTRUCTION_HEADER = "\n\nInstruction:\n"
#: The sections our prompt puts after the Expert's instruction.
_AFTER_INSTRUCTION = re.compile(
    r'\n\n(?:"[^"\n]+" skill rules:\n|You can delegate work to other Experts; )'
)
_MAX_LINE = 240
_MAX_DIFF_LINES = 60


def instruction_key(text: str) -> str:
    """The comparable form of an instruction message's text.

    For a prompt of this runtime: the sections after the environment block (the Expert's
    instruction, skill rules, delegates), so a replay at another time, in another
    directory or by a runtime whose fixed meta rules were reworded still matches, while a
    changed ``instruction`` does not. For any other prompt (upstream Perstack's): the
    whole text with its time and directory lines blanked out.
    """
    match = _OUR_ENVIRONMENT.search(text)
    if match is not None:
        return "(Perstack meta rules)\n(environment)\n" + text[match.end() :].lstrip("\n")
    return _VOLATILE_LINE.sub(lambda m: f"{m['lead']}{m['label']}: (volatile)", text)


def is_our_prompt(text: str) -> bool:
    """Whether ``text`` is an instruction message built by this runtime's prompt builder."""
    return _OUR_ENVIRONMENT.search(text) is not None


def expert_instruction(text: str) -> str | None:
    """The Expert's ``instruction`` as included in one of our prompts, or ``None``."""
    start = text.find(_INSTRUCTION_HEADER)
    if start < 0 or not is_our_prompt(text):
        return None
    rest = text[start + len(_INSTRUCTION_HEADER) :]
    end = _AFTER_INSTRUCTION.search(rest)
    return rest if end is None else rest[: end.start()]


def instruction_matches(recorded: str | None, requested: str | None) -> bool:
    """Whether a request's instruction text may be answered from a recorded one.

    A prompt of this runtime must match by :func:`instruction_key`. A prompt written by
    another runtime (upstream Perstack words its prompt differently) matches when it holds
    the requesting Expert's instruction verbatim (spec §10 includes it verbatim).
    """
    if recorded is None or requested is None:
        return recorded is requested
    if is_our_prompt(recorded) or not is_our_prompt(requested):
        return instruction_key(recorded) == instruction_key(requested)
    instruction = expert_instruction(requested)
    return instruction is not None and instruction.strip() in recorded


def _json(value: Any) -> str:
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
    except TypeError:
        return repr(value)


def _digest(data: str) -> str:
    return hashlib.sha256(data.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def _text(text: str) -> str:
    """The text, or for a JSON object its compact, key-sorted form.

    Retry reasons and tool results are often JSON, and runtimes space it differently
    (upstream's ``JSON.stringify`` is compact): the same object is the same text.
    """
    if len(text) >= 2 and text[0] == "{" and text[-1] == "}":
        try:
            return _json(orjson.loads(text))
        except orjson.JSONDecodeError:
            pass
    return text


def _part(part: Any) -> str:
    kind = part.type
    if kind == "textPart":
        return _text(part.text)
    if kind == "thinkingPart":
        return f"(thinking) {part.thinking}"
    if kind == "toolCallPart":
        return f"(tool call) {part.tool_name} {_json(part.args)}"
    if kind == "toolResultPart":
        flag = " (error)" if part.is_error else ""
        body = "\n".join(_part(content) for content in part.contents)
        return f"(tool result) {part.tool_name}{flag}: {body}"
    data = (
        getattr(part, "url", None)
        or getattr(part, "encoded_data", None)
        or getattr(part, "data", "")
    )
    return f"({kind} {getattr(part, 'mime_type', '')} sha256:{_digest(str(data))})"


class MessageCanon:
    """Renders messages to their comparable text, once per message id.

    The history only grows and messages never change once made, so a long job renders
    each message once rather than once per step.
    """

    def __init__(self) -> None:
        self._cache: dict[str, str] = {}

    def render(self, message: Message) -> str:
        """``[type]`` then one line per part (instruction messages by their key)."""
        cached = self._cache.get(message.id)
        if cached is not None:
            return cached
        if isinstance(message, InstructionMessage):
            body = instruction_key("".join(part.text for part in message.contents))
        else:
            body = "\n".join(_part(part) for part in message.contents)
        text = self._cache[message.id] = f"[{message.type}]\n{body}"
        return text

    def split(self, messages: Sequence[Message]) -> tuple[str | None, tuple[str, ...]]:
        """The leading instruction's raw text (or ``None``) and the rest, rendered."""
        if messages and isinstance(messages[0], InstructionMessage):
            instruction = "".join(part.text for part in messages[0].contents)
            return instruction, tuple(self.render(m) for m in messages[1:])
        return None, tuple(self.render(m) for m in messages)

    def lines(self, messages: Sequence[Message]) -> list[str]:
        """Every message rendered, as lines (for diffs)."""
        return [line for m in messages for line in self.render(m).split("\n")]


def render_diff(recorded: list[str], requested: list[str], recorded_label: str) -> str:
    """A unified diff of two rendered requests, cut to a readable size."""
    diff = list(
        difflib.unified_diff(
            recorded, requested, fromfile=recorded_label, tofile="this request", lineterm="", n=2
        )
    )
    if not diff:
        return "(the messages are the same)"
    shown = [line if len(line) <= _MAX_LINE else line[: _MAX_LINE - 1] + "…" for line in diff]
    if len(shown) > _MAX_DIFF_LINES:
        hidden = len(shown) - _MAX_DIFF_LINES
        shown = [*shown[:_MAX_DIFF_LINES], f"… ({hidden} more diff lines)"]
    return "\n".join(shown)
