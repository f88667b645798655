"""Reading a person's answer to an MCP server's question (``elicitation/create``).

The workbench builds a form from the requested schema; headless, the answer is the text
given to ``perstack run … --continue -i``:

* ``decline`` or ``cancel``: that action;
* a form: a JSON object of the fields (checked against the schema), or, when the form has
  a single field, its value as plain text (``42``, ``yes``, ``Ada``);
* a URL: ``accept`` (or ``ok``/``done``/``yes``) once the page was opened;
* ``{"action": "accept"|"decline"|"cancel", "content": {...}}`` for a program.
"""

from __future__ import annotations

import json
from typing import Any

from runtime.errors import PerstackError
from runtime.skills.calls import ElicitationAnswer, ElicitationRequest

__all__ = ["field_value", "parse_answer", "schema_fields"]

_ACTIONS = ("accept", "decline", "cancel")
_YES = {"accept", "ok", "done", "yes", "y"}
_TRUE = {"true", "yes", "y", "1", "on"}
_FALSE = {"false", "no", "n", "0", "off"}


def schema_fields(schema: dict[str, Any] | None) -> list[tuple[str, dict[str, Any], bool]]:
    """The fields of a requested schema, in order: ``(name, property schema, required)``."""
    schema = schema or {}
    required = set(schema.get("required") or [])
    properties = schema.get("properties") or {}
    return [
        (name, prop if isinstance(prop, dict) else {}, name in required)
        for name, prop in properties.items()
    ]


def field_value(prop: dict[str, Any], text: str) -> Any:
    """``text`` as a value of the field ``prop`` describes (number, boolean, list, string).

    Raises:
        ValueError: ``text`` is not a value of that type (the message says why).
    """
    kind = prop.get("type")
    stripped = text.strip()
    if kind == "integer":
        return int(stripped)
    if kind == "number":
        return float(stripped)
    if kind == "boolean":
        lowered = stripped.lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        raise ValueError(f"{stripped!r} is not yes or no")
    if kind == "array":
        return [item.strip() for item in stripped.split(",") if item.strip()]
    return text


def _check(content: dict[str, Any], request: ElicitationRequest) -> None:
    import jsonschema

    try:
        jsonschema.validate(content, request.requested_schema or {"type": "object"})
    except jsonschema.ValidationError as error:
        where = "/".join(str(p) for p in error.absolute_path)
        at = f" at {where}" if where else ""
        raise PerstackError(
            f"The answer does not fit the form skill {request.skill_name} asked for{at}: "
            f"{error.message}"
        ) from None


def parse_answer(text: str, request: ElicitationRequest) -> ElicitationAnswer:
    """The answer ``text`` gives to ``request``.

    Raises:
        PerstackError: One line saying what was expected.
    """
    stripped = text.strip()
    lowered = stripped.lower()
    if lowered in ("decline", "cancel"):
        return ElicitationAnswer(action=lowered)  # type: ignore[arg-type]
    try:
        data = json.loads(stripped)
    except ValueError:
        data = None
    if isinstance(data, dict) and data.get("action") in _ACTIONS:
        answer = ElicitationAnswer.from_json(data)
        if answer.action == "accept" and request.mode == "form":
            _check(answer.content or {}, request)
        return answer
    if request.mode == "url":
        if lowered in _YES:
            return ElicitationAnswer(action="accept")
        raise PerstackError(
            f"Answer skill {request.skill_name}'s request to open {request.url} with "
            '"accept" once done, or "decline" or "cancel"'
        )
    if isinstance(data, dict):
        _check(data, request)
        return ElicitationAnswer(action="accept", content=data)
    fields = schema_fields(request.requested_schema)
    if len(fields) == 1:
        name, prop, _ = fields[0]
        try:
            content = {name: field_value(prop, stripped)}
        except ValueError as error:
            raise PerstackError(
                f"The answer does not fit the form skill {request.skill_name} asked for at "
                f"{name}: {error}"
            ) from None
        _check(content, request)
        return ElicitationAnswer(action="accept", content=content)
    names = ", ".join(name for name, _, _ in fields) or "its fields"
    raise PerstackError(
        f"Answer skill {request.skill_name}'s form with a JSON object of {names} "
        '(e.g. \'{"name": "Ada"}\'), or "decline" or "cancel"'
    )
