"""The filter-expression and step-range grammar shared by `perstack log` and the workbench."""

from __future__ import annotations

import pytest

from runtime.errors import PerstackError
from runtime.views.filtering import EACH, FilterSyntaxError, parse_filter, parse_step_range
from tests.storage_samples import EventFactory

CALL_TOOLS = {
    "type": "callTools",
    "stepNumber": 4,
    "expertKey": "writer",
    "toolCalls": [
        {"skillName": "@perstack/base", "toolName": "readTextFile", "args": {"path": "a"}},
        {"skillName": "search", "toolName": "web", "args": {"limit": 5, "deep": True}},
    ],
    "usage": {"inputTokens": 120, "cachedInputTokens": 0},
    "ratio": 0.5,
    "nothing": None,
    "tags": ["x", "y"],
}


# --- parsing ------------------------------------------------------------------------


def test_parses_path_operator_and_value() -> None:
    expr = parse_filter('  .toolCalls[].skillName   ==   "@perstack/base"  ')
    assert expr.path == ("toolCalls", EACH, "skillName")
    assert expr.op == "=="
    assert expr.value == "@perstack/base"


@pytest.mark.parametrize(
    ("text", "value"),
    [
        (".a == true", True),
        (".a == false", False),
        (".a == 42", 42),
        (".a == -3", -3),
        (".a == 2.5", 2.5),
        (".a == 1e3", 1000.0),
        (".a == .5", 0.5),
        (".a == 'single quoted'", "single quoted"),
        ('.a == "true"', "true"),
        ('.a == "42"', "42"),
        (".a == hello world", "hello world"),
        ('.a == "say "hi""', 'say "hi"'),  # upstream: outer quotes stripped, inner kept
        (".a == ''", ""),
    ],
)
def test_value_forms(text: str, value: object) -> None:
    parsed = parse_filter(text).value
    assert parsed == value and type(parsed) is type(value)


@pytest.mark.parametrize("op", ["==", "!=", ">", ">=", "<", "<="])
def test_every_operator_parses_with_or_without_spaces(op: str) -> None:
    assert parse_filter(f".stepNumber{op}3").op == op
    assert parse_filter(f".stepNumber {op} 3").op == op


@pytest.mark.parametrize(
    ("text", "position", "problem"),
    [
        ("", 0, "expected a field path such as .type"),
        ("   ", 3, "expected a field path such as .type"),
        ('type == "x"', 0, "expected a field path starting with '.'"),
        (". == 1", 1, "expected a field name after '.'"),
        (".a..b == 1", 3, "expected a field name after '.'"),
        (".1a == 1", 1, "expected a field name after '.'"),
        (".a[0] == 1", 3, "expected ']' (only [] is supported: any element)"),
        (".type = x", 6, 'expected an operator (==, !=, >, >=, <, <=), found "="'),
        (".type", 5, "expected an operator (==, !=, >, >=, <, <=), found the end"),
        (".type ==", 8, "missing value"),
        (".type ==   ", 11, "missing value"),
        ('.type == "abc', 9, "unterminated string"),
        ('.type == "a" b', 12, "unexpected text after the string"),
    ],
)
def test_malformed_expressions_point_at_the_problem(text: str, position: int, problem: str) -> None:
    with pytest.raises(FilterSyntaxError) as caught:
        parse_filter(text)
    assert caught.value.position == position
    assert caught.value.text == text
    assert str(caught.value) == (
        f"Invalid filter expression: {text} ({problem} at column {position + 1})"
    )
    assert isinstance(caught.value, PerstackError)


