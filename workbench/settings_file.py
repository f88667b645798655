"""``workbench.toml``: the workbench's own settings (the theme, the pane sizes).

The file lives in the user's config directory (see :func:`workbench.theming.settings_path`)
and belongs to the user as much as to the workbench: an update rewrites only the keys it
names and keeps every other key, comment and blank line as it was (``tomlkit``), and the
write is atomic. A file that is not valid TOML is never overwritten.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from runtime.errors import PerstackError

__all__ = ["read_settings", "update_settings"]


def read_settings(path: Path) -> dict[str, Any]:
    """Every setting in ``path``; an empty table when the file does not exist.

    Raises:
        PerstackError: The file exists but cannot be read or is not valid TOML.
    """
    try:
        return tomllib.loads(path.read_text(encoding="utf-8-sig"))
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise PerstackError(f"{path}: cannot read the workbench settings: {error}") from None


def update_settings(path: Path, values: Mapping[str, Any]) -> None:
    """Set ``values`` in ``path`` (a mapping value updates that table key by key).

    Raises:
        PerstackError: The file is not valid TOML (it is left alone) or cannot be written.
    """
    import tomlkit

    from workbench.atomic import write_text_atomic

    try:
        document = tomlkit.parse(path.read_text(encoding="utf-8-sig"))
    except FileNotFoundError:
        document = tomlkit.document()
        document.add(tomlkit.comment("Perstack workbench settings (written by the workbench)."))
    except (OSError, UnicodeDecodeError, tomlkit.exceptions.ParseError) as error:
        raise PerstackError(f"{path}: cannot update the workbench settings: {error}") from None
    for key, value in values.items():
        if isinstance(value, Mapping):
            table = document.get(key)
            if not isinstance(table, Mapping):
                table = document[key] = tomlkit.table()
            for inner, item in value.items():
                table[inner] = item
        else:
            document[key] = value
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(path, tomlkit.dumps(document))
    except OSError as error:
        raise PerstackError(f"{path}: cannot save the workbench settings: {error}") from None
