"""Every workbench action, with its key and its command-palette entry.

:data:`ACTIONS` is the one list: the app's bindings, the command palette
(:func:`palette_provider`), the help screen and ``docs/workbench.md`` all read it, so a
key cannot exist without a palette entry or the other way round (a test checks it).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING

from textual.binding import Binding

if TYPE_CHECKING:
    from textual.binding import BindingType
    from textual.command import Hits, Provider

__all__ = ["ACTIONS", "WorkbenchAction", "bindings", "key_name", "palette_provider"]


@dataclass(frozen=True)
class WorkbenchAction:
    """One action of the app.

    Attributes:
        action: The app action it runs (``run``, ``toggle('errors')`` …).
        title: Its command-palette name.
        help: One line on what it does.
        keys: Textual key names, comma-separated (the first is shown).
        footer: Shown in the footer.
        global_: Works while typing in a field (a priority binding).
    """

    action: str
    title: str
    help: str
    keys: str
    footer: bool = False
    global_: bool = True

    @property
    def key_display(self) -> str:
        """The keys as people write them: ``Ctrl+F / /``."""
        return " / ".join(key_name(key) for key in self.keys.split(","))


_KEY_NAMES = {
    "question_mark": "?", "slash": "/", "enter": "Enter", "escape": "Esc",
    "left": "←", "right": "→", "up": "↑", "down": "↓",
}  # fmt: skip


def key_name(key: str) -> str:
    """``ctrl+r`` -> ``Ctrl+R``; ``question_mark`` -> ``?``; ``f1`` -> ``F1``."""
    if key in _KEY_NAMES:
        return _KEY_NAMES[key]
    if "+" in key:
        *modifiers, last = key.split("+")
        return "+".join([*(m.capitalize() for m in modifiers), key_name(last).upper()])
    if key[:1] == "f" and key[1:].isdigit():
        return key.upper()
    return key


def is_typing_key(key: str) -> bool:
    """Keys a text field would type: never bound with priority."""
    return "+" not in key and not (key[:1] == "f" and key[1:].isdigit())


ACTIONS: tuple[WorkbenchAction, ...] = (
    WorkbenchAction("run", "Run", "Run the query: a new job, or a follow-up on the job shown", "ctrl+r", footer=True),
    WorkbenchAction("stop", "Stop the run", "Cancel the run; the job stays resumable", "ctrl+t", footer=True),
    WorkbenchAction("new_job", "New job", "Clear the screen; the next run starts a fresh job", "ctrl+n", footer=True),
    WorkbenchAction("create_expert", "New Expert from a description", "create-expert designs, tests and iterates Experts; you review the change before it is written", "f3"),
    WorkbenchAction("open_job", "Open a stored job", "Show a job run earlier, step by step; a query continues it", "f2"),
    WorkbenchAction("toggle_replay", "Replay the job", "Step through the job on screen as it was at any moment; fork from any step (again: leave)", "f8"),
    WorkbenchAction("replay('fork')", "Re-run from here", "Replay: fork the job at the cursor as a new job, with today's definitions and any model", "f9"),
    WorkbenchAction("compare", "Compare models", "Run the Expert and query on 2–4 models at once, side by side: steps, tokens, cost, time", "f10"),
    WorkbenchAction("choose_expert", "Choose the Expert", "Open the Expert picker", "ctrl+o"),
    WorkbenchAction("focus('query-input')", "Type a query", "Put the cursor in the query box", "ctrl+g"),
    WorkbenchAction("filter_or_find", "Filter the timeline", "Type a --filter expression or a --step range (in the editor: find)", "ctrl+f,slash", footer=True),
    WorkbenchAction("focus('timeline')", "Go to the timeline", "Move through the steps with the arrow keys", "ctrl+l"),
    WorkbenchAction("tree_or_redo", "Go to the delegation tree", "Pick a run to narrow the timeline to it (in the editor: redo)", "ctrl+y"),
    WorkbenchAction("toggle('errors')", "Show errors only", "Toggle: retries, errors and failed calls", "e", global_=False),
    WorkbenchAction("toggle('tools')", "Show tool calls only", "Toggle: tool and interactive calls", "t", global_=False),
    WorkbenchAction("toggle('delegations')", "Show delegations only", "Toggle: delegate calls", "d", global_=False),
    WorkbenchAction("clear_filter", "Clear the filter", "Empty the filter, the step range and the toggles", "c", global_=False),
    WorkbenchAction("details", "Show the step's details", "Messages sent, the call in full, the raw events", "enter", global_=False),
    WorkbenchAction("answer", "Answer the pending question", "Reopen the interactive tool's question", "a", global_=False),
    WorkbenchAction("toggle_config", "Show or hide perstack.toml", "The left pane with the file the runs use", "ctrl+b"),
    WorkbenchAction("save_config", "Save perstack.toml", "Write the editor's text; the Experts reload", "ctrl+s"),
    WorkbenchAction("load_config", "Load perstack.toml from disk", "Take the file's text (drops unsaved edits after a change elsewhere)", "f4"),
    WorkbenchAction("toggle_auto_rerun", "Auto re-run", "Toggle: a valid save runs the last query again as a new job", "f5"),
    WorkbenchAction("maximise", "Maximise or restore the pane", "The focused pane fills the screen (the editor, timeline, answer or tree); again: back", "f7"),
    WorkbenchAction("move_split('left')", "Move the divider left", "Beside the focused pane: the editor narrows, or the tree widens; kept in workbench.toml", "alt+left"),
    WorkbenchAction("move_split('right')", "Move the divider right", "Beside the focused pane: the editor widens, or the tree narrows; kept in workbench.toml", "alt+right"),
    WorkbenchAction("move_split('up')", "Move the divider up", "Above the final answer: the answer gets more room; kept in workbench.toml", "alt+up"),
    WorkbenchAction("move_split('down')", "Move the divider down", "Above the final answer: the timeline gets more room; kept in workbench.toml", "alt+down"),
    WorkbenchAction("change_theme", "Switch theme", "Pick a theme; the choice is remembered", "f6"),
    WorkbenchAction("help", "Help", "Every key and what it does", "f1,question_mark", footer=True),
)


#: Actions that stay live on the full screens pushed over the main one (diff, compare).
_EVERYWHERE = frozenset({"help", "change_theme"})
_MAIN_ACTIONS = frozenset(item.action.split("(")[0] for item in ACTIONS) - _EVERYWHERE


def main_screen_action(action: str, on_main_screen: bool) -> bool:
    """Whether ``action`` may run (and show in the footer) on the screen in front.

    The app's bindings act on the main screen's job; on a full screen pushed over it (the
    diff, the compare view) they would act on a job the user cannot see (Ctrl+R would
    start a run behind the diff), and their labels would crowd that screen's own keys.
    """
    return on_main_screen or action not in _MAIN_ACTIONS


def bindings() -> list[BindingType]:
    """The app's bindings, built from :data:`ACTIONS`.

    Keys that type text (``e``, ``/``, ``?`` …) never take priority, so they type in a
    field and act elsewhere. ``Enter`` belongs to the focused widget (the timeline opens
    the details itself), so it is not bound at app level.
    """
    found: list[BindingType] = []
    for item in ACTIONS:
        short = item.title if len(item.title) < 14 else item.title.split()[0]
        for key in item.keys.split(","):
            if key == "enter":
                continue
            found.append(
                Binding(
                    key,
                    item.action,
                    short,
                    show=item.footer and key == item.keys.split(",")[0],
                    priority=item.global_ and not is_typing_key(key),
                    key_display=key_name(key),
                )
            )
    return found


def palette_provider() -> type[Provider]:
    """The command-palette provider of :data:`ACTIONS` (``App.COMMANDS`` takes this callable).

    Defined on first use: ``textual.command`` costs tens of milliseconds to import, which
    the first screen does not need.
    """
    global _PROVIDER
    if _PROVIDER is None:
        _PROVIDER = _make_provider()
    return _PROVIDER


_PROVIDER: type[Provider] | None = None


def _make_provider() -> type[Provider]:
    from textual.command import DiscoveryHit, Hit, Provider

    class WorkbenchCommands(Provider):
        """The command-palette entries of :data:`ACTIONS`."""

        async def discover(self) -> Hits:
            for item in ACTIONS:
                yield DiscoveryHit(
                    f"{item.title}  ({item.key_display})",
                    partial(self.app.run_action, item.action),
                    help=item.help,
                )

        async def search(self, query: str) -> Hits:
            matcher = self.matcher(query)
            for item in ACTIONS:
                name = f"{item.title}  ({item.key_display})"
                score = matcher.match(f"{item.title} {item.help}")
                if score > 0:
                    yield Hit(
                        score,
                        matcher.highlight(name),
                        partial(self.app.run_action, item.action),
                        text=name,
                        help=item.help,
                    )

    return WorkbenchCommands


#: Keys of the focused widget or dialog, for the help screen and the docs.
CONTEXT_KEYS: tuple[tuple[str, str, str], ...] = (
    ("Timeline", "↑ ↓ / j k, PgUp PgDn, Home End", "Move through the steps (End follows new steps)"),
    ("Timeline", "Enter, click the highlighted row", "Open the step's details"),
    ("Delegation tree", "↑ ↓, Enter", "Narrow the timeline to a run (the job line: all runs)"),
    ("Delegation tree", "Esc", "Show every run again"),
    ("Filter bar", "Esc, Enter", "Back to the timeline"),
    ("Query box", "Enter", "Run the query"),
    ("Final answer", "↑ ↓ / j k, PgUp PgDn, Home End", "Scroll the answer (click it or Tab to it first)"),
    ("Dividers", "drag with the mouse", "Resize the editor, the tree or the final answer (kept in workbench.toml)"),
    ("Replay bar", "← →, ⇧← ⇧→ / , .", "Previous / next step, previous / next event"),
    ("Replay bar", "Home End, g", "First / last event, go to step N"),
    ("Replay bar", "Space, s", "Play / pause at the recorded pace; speed 1×, 4×, 16×, max"),
    ("Replay bar", "e E, d D, t T", "Next / previous error, delegation, tool call"),
    ("Replay bar", "f, Esc", "Re-run from here (fork), leave replay"),
    ("Stored jobs", "m, then Enter on another", "Diff the two jobs"),
    ("Stored jobs", "r", "Open the job in replay"),
    ("Diff", "Enter, n p, Esc", "Unfold equal steps, next / previous difference, close"),
    ("Compare view", "← →, ↑ ↓, Enter", "Column, aligned steps, open the column's job"),
    ("Compare view", "Ctrl+R, Ctrl+T, Ctrl+E, Ctrl+N", "Run, stop, export (Markdown and JSON), other models"),
    ("Details", "1 2 3", "Call, Messages sent, Events tabs"),
    ("Details", "[ ]", "Previous / next row"),
    ("Details, dialogs", "Esc", "Close (a question stays pending)"),
    ("perstack.toml editor", "Ctrl+F, Enter / Shift+Enter, Esc", "Find, next / previous match, close the find bar"),
    ("perstack.toml editor", "Ctrl+Z, Ctrl+Y", "Undo, redo"),
    ("perstack.toml editor", "Enter on a problem", "Jump to its line"),
    ("Anywhere", "Ctrl+P", "Command palette: every action by name"),
    ("Anywhere", "Ctrl+Q", "Quit (a running job is stopped and stays resumable)"),
)