# --- matching -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('.type == "callTools"', True),
        (".type == callTools", True),  # bare string
        ('.type != "callTools"', False),
        ('.type == "retry"', False),
        (".stepNumber == 4", True),
        (".stepNumber == 4.0", True),
        ('.stepNumber == "4"', False),  # strict: no coercion
        (".stepNumber != 5", True),
        (".stepNumber > 3", True),
        (".stepNumber >= 4", True),
        (".stepNumber < 4", False),
        (".stepNumber <= 4", True),
        ('.type > "a"', False),  # ordering needs numbers
        (".expertKey > 1", False),
        (".usage.inputTokens >= 100", True),
        (".usage.cachedInputTokens == false", False),  # 0 is not false
        (".ratio < 1", True),
        (".toolCalls[].skillName == search", True),
        (".toolCalls[].skillName == other", False),
        (".toolCalls[].skillName != search", True),  # some element differs
        (".toolCalls[].args.limit > 4", True),
        (".toolCalls[].args.deep == true", True),
        (".toolCalls[].args.deep == 1", False),  # true is not 1
        (".tags == y", True),  # an array value matches when any element does
        (".tags[] == x", True),
        (".missing == 1", False),  # a missing field never matches ...
        (".missing != 1", False),  # ... not even with !=
        (".usage.missing.deeper == 1", False),
        (".toolCalls.skillName == search", False),  # no [] : an array has no fields
        (".type[] == c", False),  # [] on a string
        (".nothing == null", False),  # JSON null is not the string "null"
        (".nothing != 1", True),
    ],
)
def test_matching(text: str, expected: bool) -> None:
    assert parse_filter(text).matches(CALL_TOOLS) is expected


def test_nested_arrays_are_searched_at_every_level() -> None:
    event = {"groups": [{"items": [{"n": 1}, {"n": 2}]}, {"items": [{"n": 7}]}]}
    assert parse_filter(".groups[].items[].n == 7").matches(event)
    assert not parse_filter(".groups[].items[].n == 3").matches(event)


def test_matches_wire_models_too() -> None:
    event = EventFactory("j1").call_tools("r1", 2, [("search", "web")])
    assert parse_filter(".toolCalls[].toolName == web").matches(event)
    assert not parse_filter(".stepNumber > 2").matches(event)


# --- step ranges --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "inside", "outside"),
    [
        ("5", [5], [4, 6]),
        (" 5 ", [5], [4]),
        (">5", [6, 100], [5]),
        (">=5", [5, 6], [4]),
        ("<5", [0, 4], [5]),
        ("<=5", [5], [6]),
        ("2-4", [2, 3, 4], [1, 5]),
        ("3-3", [3], [2, 4]),
        ("0", [0], [1]),
    ],
)
def test_step_ranges(text: str, inside: list[int], outside: list[int]) -> None:
    step_range = parse_step_range(text)
    assert all(step_range.contains(step) for step in inside)
    assert not any(step_range.contains(step) for step in outside)


@pytest.mark.parametrize(
    ("text", "position", "problem"),
    [
        ("", 0, "expected a step number, found the end"),
        ("abc", 0, 'expected a step number, found "a"'),
        ("5x", 1, 'unexpected "x"'),
        (">", 1, "expected a step number, found the end"),
        ("=>5", 0, 'expected a step number, found "="'),
        ("1-", 2, "expected a step number, found the end"),
        ("1-2-3", 3, 'unexpected "-"'),
        (">5-7", 2, 'unexpected "-"'),
        ("-5", 0, 'expected a step number, found "-"'),
        ("1.5", 1, 'unexpected "."'),
        ("1 - 3", 1, 'unexpected " "'),
    ],
)
def test_malformed_step_filters(text: str, position: int, problem: str) -> None:
    with pytest.raises(FilterSyntaxError) as caught:
        parse_step_range(text)
    assert caught.value.position == position
    assert str(caught.value) == (
        f"Invalid step filter: {text} ({problem} at column {position + 1}; "
        "use N, >N, >=N, <N, <=N or A-B)"
    )


def test_reversed_step_range_is_refused() -> None:
    with pytest.raises(FilterSyntaxError, match=r"^Invalid step range: 10-5 \(min 10 > max 5\)$"):
        parse_step_range("10-5")
