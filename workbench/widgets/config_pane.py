"""The ``perstack.toml`` pane: the editor on the project's file, left of the timeline.

The pane is the :class:`~workbench.widgets.config_editor.ConfigEditor` (typing,
diagnostics, find, Ctrl+S); the app wires its messages to the hot reload
(:mod:`workbench.editing`).
"""

from __future__ import annotations

from workbench.widgets.config_editor import ConfigEditor

__all__ = ["ConfigPane"]


class ConfigPane(ConfigEditor):
    """The workbench's editor pane (its CSS id is ``config``; ``app.tcss`` sizes it)."""
