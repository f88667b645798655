"""How big the workbench's panes are, kept in ``workbench.toml``.

Until the user moves a divider, the widths are **automatic**: the editor, the timeline
and the tree share the width 28 : 50 : 22, each above a floor (``app.tcss``: the
timeline keeps 61 columns, the tree 32), so a 120-column screen looks as it always did
and the columns beyond go mostly to the editor. Once a divider is moved, the editor's and
the tree's widths are **shares of the screen's width** in percent (the timeline has the
rest), so a layout chosen on one terminal fits another. The final answer takes at most a
share of the centre column's height. ``workbench.toml`` keeps them as::

    [layout]
    editor_width = 30     # % of the width (absent: automatic)
    tree_width = 22       # % of the width (absent: automatic)
    answer_height = 40    # % of the centre column's height, at most

A value that is not a number is ignored with a one-line notice; one out of range is
brought into range.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from runtime.errors import PerstackError
from workbench.settings_file import read_settings, update_settings

__all__ = ["LIMITS", "MIN_CENTRE", "PaneSizes", "read_pane_sizes", "save_pane_sizes"]

#: The settings table and the key of each size in it.
TABLE = "layout"
KEYS = {"editor": "editor_width", "tree": "tree_width", "answer": "answer_height"}
#: The smallest and largest share of each pane, in percent.
LIMITS = {"editor": (10.0, 75.0), "tree": (10.0, 60.0), "answer": (10.0, 90.0)}
#: The editor and the tree together leave the timeline at least this share of the width.
MIN_CENTRE = 20.0
#: The automatic shares of the width (``app.tcss`` has them too, with the floors).
AUTOMATIC = {"editor": 28.0, "tree": 22.0}


@dataclass(frozen=True)
class PaneSizes:
    """The share of each resizable pane, in percent.

    Attributes:
        editor: The ``perstack.toml`` editor's width, of the screen's (``None``: automatic).
        tree: The delegation tree's width, of the screen's (``None``: automatic).
        answer: The final answer's height at most, of the centre column's.
    """

    editor: float | None = None
    tree: float | None = None
    answer: float = 40.0

    @property
    def automatic(self) -> bool:
        """The widths are the automatic ones (no divider was moved)."""
        return self.editor is None and self.tree is None

    def with_size(self, pane: str, percent: float) -> PaneSizes:
        """These sizes with ``pane`` (``editor``, ``tree`` or ``answer``) at ``percent``,
        brought into its range; the editor and the tree are narrowed so the timeline keeps
        its share. Setting one width fixes the other (at its automatic share if it had
        none)."""
        low, high = LIMITS[pane]
        if pane == "answer":
            return dataclasses.replace(self, answer=round(max(low, min(high, percent)), 1))
        widths = {
            "editor": AUTOMATIC["editor"] if self.editor is None else self.editor,
            "tree": AUTOMATIC["tree"] if self.tree is None else self.tree,
        }
        other = widths["tree" if pane == "editor" else "editor"]
        high = min(high, 100.0 - MIN_CENTRE - other)
        widths[pane] = round(max(low, min(high, percent)), 1)
        return dataclasses.replace(self, **widths)

    def as_settings(self) -> dict[str, float | int]:
        """The ``[layout]`` table (whole numbers written without a decimal point; the
        automatic widths not at all)."""
        return {
            KEYS[pane]: _number(value)
            for pane in KEYS
            if (value := getattr(self, pane)) is not None
        }


def _number(value: float) -> float | int:
    return int(value) if value == int(value) else value


def read_pane_sizes(path: Path) -> tuple[PaneSizes, list[str]]:
    """The sizes kept in ``path`` (defaults for those missing) and one line per value
    that could not be used. A file that cannot be read at all gives the defaults and no
    line: the theme, read from the same file first, has said so already."""
    try:
        table = read_settings(path).get(TABLE, {})
    except PerstackError:
        return PaneSizes(), []
    if not isinstance(table, dict):
        return PaneSizes(), [f"{path}: {TABLE}: expected a table, got {table!r} (ignored)"]
    sizes, problems = PaneSizes(), []
    for pane, key in KEYS.items():
        value = table.get(key)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            problems.append(
                f"{path}: {TABLE}.{key}: expected a percentage such as 30, got {value!r} (ignored)"
            )
            continue
        sizes = sizes.with_size(pane, float(value))
    return sizes, problems


def save_pane_sizes(sizes: PaneSizes, path: Path) -> None:
    """Keep ``sizes`` in ``path`` (every other setting stays as it was).

    Raises:
        PerstackError: The file cannot be updated (one line naming it).
    """
    update_settings(path, {TABLE: sizes.as_settings()})
