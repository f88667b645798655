"""Replay's key bar: where the cursor is, how it plays, and the keys that move it.

It takes the focus when replay starts; its keys call the app's ``replay`` action
(:meth:`workbench.replaying.ReplayControl.command`), so every key has a command-palette
twin.
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.widgets import Static

__all__ = ["ReplayBar", "REPLAY_KEYS"]

#: (keys, command, what it does): the bar's bindings, the help screen and the docs.
REPLAY_KEYS: tuple[tuple[str, str, str], ...] = (
    ("right,l", "next_step", "Next step"),
    ("left,h", "prev_step", "Previous step"),
    ("shift+right,full_stop", "next_event", "Next event"),
    ("shift+left,comma", "prev_event", "Previous event"),
    ("home", "first", "First event"),
    ("end", "last", "Last event"),
    ("space", "play", "Play / pause"),
    ("s", "speed", "Speed: 1× (recorded pace), 4×, 16×, as fast as it draws"),
    ("e", "next_error", "Next error"),
    ("E", "prev_error", "Previous error"),
    ("d", "next_delegation", "Next delegation"),
    ("D", "prev_delegation", "Previous delegation"),
    ("t", "next_tool", "Next tool call"),
    ("T", "prev_tool", "Previous tool call"),
    ("g", "go_to_step", "Go to step N"),
    ("f", "fork", "Re-run from here (fork)"),
    ("escape", "leave", "Leave replay"),
)


class ReplayBar(Static, can_focus=True):
    """One line above the timeline while replaying."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(key, f"app.replay('{command}')", what, show=False)
        for keys, command, what in REPLAY_KEYS
        for key in keys.split(",")
    ]

    DEFAULT_CSS = """
    ReplayBar {
        height: 1;
        display: none;
        background: $accent 30%;
        color: $text;
        padding: 0 1;
        &:focus { background: $accent 55%; }
    }
    """

    def show_position(self, where: str, playing: bool, speed: str) -> None:
        """``where``: the cursor's place (``step 4 of 7 · event 31/52 · callTools``)."""
        state = f"▶ {speed}" if playing else f"‖ {speed}"
        self.update(
            Text.assemble(
                ("REPLAY ", "bold"),
                (state, "bold"),
                f" · {where} · ",
                ("←→ step ⇧←→ event Space play s speed f fork Esc leave F1 keys", "dim"),
            ),
            layout=False,
        )
