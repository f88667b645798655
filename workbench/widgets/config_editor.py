"""The ``perstack.toml`` editor: TOML highlighting, line numbers, undo, find, Ctrl+S,
problems while typing, and the file on disk as the source of truth.

* **Save** (Ctrl+S) writes the buffer exactly as it is (comments and formatting are the
  user's), atomically, then posts :class:`ConfigEditor.Saved`.
* **Edits made elsewhere**: the app tells the editor with :meth:`ConfigEditor.disk_changed`
  (its hot reload watches the file). An unchanged buffer takes the new text; a changed one
  posts :class:`ConfigEditor.ExternalChange` and the app asks the user, then calls
  :meth:`keep_mine` or :meth:`load_theirs`.
* **Problems** are found by the runtime's own loader, ``debounce`` seconds after the last
  keystroke, in a thread (validating 2,000 lines takes tens of milliseconds, which must
  not delay typing). They are marked at their lines and listed under the text; choosing
  one moves the cursor there. :class:`ConfigEditor.DiagnosticsChanged` follows each run.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Static, TextArea
from textual.widgets.text_area import Selection

from workbench.widgets.diagnostics import Diagnostic, DiagnosticsList, validate_text
from workbench.widgets.find_bar import FindBar, count_matches, find_match
from workbench.widgets.toml_text_area import TomlTextArea

if TYPE_CHECKING:
    from textual.theme import Theme
    from textual.timer import Timer

__all__ = ["ConfigEditor", "DEFAULT_DEBOUNCE"]

#: Seconds of typing pause before the buffer is validated.
DEFAULT_DEBOUNCE = 0.3


class ConfigEditor(Vertical):
    """A title line, a find bar, the text and the problem list, on one ``perstack.toml``."""

    DEFAULT_CSS = """
    ConfigEditor {
        & > #editor-title { width: 1fr; height: 1; padding: 0 1; background: $panel;
                            color: $text-muted; }
        & > TomlTextArea { height: 1fr; }
    }
    """

    BINDINGS = [
        Binding("ctrl+s", "save", "Save", tooltip="Save perstack.toml"),
        Binding("ctrl+f", "find", "Find", tooltip="Find in perstack.toml"),
    ]

    class Saved(Message):
        """The buffer was written to ``path``."""

        def __init__(self, path: Path, text: str) -> None:
            super().__init__()
            self.path = path
            self.text = text

    class ExternalChange(Message):
        """The file changed on disk while the buffer has unsaved changes: ask the user."""

        def __init__(self, path: Path, disk_text: str) -> None:
            super().__init__()
            self.path = path
            self.disk_text = disk_text

    class LoadedFromDisk(Message):
        """The unchanged buffer took the file's new text (an edit made elsewhere)."""

        def __init__(self, path: Path) -> None:
            super().__init__()
            self.path = path

    class DiagnosticsChanged(Message):
        """The buffer was validated; ``diagnostics`` is empty when it is fine."""

        def __init__(self, diagnostics: list[Diagnostic]) -> None:
            super().__init__()
            self.diagnostics = diagnostics

    class ModifiedChanged(Message):
        """The buffer became different from the file, or the same again."""

        def __init__(self, modified: bool) -> None:
            super().__init__()
            self.modified = modified

    def __init__(
        self,
        path: Path,
        *,
        debounce: float = DEFAULT_DEBOUNCE,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(id=id, classes=classes)
        self.path = Path(path)
        self.debounce = debounce
        self.diagnostics: list[Diagnostic] = []
        text, problem = self._read_disk()
        self._disk_text = text  # what the file held when last loaded or saved
        self._read_problem = problem
        self._theirs: str | None = None  # the disk text of a pending conflict
        self._modified = False
        self._edits = 0  # bumped on every change; a validation of an older buffer is dropped
        self._validated_edits = -1  # the value of _edits the diagnostics shown belong to
        self._timer: Timer | None = None

    def compose(self) -> ComposeResult:
        yield Static(self.path.name, id="editor-title")
        yield FindBar()
        yield TomlTextArea(
            self._disk_text,
            show_line_numbers=True,
            soft_wrap=False,
            read_only=self._read_problem is not None,
            id="config-text",
        )
        yield DiagnosticsList()

    def on_mount(self) -> None:
        self.text_area.apply_app_theme(self.app.current_theme)
        self.app.theme_changed_signal.subscribe(self, self._app_theme_changed)
        self._validate_soon(0)

    # -- state ---------------------------------------------------------------------

    @property
    def text_area(self) -> TomlTextArea:
        """The text widget."""
        return self.query_one(TomlTextArea)

    @property
    def text(self) -> str:
        """The buffer."""
        return self.text_area.text

    @property
    def modified(self) -> bool:
        """Whether the buffer differs from the file as last loaded or saved."""
        return self.text_area.text != self._disk_text

    @property
    def validation_pending(self) -> bool:
        """Whether the buffer awaits validation (debouncing, or validating now)."""
        return self._timer is not None or self._validated_edits != self._edits

    @property
    def conflict_pending(self) -> bool:
        """Whether an :class:`ExternalChange` awaits :meth:`keep_mine` / :meth:`load_theirs`."""
        return self._theirs is not None

    # -- actions -------------------------------------------------------------------

    def action_save(self) -> None:
        """Ctrl+S."""
        self.save()

    def save(self) -> bool:
        """Write the buffer to the file as it is; False (and a notice) when that failed."""
        from workbench.atomic import write_text_atomic

        if self._read_problem is not None:
            self.notify(self._read_problem, title="Not saved", severity="error")
            return False
        text = self.text
        try:
            write_text_atomic(self.path, text)
        except OSError as error:
            reason = error.strerror or str(error)
            self.notify(f"Cannot save {self.path}: {reason}", title="Not saved", severity="error")
            return False
        self._disk_text = text
        self._theirs = None
        self._modified_maybe_changed()
        self.post_message(self.Saved(self.path, text))
        return True

    def action_find(self) -> None:
        """Ctrl+F: open the find bar (prefilled with a one-line selection)."""
        self.query_one(FindBar).open(self.text_area.selected_text)

    def goto_line(self, line: int) -> None:
        """Put the cursor at the start of ``line`` (1-based) and focus the text."""
        area = self.text_area
        row = min(max(line - 1, 0), area.document.line_count - 1)
        area.move_cursor((row, 0), center=True)
        area.focus()

    # -- the file on disk ----------------------------------------------------------

    def disk_changed(self, disk_text: str | None = None) -> None:
        """The file changed on disk (the hot reload saw it); ``disk_text`` is its content
        (read here when None). Our own saves are recognised and ignored."""
        if disk_text is None:
            disk_text, problem = self._read_disk()
            if problem is not None:
                return
        if disk_text == self._disk_text:
            return
        if not self.modified:
            self._load(disk_text)
            self.post_message(self.LoadedFromDisk(self.path))
        elif disk_text == self.text:
            self._disk_text = disk_text  # the same edit made on both sides
            self._modified_maybe_changed()
        else:
            self._theirs = disk_text
            self.post_message(self.ExternalChange(self.path, disk_text))

    def keep_mine(self) -> None:
        """Resolve a conflict by keeping the buffer (the next save overwrites the file)."""
        if self._theirs is not None:
            self._disk_text = self._theirs
            self._theirs = None
            self._modified_maybe_changed()

    def load_theirs(self) -> None:
        """Resolve a conflict by loading the file's text (the buffer's changes are lost)."""
        if self._theirs is not None:
            text, self._theirs = self._theirs, None
            self._load(text)

    def _load(self, text: str) -> None:
        area = self.text_area
        cursor, scroll = area.cursor_location, area.scroll_offset
        self._disk_text = text
        area.load_text(text)
        row = min(cursor[0], area.document.line_count - 1)
        area.move_cursor((row, min(cursor[1], len(area.document.get_line(row)))))
        area.scroll_to(scroll.x, scroll.y, animate=False)
        self._modified_maybe_changed()

    def _read_disk(self) -> tuple[str, str | None]:
        try:
            return self.path.read_text(encoding="utf-8-sig"), None
        except FileNotFoundError:
            return "", None  # a new file: saving creates it
        except UnicodeDecodeError:
            return "", f"{self.path} is not UTF-8 text; the editor leaves it alone"
        except OSError as error:
            return "", f"Cannot read {self.path}: {error.strerror or error}"

    # -- typing and validation -----------------------------------------------------

    def _on_text_area_changed(self, event: TextArea.Changed) -> None:
        event.stop()
        self._edits += 1
        self._modified_maybe_changed()
        self._validate_soon(self.debounce)

    def _modified_maybe_changed(self) -> None:
        modified = self.modified
        if modified != self._modified:
            self._modified = modified
            self._update_title()
            self.post_message(self.ModifiedChanged(modified))

    def _validate_soon(self, delay: float) -> None:
        if self._timer is not None:
            self._timer.stop()
            self._timer = None
        if delay <= 0:  # (a zero-delay Textual timer divides by zero)
            self.call_later(self._start_validation)
        else:
            self._timer = self.set_timer(delay, self._start_validation, name="validate")

    def _start_validation(self) -> None:
        self._timer = None
        if self._read_problem is not None:
            self._validated_edits = self._edits
            self._show([Diagnostic(None, self._read_problem, "error", self._read_problem)])
            return
        self.run_worker(
            self._validate(self._edits, self.text),
            group="diagnostics",
            exclusive=True,
            exit_on_error=False,
        )

    async def _validate(self, edits: int, text: str) -> None:
        diagnostics = await asyncio.to_thread(validate_text, text, self.path)
        if edits == self._edits:  # the buffer is still the one validated
            self._validated_edits = edits
            self._show(diagnostics)

    def _show(self, diagnostics: list[Diagnostic]) -> None:
        self.diagnostics = diagnostics
        marks = {}
        for diagnostic in reversed(diagnostics):  # an error wins over a warning on a line
            if diagnostic.line is not None:
                if marks.get(diagnostic.line - 1) != "error":
                    marks[diagnostic.line - 1] = diagnostic.severity
        self.text_area.set_marks(marks)
        self.query_one(DiagnosticsList).set_diagnostics(diagnostics)
        self._update_title()
        self.post_message(self.DiagnosticsChanged(diagnostics))

    def _update_title(self) -> None:
        from textual.content import Content

        errors = sum(1 for d in self.diagnostics if d.severity == "error")
        warnings = len(self.diagnostics) - errors
        parts = [Content(self.path.name)]
        if self._modified:
            parts.append(Content.from_markup(" [$accent]● modified[/]"))
        if errors:
            parts.append(
                Content.from_markup(f" [$error]{errors} problem{'s' if errors > 1 else ''}[/]")
            )
        if warnings:
            parts.append(
                Content.from_markup(
                    f" [$warning]{warnings} warning{'s' if warnings > 1 else ''}[/]"
                )
            )
        self.query_one("#editor-title", Static).update(Content("").join(parts))

    # -- problems list and find bar ------------------------------------------------

    def _on_diagnostics_list_chosen(self, event: DiagnosticsList.Chosen) -> None:
        event.stop()
        if event.diagnostic.line is not None:
            self.goto_line(event.diagnostic.line)

    def _on_find_bar_search(self, event: FindBar.Search) -> None:
        event.stop()
        area, bar = self.text_area, self.query_one(FindBar)
        text, document = area.text, area.document
        start, end = sorted(area.selection)
        if event.step == 0:  # typing: extend the match where it is
            offset, backwards = document.get_index_from_location(start), False
        elif event.step > 0:
            offset, backwards = document.get_index_from_location(end), False
        else:
            offset, backwards = document.get_index_from_location(start), True
        found = find_match(text, event.query, offset, backwards)
        if found is None:
            bar.show_count(0, 0)
            return
        first = document.get_location_from_index(found)
        last = document.get_location_from_index(found + len(event.query))
        area.selection = Selection(first, last)
        area.scroll_cursor_visible(center=True)
        bar.show_count(*count_matches(text, event.query, found))

    def _on_find_bar_closed(self, event: FindBar.Closed) -> None:
        event.stop()
        self.text_area.focus()

    def _app_theme_changed(self, theme: Theme) -> None:
        self.text_area.apply_app_theme(theme)
