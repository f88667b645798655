"""TOML helpers of the scripted provider: finding a rule's line, writing scripts.

``tomllib`` reports where a file fails to *parse*, but a well-formed file that breaks the
rule schema only yields a path like ``("rules", 2, "turn")``. :func:`locate_line` maps
that path back to a line by reading the ``[[rules]]`` layout people write by hand.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["locate_line", "script_from_rules"]


_RULE_HEADER = re.compile(r"^\s*\[\[\s*rules\s*\]\]")
_TOOL_CALL_HEADER = re.compile(r"^\s*\[\[\s*rules\s*\.\s*toolCalls\s*\]\]")
_ANY_HEADER = re.compile(r"^\s*\[")


def _key_line(lines: list[str], start: int, stop: int, key: str) -> int | None:
    pattern = re.compile(rf"^\s*[\"']?{re.escape(key)}[\"']?\s*=")
    for number in range(start, stop):
        if pattern.match(lines[number]):
            return number
    return None


def _section_end(lines: list[str], start: int, stop: int) -> int:
    """The first header line after ``start`` (exclusive), or ``stop``."""
    for number in range(start + 1, stop):
        if _ANY_HEADER.match(lines[number]):
            return number
    return stop


def locate_line(text: str, loc: Sequence[str | int]) -> int | None:
    """The 1-based line of a problem at ``loc`` (``("rules", 2, "turn")``), best effort.

    Works for the usual ``[[rules]]`` array-of-tables layout (the only one people write
    by hand); for inline arrays it gives up and the message simply has no line.
    """
    if len(loc) < 2 or loc[0] != "rules" or not isinstance(loc[1], int):
        return None
    lines = text.splitlines()
    starts = [n for n, line in enumerate(lines) if _RULE_HEADER.match(line)]
    if loc[1] >= len(starts):
        return None
    rule_start = starts[loc[1]]
    rule_stop = starts[loc[1] + 1] if loc[1] + 1 < len(starts) else len(lines)
    rest = list(loc[2:])
    if not rest:
        return rule_start + 1
    head = str(rest[0])
    # The rule's own keys sit between its header and the next header of any kind.
    own_stop = _section_end(lines, rule_start, rule_stop)
    section: tuple[int, int] | None = None
    key: str | int | None = None
    if head == "toolCalls" and len(rest) >= 2 and isinstance(rest[1], int):
        headers = [n for n in range(rule_start, rule_stop) if _TOOL_CALL_HEADER.match(lines[n])]
        if rest[1] < len(headers):
            start = headers[rest[1]]
            section = (start, _section_end(lines, start, rule_stop))
            key = rest[2] if len(rest) >= 3 else None
    elif head in ("error", "usage"):
        header = re.compile(rf"^\s*\[\s*rules\s*\.\s*{head}\s*\]")
        for n in range(rule_start, rule_stop):
            if header.match(lines[n]):
                section = (n, _section_end(lines, n, rule_stop))
                key = rest[1] if len(rest) >= 2 else None
                break
    if section is not None:
        if isinstance(key, str):
            found = _key_line(lines, section[0] + 1, section[1], key)
            if found is not None:
                return found + 1
        return section[0] + 1
    found = _key_line(lines, rule_start + 1, own_stop, head)
    return (found if found is not None else rule_start) + 1


# ---------------------------------------------------------------------------- writing


def script_from_rules(rules: list[dict[str, Any]]) -> str:
    """The TOML text of a script holding ``rules`` (for tests, docs and demos).

    ``args`` and ``usage`` are written as inline tables, ``toolCalls`` as
    ``[[rules.toolCalls]]`` and ``error`` as ``[rules.error]``, the layout the docs use.
    The rules are written as given, not validated; TOML has no null, so ``None`` values
    are rejected by tomlkit.
    """
    import tomlkit  # only the writers of scripts need it

    def inline(value: Any) -> Any:
        if isinstance(value, Mapping):
            table = tomlkit.inline_table()
            table.update({k: inline(v) for k, v in value.items()})
            return table
        if isinstance(value, list):
            return [inline(v) for v in value]
        return value

    document = tomlkit.document()
    rule_tables = tomlkit.aot()
    for rule in rules:
        table = tomlkit.table()
        subtables: dict[str, Any] = {}
        for key, value in rule.items():
            if key == "toolCalls" and isinstance(value, list):
                calls = tomlkit.aot()
                for call in value:
                    call_table = tomlkit.table()
                    for call_key, call_value in call.items():
                        call_table[call_key] = inline(call_value)
                    calls.append(call_table)
                subtables[key] = calls
            elif key == "error" and isinstance(value, Mapping):
                error_table = tomlkit.table()
                error_table.update(dict(value))
                subtables[key] = error_table
            else:
                table[key] = inline(value)
        # Sub-tables go after the plain keys, or TOML would file those keys under them.
        for key, value in subtables.items():
            table[key] = value
        rule_tables.append(table)
    document["rules"] = rule_tables
    return tomlkit.dumps(document)
