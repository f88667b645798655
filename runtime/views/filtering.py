"""The event filter grammar of ``perstack log`` (spec §13.3), shared with the workbench.

Two small languages, each parsed once into an object that tests events:

* **Filter expressions** ``.<path> <op> <value>``::

      .type == "callTools"
      .toolCalls[].skillName == '@perstack/base'
      .stepNumber >= 3
      .error.isRetryable == false

  A path is ``.``-separated field names; ``[]`` after a name means "any element" of that
  array. Operators are ``== != > >= < <=``. A value is ``true``/``false``, a quoted string
  (``"…"`` or ``'…'``, taken literally), a number, or else the rest of the text as a bare
  string. Comparisons are strict (``1 == "1"`` is false); ``> >= < <=`` need numbers on
  both sides; a missing field never matches; an array matches when any element does.

* **Step ranges**: ``N``, ``>N``, ``>=N``, ``<N``, ``<=N``, ``A-B`` (inclusive).

Malformed input raises :class:`FilterSyntaxError`, whose message names the offending column
and whose ``position`` (0-based) lets an editor put the cursor there.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from runtime.errors import PerstackError

__all__ = [
    "EACH",
    "OPERATORS",
    "FilterExpr",
    "FilterSyntaxError",
    "StepRange",
    "parse_filter",
    "parse_step_range",
]

OPERATORS: Final = ("==", "!=", ">=", "<=", ">", "<")  # longest first, for matching
_OPERATOR_LIST = "==, !=, >, >=, <, <="
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\Z")
_STEP_FORMS = "use N, >N, >=N, <N, <=N or A-B"


class FilterSyntaxError(PerstackError):
    """A filter expression or step range that does not parse.

    Attributes:
        position: 0-based index into ``text`` of the offending character.
        text: The input as given.
    """

    def __init__(self, message: str, position: int, text: str) -> None:
        super().__init__(message)
        self.position = position
        self.text = text


class _Each:
    """The ``[]`` path segment: every element of an array."""

    def __repr__(self) -> str:
        return "[]"


EACH: Final = _Each()
_MISSING: Final = object()


@dataclass(frozen=True)
class FilterExpr:
    """A parsed filter expression; see the module docstring for the grammar.

    Attributes:
        path: Field names, with :data:`EACH` where the expression says ``[]``.
        op: One of :data:`OPERATORS`.
        value: The value compared against.
        text: The expression as given.
    """

    path: tuple[str | _Each, ...]
    op: str
    value: str | int | float | bool
    text: str

    def matches(self, event: Mapping[str, Any] | Any) -> bool:
        """Whether ``event`` (its JSON as a dict, or a wire model) satisfies the expression."""
        if not isinstance(event, Mapping):
            event = event.to_json_dict()
        found: list[Any] = []
        _collect(event, self.path, 0, found)
        for actual in found:
            candidates = actual if isinstance(actual, list) else (actual,)
            if any(_compare(item, self.op, self.value) for item in candidates):
                return True
        return False

    def __str__(self) -> str:
        return self.text


def _collect(node: Any, path: tuple[str | _Each, ...], index: int, found: list[Any]) -> None:
    """Append to ``found`` every value ``path[index:]`` reaches from ``node``."""
    while index < len(path):
        segment = path[index]
        if segment is EACH:
            if not isinstance(node, list):
                return
            if index == len(path) - 1:
                break  # `.items[]` ends the path: compare the elements themselves
            for item in node:
                _collect(item, path, index + 1, found)
            return
        if not isinstance(node, Mapping):
            return
        node = node.get(segment, _MISSING)  # type: ignore[call-overload]
        if node is _MISSING:
            return
        index += 1
    found.append(node)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _strictly_equal(actual: Any, expected: str | float | bool) -> bool:
    # JavaScript's ===, which upstream uses: no coercion, and true is not 1.
    if isinstance(expected, bool) or isinstance(actual, bool):
        return type(actual) is type(expected) and actual == expected
    if _is_number(expected):
        return _is_number(actual) and actual == expected
    return isinstance(actual, str) and actual == expected


def _compare(actual: Any, op: str, expected: str | float | bool) -> bool:
    if op == "==":
        return _strictly_equal(actual, expected)
    if op == "!=":
        return not _strictly_equal(actual, expected)
    if not (_is_number(actual) and _is_number(expected)):
        return False
    if op == ">":
        return actual > expected  # type: ignore[operator]
    if op == ">=":
        return actual >= expected  # type: ignore[operator]
    if op == "<":
        return actual < expected  # type: ignore[operator]
    return actual <= expected  # type: ignore[operator]


def _filter_error(text: str, position: int, problem: str) -> FilterSyntaxError:
    return FilterSyntaxError(
        f"Invalid filter expression: {text} ({problem} at column {position + 1})", position, text
    )


def _skip_spaces(text: str, index: int) -> int:
    while index < len(text) and text[index].isspace():
        index += 1
    return index


def parse_filter(text: str) -> FilterExpr:
    """Parse a filter expression such as ``.toolCalls[].skillName == "x"``.

    Raises:
        FilterSyntaxError: ``Invalid filter expression: <text> (<problem> at column <n>)``.
    """
    index = _skip_spaces(text, 0)
    if index == len(text):
        raise _filter_error(text, index, "expected a field path such as .type")
    path, index = _parse_path(text, index)
    index = _skip_spaces(text, index)
    op = next((o for o in OPERATORS if text.startswith(o, index)), None)
    if op is None:
        found = f'"{text[index]}"' if index < len(text) else "the end"
        raise _filter_error(text, index, f"expected an operator ({_OPERATOR_LIST}), found {found}")
    index = _skip_spaces(text, index + len(op))
    value = _parse_value(text, index)
    return FilterExpr(path=path, op=op, value=value, text=text)


def _parse_path(text: str, index: int) -> tuple[tuple[str | _Each, ...], int]:
    if text[index] != ".":
        raise _filter_error(text, index, "expected a field path starting with '.'")
    segments: list[str | _Each] = []
    while index < len(text) and text[index] == ".":
        name = _NAME.match(text, index + 1)
        if name is None:
            raise _filter_error(text, index + 1, "expected a field name after '.'")
        segments.append(name.group())
        index = name.end()
        while text.startswith("[", index):
            if not text.startswith("[]", index):
                raise _filter_error(
                    text, index + 1, "expected ']' (only [] is supported: any element)"
                )
            segments.append(EACH)
            index += 2
    return tuple(segments), index


def _parse_value(text: str, index: int) -> str | int | float | bool:
    rest = text[index:].rstrip()
    if not rest:
        raise _filter_error(text, index, "missing value")
    quote = rest[0]
    if quote in "\"'":
        closing = rest.find(quote, 1)
        if closing == -1:
            raise _filter_error(text, index, "unterminated string")
        if closing != len(rest) - 1:
            # Upstream's rule: a value that starts and ends with the quote is one string,
            # even with that quote inside. Anything else after a closed string is a typo.
            if rest[-1] == quote:
                return rest[1:-1]
            raise _filter_error(text, index + closing + 1, "unexpected text after the string")
        return rest[1:-1]
    if rest == "true":
        return True
    if rest == "false":
        return False
    if _NUMBER.match(rest):
        number = float(rest)
        if number.is_integer() and not any(c in rest for c in ".eE"):
            return int(rest)
        return number
    return rest


@dataclass(frozen=True)
class StepRange:
    """A parsed step range; both bounds inclusive, ``None`` for unbounded.

    Attributes:
        min: The lowest step included.
        max: The highest step included.
        text: The range as given.
    """

    min: int | None
    max: int | None
    text: str

    def contains(self, step: int) -> bool:
        """Whether ``step`` is in the range."""
        return (self.min is None or step >= self.min) and (self.max is None or step <= self.max)

    def __str__(self) -> str:
        return self.text


def _step_error(text: str, position: int, problem: str) -> FilterSyntaxError:
    return FilterSyntaxError(
        f"Invalid step filter: {text} ({problem} at column {position + 1}; {_STEP_FORMS})",
        position,
        text,
    )


def _digits(text: str, index: int) -> tuple[int, int]:
    end = index
    while end < len(text) and "0" <= text[end] <= "9":
        end += 1
    if end == index:
        found = f'"{text[index]}"' if index < len(text) else "the end"
        raise _step_error(text, index, f"expected a step number, found {found}")
    return int(text[index:end]), end


def parse_step_range(text: str) -> StepRange:
    """Parse a step range: ``N``, ``>N``, ``>=N``, ``<N``, ``<=N`` or ``A-B``.

    Raises:
        FilterSyntaxError: ``Invalid step filter: …`` for malformed text, or
            ``Invalid step range: A-B (min A > max B)`` for an empty range.
    """
    index = _skip_spaces(text, 0)
    end_of_text = len(text.rstrip())
    op = next((o for o in (">=", "<=", ">", "<") if text.startswith(o, index)), "")
    first, index = _digits(text, index + len(op))
    low: int | None
    high: int | None
    if op == ">":
        low, high = first + 1, None
    elif op == ">=":
        low, high = first, None
    elif op == "<":
        low, high = None, first - 1
    elif op == "<=":
        low, high = None, first
    elif text.startswith("-", index) and index < end_of_text:
        second, index = _digits(text, index + 1)
        if first > second:
            raise FilterSyntaxError(
                f"Invalid step range: {text} (min {first} > max {second})", 0, text
            )
        low, high = first, second
    else:
        low = high = first
    if index != end_of_text:
        raise _step_error(text, index, f'unexpected "{text[index]}"')
    return StepRange(min=low, max=high, text=text)
