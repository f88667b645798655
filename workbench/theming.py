"""Workbench themes: TOML files turned into Textual themes, the saved choice, hot reload.

Bundled themes ship in the ``themes`` package (read with :mod:`importlib.resources`);
users add theme files to ``$XDG_CONFIG_HOME/perstack/themes/`` (default
``~/.config/perstack/themes/``). A user theme with a bundled theme's name replaces it.
A bad file is skipped with a one-line notice; the workbench never fails over a theme.

A theme file::

    name = "my-theme"          # optional; the file name without .toml otherwise
    description = "..."        # optional
    dark = true
    primary = "#5AA9FF"        # required; every other colour is optional
    secondary = "..."  accent = "..."  foreground = "..."  background = "..."
    surface = "..."  panel = "..."  success = "..."  warning = "..."  error = "..."
    boost = "#FFFFFF0D"        # colours may carry an alpha
    [variables]                # extra Textual variables; syntax-* colour the editor
    syntax-string = "#A8DBA8"
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runtime.errors import PerstackError
from workbench.settings_file import read_settings, update_settings

if TYPE_CHECKING:
    from textual.theme import Theme

__all__ = [
    "COLOR_KEYS",
    "DEFAULT_THEME",
    "SYNTAX_VARIABLES",
    "ThemeError",
    "ThemeFile",
    "bundled_themes",
    "config_dir",
    "load_user_themes",
    "parse_theme",
    "read_saved_theme",
    "save_theme_name",
    "settings_path",
    "user_themes_dir",
]

DEFAULT_THEME = "perstack-dark"
COLOR_KEYS = (
    "primary",
    "secondary",
    "accent",
    "foreground",
    "background",
    "surface",
    "panel",
    "success",
    "warning",
    "error",
    "boost",
)
#: Variables the editor reads for TOML highlighting (each a colour).
SYNTAX_VARIABLES = (
    "syntax-table",
    "syntax-key",
    "syntax-string",
    "syntax-number",
    "syntax-boolean",
    "syntax-comment",
    "syntax-punctuation",
    "syntax-error",
)
_FRACTION_KEYS = ("luminosity_spread", "text_alpha")
_OTHER_KEYS = ("name", "description", "dark", "variables")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
_SETTINGS_FILE = "workbench.toml"


class ThemeError(PerstackError):
    """A theme file that cannot be used; the message is one line naming the file."""


@dataclass(frozen=True)
class ThemeFile:
    """A theme read from a file.

    Attributes:
        theme: The Textual theme.
        description: The file's ``description`` (may be empty).
        source: Where it came from: ``bundled:<file>`` or the user file's path.
    """

    theme: Theme
    description: str
    source: str

    @property
    def name(self) -> str:
        """The theme's name (what the command palette lists and ``workbench.toml`` keeps)."""
        return self.theme.name


def parse_theme(text: str, source: str, default_name: str) -> ThemeFile:
    """Turn a theme file's text into a :class:`ThemeFile`.

    Args:
        text: The TOML text.
        source: Names the file in errors.
        default_name: The name when the file has no ``name`` (its file name).

    Raises:
        ThemeError: One line: ``<source>: <every problem, separated by "; ">``.
    """
    from textual.color import Color, ColorParseError
    from textual.theme import Theme

    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ThemeError(f"{source}: not valid TOML: {error}") from None
    problems: list[str] = []

    def colour(key: str, value: Any) -> str | None:
        if not isinstance(value, str):
            problems.append(f'{key}: expected a colour such as "#1A2B3C", got {value!r}')
            return None
        try:
            Color.parse(value)
        except ColorParseError:
            problems.append(f'{key}: "{value}" is not a colour (e.g. "#1A2B3C" or "#1A2B3C80")')
            return None
        return value

    known = (*COLOR_KEYS, *_FRACTION_KEYS, *_OTHER_KEYS)
    problems += [f"unknown key {key!r}" for key in data if key not in known]
    name = data.get("name", default_name)
    if not isinstance(name, str) or not _NAME.match(name):
        problems.append(f"name: expected letters, digits, - or _, got {name!r}")
    description = data.get("description", "")
    if not isinstance(description, str):
        problems.append(f"description: expected a string, got {description!r}")
    dark = data.get("dark", True)
    if not isinstance(dark, bool):
        problems.append(f"dark: expected true or false, got {dark!r}")
    if "primary" not in data:
        problems.append("primary: required colour is missing")
    colours = {key: colour(key, data[key]) for key in COLOR_KEYS if key in data}
    fractions: dict[str, float] = {}
    for key in _FRACTION_KEYS:
        if key in data:
            value = data[key]
            if (
                isinstance(value, bool)
                or not isinstance(value, (int, float))
                or not 0 <= value <= 1
            ):
                problems.append(f"{key}: expected a number from 0 to 1, got {value!r}")
            else:
                fractions[key] = float(value)
    variables = _variables(data.get("variables", {}), problems, colour)
    if problems:
        raise ThemeError(f"{source}: {'; '.join(problems)}")
    theme = Theme(name=name, dark=dark, variables=variables, **colours, **fractions)
    return ThemeFile(theme, description, source)


