"""Turning validation failures into one-line ``<file>:<line>: <dotted.path>: <message>``.

pydantic's locations and messages are made to read like the file: camelCase names and
table keys joined with dots (keys that are not bare TOML keys are quoted), the skill
type pydantic inserts into union locations dropped, and messages in plain words.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from runtime.config.locate import TomlLocator, TomlPath
from runtime.config.models import RULE_ERROR
from runtime.config.rules import SKILL_TYPES, describe_value

__all__ = ["Problem", "format_path", "problems_from_validation", "render"]

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")
_EXPECTED = {
    "string_type": "a string",
    "int_type": "an integer",
    "float_type": "a number",
    "bool_type": "true or false",
    "list_type": "an array",
    "dict_type": "a table",
    "model_type": "a table",
    "model_attributes_type": "a table",
}


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with the file, at a document path."""

    loc: TomlPath
    message: str


def format_path(loc: Sequence[str | int]) -> str:
    """``("experts", "my.x", "tags", 0)`` -> ``experts."my.x".tags[0]``."""
    text = ""
    for segment in loc:
        if isinstance(segment, int):
            text += f"[{segment}]"
            continue
        key = segment if _BARE_KEY.match(segment) else json.dumps(segment, ensure_ascii=False)
        text += f".{key}" if text else key
    return text


def _clean_loc(loc: Sequence[str | int]) -> TomlPath:
    """Drop pydantic's bookkeeping segments: the union member tag and ``[key]``."""
    cleaned = list(loc)
    # A discriminated union inserts the tag after the skill: experts.<key>.skills.<name>.<tag>
    if len(cleaned) > 4 and cleaned[0] == "experts" and cleaned[2] == "skills":
        if cleaned[4] in SKILL_TYPES:
            del cleaned[4]
    if cleaned and cleaned[-1] == "[key]":  # the error is about a table key itself
        del cleaned[-1]
    return tuple(cleaned)


def _message(error: Any) -> str:
    kind, ctx, value = error["type"], error.get("ctx") or {}, error.get("input")
    if kind == RULE_ERROR:
        return str(ctx["message"])
    if kind == "missing":
        return "required field is missing"
    if kind == "union_tag_invalid":
        return f'unknown skill type "{ctx.get("tag")}"; expected one of {", ".join(SKILL_TYPES)}'
    if kind == "union_tag_not_found":
        return f"required field is missing; expected one of {', '.join(SKILL_TYPES)}"
    if kind in _EXPECTED:
        return f"expected {_EXPECTED[kind]}, got {describe_value(value)}"
    if kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        sign = {
            "greater_than_equal": ">=",
            "greater_than": ">",
            "less_than_equal": "<=",
            "less_than": "<",
        }[kind]
        bound = next(iter(ctx.values()))
        return f"must be {sign} {bound}, got {describe_value(value)}"
    if kind == "finite_number":
        return f"expected a finite number, got {describe_value(value)}"
    if kind == "string_too_short":
        minimum = ctx.get("min_length", 1)
        return "must not be empty" if minimum == 1 else f"must be at least {minimum} characters"
    if kind == "string_too_long":
        return f"must be at most {ctx.get('max_length')} characters, got {len(value)}"
    message = str(error.get("msg", kind))
    return message[:1].lower() + message[1:]


def problems_from_validation(error: ValidationError) -> list[Problem]:
    """Every error of a pydantic validation, as located problems."""
    problems: list[Problem] = []
    for item in error.errors(include_url=False):
        loc = _clean_loc(item["loc"])
        if item["type"] in ("union_tag_invalid", "union_tag_not_found"):
            loc += ("type",)
        extra = (item.get("ctx") or {}).get("at") if item["type"] == RULE_ERROR else None
        if extra:
            loc += tuple(extra)
        problems.append(Problem(loc, " ".join(_message(item).split())))
    return problems


def render(problems: Iterable[Problem], label: str, locator: TomlLocator) -> list[str]:
    """Located one-line texts, ordered by line (file order), duplicates dropped."""
    lines: list[tuple[int, str]] = []
    for problem in problems:
        line = locator.line_of(problem.loc)
        where = f"{format_path(problem.loc)}: " if problem.loc else ""
        lines.append((line, f"{label}:{line}: {where}{problem.message}"))
    lines.sort(key=lambda item: item[0])
    return list(dict.fromkeys(text for _, text in lines))
