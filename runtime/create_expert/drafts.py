"""Definitions into ``perstack.toml``: merged with tomlkit, validated, shown as a diff, written.

The designer writes ``[experts."<key>"]`` tables. They are merged into the project's file
*in place*: an Expert that exists keeps its position, its comments and the formatting of
every line whose value did not change; a new one is added at the end. Every merged text is
validated with :mod:`runtime.config` before anything uses it, so a definition that would
not load is never written.
"""

from __future__ import annotations

import difflib
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runtime.errors import ConfigError, PerstackError

__all__ = [
    "Definitions",
    "DraftError",
    "merge_definitions",
    "parse_definitions",
    "unified_diff",
    "validate_text",
    "write_config",
]


class DraftError(PerstackError):
    """Definitions that cannot be used; the message says why, one problem a line."""


@dataclass(frozen=True)
class Definitions:
    """The Experts one ``writeDefinitions`` call defines.

    Attributes:
        text: The TOML as written.
        keys: The Expert keys, in order.
    """

    text: str
    keys: tuple[str, ...]


def parse_definitions(text: str) -> Definitions:
    """Check that ``text`` is TOML holding ``[experts."<key>"]`` tables and nothing else.

    Raises:
        DraftError: not TOML, other top-level keys, or no Expert.
    """
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise DraftError(f"The definitions are not valid TOML: {error}") from None
    others = [key for key in data if key != "experts"]
    if others:
        raise DraftError(
            f'Only [experts."<key>"] tables may be written; found {", ".join(others)} '
            "(the project's model, provider and other settings stay as they are)"
        )
    experts = data.get("experts")
    if not isinstance(experts, dict) or not experts:
        raise DraftError('No Expert defined: write one or more [experts."<key>"] tables')
    bad = [key for key, table in experts.items() if not isinstance(table, dict)]
    if bad:
        raise DraftError(f"experts.{bad[0]} must be a table")
    return Definitions(text=text, keys=tuple(experts))


def merge_definitions(base_text: str, definitions: Definitions | str) -> str:
    """``base_text`` with each Expert of ``definitions`` replaced in place or added.

    An Expert already in ``base_text`` is updated key by key: keys it no longer has are
    removed, changed values are replaced where they stand, and comments stay.
    """
    import tomlkit
    from tomlkit.items import Table

    if isinstance(definitions, str):
        definitions = parse_definitions(definitions)
    document = tomlkit.parse(base_text)
    incoming = tomlkit.parse(definitions.text)["experts"]
    if "experts" not in document:
        experts = tomlkit.table(is_super_table=True)
        document["experts"] = experts
    experts = document["experts"]
    for key, table in incoming.items():  # type: ignore[union-attr]
        if key in experts and isinstance(experts[key], Table) and isinstance(table, Table):
            _update_in_place(experts[key], table)
        else:
            experts[key] = table
    return tomlkit.dumps(document)


def _update_in_place(old: Any, new: Any) -> None:
    from tomlkit.items import Table

    for key in [key for key in old if key not in new]:
        del old[key]
    for key, value in new.items():
        current = old.get(key)
        if isinstance(current, Table) and isinstance(value, Table):
            _update_in_place(current, value)
        elif current is None or current.unwrap() != value.unwrap():
            old[key] = value


def validate_text(text: str, path: Path) -> Any:
    """The config ``text`` would load as, or :class:`DraftError` with every problem.

    Raises:
        DraftError: ``text`` would not load; one problem a line, ``file:line: …``.
    """
    from runtime.config import parse_config_text

    try:
        return parse_config_text(text, path)
    except ConfigError as error:
        raise DraftError("\n".join(error.problems)) from None


def experts_of(text: str, keys: Iterable[str]) -> str:
    """The TOML of the Experts ``keys`` as defined in ``text`` (for the report)."""
    import tomlkit

    document = tomlkit.parse(text)
    experts = document.get("experts", {})
    out = tomlkit.document()
    table = tomlkit.table(is_super_table=True)
    for key in keys:
        if key in experts:
            table[key] = experts[key]
    out["experts"] = table
    return tomlkit.dumps(out).strip() + "\n"


def unified_diff(old: str, new: str, name: str = "perstack.toml") -> str:
    """The change from ``old`` to ``new`` as a unified diff (empty when equal)."""
    lines = difflib.unified_diff(
        old.splitlines(keepends=True),
        new.splitlines(keepends=True),
        fromfile=f"{name} (now)",
        tofile=f"{name} (proposed)",
    )
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)


def write_config(path: Path, text: str, backup: Path | None) -> None:
    """Write ``text`` to ``path`` atomically, after validating it; copy the old file first.

    Raises:
        DraftError: ``text`` would not load (nothing is written).
    """
    from runtime.storage.atomic import write_replace

    validate_text(text, path)
    if backup is not None and path.is_file():
        backup.parent.mkdir(parents=True, exist_ok=True)
        write_replace(str(backup.parent), backup.name, path.read_bytes())
    path.parent.mkdir(parents=True, exist_ok=True)
    write_replace(str(path.parent), path.name, text.encode("utf-8"))