def _variables(
    table: Any, problems: list[str], colour: Callable[[str, Any], str | None]
) -> dict[str, str]:
    if not isinstance(table, dict):
        problems.append(f"variables: expected a table, got {table!r}")
        return {}
    variables: dict[str, str] = {}
    for key, value in table.items():
        if key.startswith("syntax-"):
            checked = colour(f"variables.{key}", value)
        elif isinstance(value, str):
            checked = value
        else:
            problems.append(f"variables.{key}: expected a string, got {value!r}")
            checked = None
        if checked is not None:
            variables[key] = checked
    return variables


def bundled_themes() -> list[ThemeFile]:
    """The themes shipped in the ``themes`` package, by name.

    Raises:
        ThemeError: A bundled file is broken (a packaging bug, so it is not skipped).
    """
    from importlib.resources import files

    found = []
    for entry in files("themes").iterdir():
        if entry.name.endswith(".toml"):
            text = entry.read_text(encoding="utf-8")
            found.append(parse_theme(text, f"bundled:{entry.name}", entry.name[:-5]))
    return sorted(found, key=lambda item: item.name)


def config_dir() -> Path:
    """``$XDG_CONFIG_HOME/perstack``, or ``~/.config/perstack`` (the XDG default).

    A relative ``XDG_CONFIG_HOME`` is ignored, as the XDG specification asks.
    """
    base = os.environ.get("XDG_CONFIG_HOME", "")
    root = Path(base) if base and os.path.isabs(base) else Path.home() / ".config"
    return root / "perstack"


def user_themes_dir() -> Path:
    """Where user theme files live: ``<config dir>/themes``."""
    return config_dir() / "themes"


def settings_path() -> Path:
    """The workbench's own settings file: ``<config dir>/workbench.toml``."""
    return config_dir() / _SETTINGS_FILE


def load_user_themes(directory: Path | None = None) -> tuple[list[ThemeFile], list[str]]:
    """Every ``*.toml`` in the user themes directory that is a valid theme.

    Returns:
        The themes (by file name) and one line per file that was skipped.
    """
    directory = user_themes_dir() if directory is None else directory
    themes: list[ThemeFile] = []
    problems: list[str] = []
    if not directory.is_dir():
        return themes, problems
    for path in sorted(directory.glob("*.toml")):
        try:
            text = path.read_text(encoding="utf-8-sig")
            themes.append(parse_theme(text, str(path), path.stem))
        except ThemeError as error:
            problems.append(f"{error} (theme skipped)")
        except (OSError, UnicodeDecodeError) as error:
            problems.append(f"{path}: cannot read: {error} (theme skipped)")
    return themes, problems


def read_saved_theme(path: Path | None = None) -> str | None:
    """The theme name saved in ``workbench.toml``; None when there is none.

    Raises:
        PerstackError: The file exists but is not valid TOML.
    """
    theme = read_settings(settings_path() if path is None else path).get("theme")
    return theme if isinstance(theme, str) else None


def save_theme_name(name: str, path: Path | None = None) -> None:
    """Keep ``theme = "<name>"`` in ``workbench.toml``, leaving the rest of it as it was.

    Raises:
        PerstackError: The file is not valid TOML (it is left alone) or cannot be written.
    """
    update_settings(settings_path() if path is None else path, {"theme": name})
