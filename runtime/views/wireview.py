"""A lazy, read-only JSON view of wire models, for matching filters without serialising.

``FilterExpr.matches`` (``runtime.views.filtering``) walks an event's JSON by camelCase field
names. Serialising an event to a dict costs a dump and a parse of everything it carries;
the workbench tests thousands of events on every keystroke of the filter bar, so it
hands the filter this view instead: a :class:`~collections.abc.Mapping` that looks up a
field only when the filter's path reaches it.

The view shows what :meth:`~runtime.model.WireModel.to_json_dict` would return: camelCase
keys, ``None`` fields left out, unknown (extra) fields kept.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from pydantic import BaseModel

__all__ = ["WireView", "wire_view"]

_ALIASES: dict[type, dict[str, str]] = {}


def _aliases(cls: type[BaseModel]) -> dict[str, str]:
    """camelCase JSON name -> attribute name, computed once per class."""
    aliases = _ALIASES.get(cls)
    if aliases is None:
        aliases = {(info.alias or name): name for name, info in cls.model_fields.items()}
        _ALIASES[cls] = aliases
    return aliases


def _wrap(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return WireView(value)
    if isinstance(value, (list, tuple)):
        return [_wrap(item) for item in value]
    if isinstance(value, Mapping) and not isinstance(value, WireView):
        return {key: _wrap(item) for key, item in value.items()}
    return value


class WireView(Mapping[str, Any]):
    """The JSON shape of one wire model, computed field by field on access.

    Args:
        model: Any :class:`pydantic.BaseModel` with camelCase aliases (every wire model).
    """

    __slots__ = ("_model",)

    def __init__(self, model: BaseModel) -> None:
        self._model = model

    def __getitem__(self, key: str) -> Any:
        model = self._model
        name = _aliases(type(model)).get(key)
        if name is not None:
            value = model.__dict__.get(name)
        else:
            extra = model.__pydantic_extra__ or {}
            if key not in extra:
                raise KeyError(key)
            value = extra[key]
        if value is None:
            raise KeyError(key)  # `None` fields are left out of the JSON
        return _wrap(value)

    def __iter__(self) -> Iterator[str]:
        model = self._model
        for alias, name in _aliases(type(model)).items():
            if model.__dict__.get(name) is not None:
                yield alias
        yield from (model.__pydantic_extra__ or {})

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def __repr__(self) -> str:
        return f"WireView({type(self._model).__name__})"


def wire_view(model: BaseModel) -> WireView:
    """A lazy camelCase JSON view of ``model`` (see the module docstring)."""
    return WireView(model)
