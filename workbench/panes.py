"""The panes of the workbench: their sizes, the maximised pane, the final answer's panel.

* **Sizes.** The ``perstack.toml`` editor and the delegation tree take a share of the
  width, the final answer at most a share of the centre column's height
  (:class:`~workbench.pane_sizes.PaneSizes`). Alt+←/→ move the divider beside the
  focused pane (the one on its right, or its left when it has none there, as tmux does),
  Alt+↑/↓ the one above the final answer; the mouse drags any divider
  (:class:`~workbench.widgets.splitter.Splitter`). Each change is kept in
  ``workbench.toml`` and applied again at the next start.
* **Maximised.** F7 gives the focused pane (the editor, the timeline, the final answer or
  the tree; from the query box or the filter bar, the centre column) the whole space
  between the header and the filter bar; F7 again puts it back.
* **The final answer** (:class:`~workbench.widgets.answer_panel.AnswerPanel`) follows the
  job on screen: shown once its coordinator has answered, hidden while a run is in
  progress or when the job has no answer.

:class:`PaneControl` is written against :class:`~workbench.host.PaneHost`, not the app.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from runtime.errors import PerstackError
from workbench.pane_sizes import AUTOMATIC, PaneSizes, read_pane_sizes, save_pane_sizes
from workbench.widgets.answer_panel import AnswerPanel

if TYPE_CHECKING:
    from textual.geometry import Offset

    from workbench.host import PaneHost
    from workbench.jobview import JobView
    from workbench.widgets.splitter import Splitter

__all__ = ["PANES", "PaneActions", "PaneControl"]

#: The panes that can be maximised, by CSS id.
PANES = ("config", "timeline", "answer", "run-tree", "centre")
_TITLES = {
    "config": "perstack.toml",
    "timeline": "The timeline",
    "answer": "The final answer",
    "run-tree": "The delegation tree",
    "centre": "The timeline",
}
#: Percent moved by one Alt+arrow.
STEP = 2.0
#: The floors of the panes once the user has chosen their shares (columns).
_FLOORS = {"config": 16, "centre": 24, "run-tree": 16}
#: States in which a run is in progress (or a job is being read): no final answer shown.
_BUSY = frozenset({"running", "stopping", "loading"})


class PaneControl:
    """Sizes the panes, maximises one, and shows the final answer.

    Args:
        app: The app (as a :class:`~workbench.host.PaneHost`).
        settings: ``workbench.toml`` (default: the one in the user's config directory).

    Attributes:
        sizes: The panes' shares, as shown.
        maximised: The CSS id of the maximised pane, or ``None``.
    """

    def __init__(self, app: PaneHost, settings: Path | None = None) -> None:
        self.app = app
        self._settings = settings
        self.sizes = PaneSizes()
        self.maximised: str | None = None
        self._save_problem_shown = False
        self._told_how_back = False

    @property
    def settings(self) -> Path:
        """Where the sizes are kept."""
        if self._settings is None:
            from workbench.theming import settings_path

            self._settings = settings_path()
        return self._settings

    # --- sizes ----------------------------------------------------------------------

    def restore_saved(self) -> None:
        """Apply the sizes kept in ``workbench.toml`` (the defaults when there are none)."""
        self.sizes, problems = read_pane_sizes(self.settings)
        for problem in problems:
            self.app.notify(problem, title="Layout", severity="warning", markup=False)
        self.apply()

    def apply(self) -> None:
        """Give each pane its size (the whole space to a maximised one)."""
        sizes, big = self.sizes, self.maximised
        for pane, share in self._shares().items():
            styles = self.app.query_one(f"#{pane}").styles
            if big == pane:
                styles.width, styles.min_width = "1fr", None
            elif share is None:  # automatic: app.tcss's shares and floors
                styles.width = styles.min_width = None
            else:  # the user's shares, as fr units, above small floors
                styles.width, styles.min_width = f"{share}fr", _FLOORS[pane]
        answer = self.app.query_one(AnswerPanel).styles
        answer.height = "1fr" if big == "answer" else "auto"
        answer.max_height = "100%" if big == "answer" else f"{sizes.answer}%"

    def _shares(self) -> dict[str, float | None]:
        editor, tree = self.sizes.editor, self.sizes.tree
        centre = None if editor is None or tree is None else round(100 - editor - tree, 1)
        return {"config": editor, "centre": centre, "run-tree": tree}

    def _pin(self) -> None:
        """Automatic widths become the user's, as they are on screen (a divider moves)."""
        if not self.sizes.automatic:
            return
        editor = self.app.query_one("#config").region.width
        tree = self.app.query_one("#run-tree").region.width
        if editor:
            self.sizes = self.sizes.with_size("editor", self._share(editor))
        self.sizes = self.sizes.with_size("tree", self._share(tree, last=True))

    def _share(self, columns: int, *, last: bool = False) -> float:
        """The share (of the fr units on screen) that gives a pane ``columns`` columns.

        Textual floors each pane's left edge: a pane's share aims half a column inside its
        width (into it for the first pane, short of it for the last), so rounding the share
        to a tenth never loses the column.
        """
        shown = sum(self.app.query_one(f"#{pane}").region.width for pane in _FLOORS) or 1
        units = 100.0
        if not self.app.query_one("#config").region.width:  # hidden: its share is not here
            units -= self.sizes.editor if self.sizes.editor is not None else AUTOMATIC["editor"]
        return (columns + (-0.5 if last else 0.5)) * units / shown

    def resize(self, pane: str, percent: float, *, save: bool = True) -> None:
        """Set ``pane``'s share (``editor``, ``tree`` or ``answer``), within its range."""
        sizes = self.sizes.with_size(pane, percent)
        if sizes != self.sizes:
            self.sizes = sizes
            self.apply()
        if save:
            self.save()

    def save(self) -> None:
        """Keep the sizes in ``workbench.toml`` (a failure is said once, not each time)."""
        try:
            save_pane_sizes(self.sizes, self.settings)
        except PerstackError as error:
            if not self._save_problem_shown:
                self._save_problem_shown = True
                self.app.notify(str(error), title="Layout", severity="warning", markup=False)

    def move_split(self, direction: str) -> None:
        """Alt+arrow: move the divider beside the focused pane (``left``, ``right``) or the
        one above the final answer (``up``, ``down``) one step that way."""
        if self.maximised is not None:
            self.restore()
        if direction in ("up", "down"):
            if not self.app.query_one(AnswerPanel).display:
                self.app.notify("The final answer shows once a job has answered.")
                return
            sign = 1 if direction == "up" else -1
            self.resize("answer", self.sizes.answer + sign * STEP)
            return
        sign = 1 if direction == "right" else -1
        self._pin()
        assert self.sizes.editor is not None and self.sizes.tree is not None
        if self.focused_pane() == "config" and self.app.query_one("#config").display:
            self.resize("editor", self.sizes.editor + sign * STEP)
        else:
            self.resize("tree", self.sizes.tree - sign * STEP)

    def drag(self, splitter: Splitter, position: Offset) -> None:
        """A divider is being dragged: size the pane beside it to follow the pointer."""
        if splitter.id == "answer-split":
            centre = self.app.query_one("#centre").region
            rows = centre.bottom - position.y
            self.resize("answer", rows * 100 / max(1, centre.height), save=False)
            return
        main = self.app.query_one("#main").region
        self._pin()
        if splitter.id == "split-config":
            self.resize("editor", self._share(position.x - main.x), save=False)
        else:
            self.resize("tree", self._share(main.right - position.x - 1, last=True), save=False)

    # --- maximising -----------------------------------------------------------------

    def focused_pane(self) -> str:
        """The pane holding the focus; ``centre`` for the query box, the filter bar …"""
        focused = self.app.focused
        if focused is not None:
            for pane in ("config", "answer", "timeline", "run-tree"):
                if self.app.query_one(f"#{pane}") in focused.ancestors_with_self:
                    return pane
        return "centre"

    def toggle_maximise(self) -> None:
        """F7: maximise the focused pane, or put the maximised one back."""
        if self.maximised is not None:
            self.restore()
        else:
            self.maximise(self.focused_pane())

    def maximise(self, pane: str) -> None:
        """Give ``pane`` (one of :data:`PANES`) the space of every pane."""
        screen = self.app.screen
        for name in PANES:
            screen.set_class(name == pane, f"-max-{name}")
        screen.set_class(True, "-maximised")
        self.maximised = pane
        self.apply()
        if not self._told_how_back:  # once a session: where the other panes went
            self._told_how_back = True
            self.app.notify(f"{_TITLES[pane]} fills the screen: F7 puts it back.", timeout=4)

    def restore(self) -> None:
        """Put the maximised pane back among the others."""
        if self.maximised is None:
            return
        screen = self.app.screen
        for name in PANES:
            screen.set_class(False, f"-max-{name}")
        screen.set_class(False, "-maximised")
        self.maximised = None
        self.apply()

    def focus_moved(self, widget: Any) -> None:
        """The focus went to ``widget``: if that is a pane hidden by the maximised one
        (Ctrl+L, Ctrl+Y …), the maximised pane is put back."""
        if self.maximised is None:
            return
        within = widget.ancestors_with_self
        if self.app.query_one("#main") in within:
            if self.app.query_one(f"#{self.maximised}") not in within:
                self.restore()

    def toggle_config(self) -> None:
        """Ctrl+B: show or hide the ``perstack.toml`` pane (a maximised pane is put back)."""
        self.restore()
        screen = self.app.screen
        shown = self.app.query_one("#config").display
        screen.set_class(shown, "-hide-config")
        screen.set_class(not shown, "-show-config")

    # --- the final answer -------------------------------------------------------------

    def follow_answer(self, view: JobView, state: str) -> None:
        """Show the final answer of the job on screen, or hide it (a run in progress,
        no answer yet); a maximised answer that goes away is put back."""
        shown = self.app.query_one(AnswerPanel).show_answer(
            view.activity.final_answer, state in _BUSY
        )
        if not shown and self.maximised == "answer":
            self.restore()


class PaneActions:
    """The app's pane keys and divider messages, mixed into
    :class:`~workbench.app.WorkbenchApp` (so ``app.py`` holds the layout, not its keys).

    Attributes:
        panes: The app's :class:`PaneControl`.
    """

    panes: PaneControl

    def action_maximise(self) -> None:
        """Maximise the focused pane, or put the maximised one back."""
        self.panes.toggle_maximise()

    def action_move_split(self, direction: str) -> None:
        """Move a divider one step (``left``, ``right``, ``up``, ``down``)."""
        self.panes.move_split(direction)

    def action_toggle_config(self) -> None:
        """Show or hide the perstack.toml pane."""
        self.panes.toggle_config()

    def on_splitter_dragged(self, message: Splitter.Dragged) -> None:
        self.panes.drag(message.splitter, message.position)

    def on_splitter_released(self, message: Splitter.Released) -> None:
        self.panes.save()
