"""How big the workbench's panes are, as shares of the screen, kept in ``workbench.toml``.

Sizes are percentages, so a layout chosen on one terminal fits another: the
``perstack.toml`` editor and the delegation tree take a share of the screen's width
(each with a floor in columns, set in ``app.tcss``), the timeline the rest; the final
answer at most a share of the centre column's height. ``workbench.toml`` keeps them as::

    [layout]
    editor_width = 28     # % of the width
    tree_width = 22       # % of the width
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

__all__ = ["LIMITS", "PaneSizes", "read_pane_sizes", "save_pane_sizes"]

#: The settings table and the key of each size in it.
TABLE = "layout"
KEYS = {"editor": "editor_width", "tree": "tree_width", "answer": "answer_height"}
#: The smallest and largest share of each pane, in percent.
LIMITS = {"editor": (10.0, 75.0), "tree": (10.0, 60.0), "answer": (10.0, 90.0)}
#: The editor and the tree together leave the timeline at least this share of the width.
MIN_CENTRE = 20.0


@dataclass(frozen=True)
class PaneSizes:
    """The share of each resizable pane, in percent.

    Attributes:
        editor: The ``perstack.toml`` editor's width, of the screen's.
        tree: The delegation tree's width, of the screen's.
        answer: The final answer's height at most, of the centre column's.
    """

    editor: float = 28.0
    tree: float = 22.0
    answer: float = 40.0

    def with_size(self, pane: str, percent: float) -> PaneSizes:
        """These sizes with ``pane`` (``editor``, ``tree`` or ``answer``) at ``percent``,
        brought into its range, and narrowed so the timeline keeps its share."""
        low, high = LIMITS[pane]
        if pane in ("editor", "tree"):
            other = self.tree if pane == "editor" else self.editor
            high = min(high, 100.0 - MIN_CENTRE - other)
        value = round(max(low, min(high, percent)), 1)
        return dataclasses.replace(self, **{pane: value})

    def as_settings(self) -> dict[str, float | int]:
        """The ``[layout]`` table (whole numbers written without a decimal point)."""
        return {KEYS[pane]: _number(getattr(self, pane)) for pane in KEYS}


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
