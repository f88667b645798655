"""The step timeline: one line per activity row, rendered virtually.

A :class:`~textual.scroll_view.ScrollView` on the Line API: only the lines on screen are
rendered, each from its :class:`~runtime.views.activity.ActivityRow`, so a 10,000-row job costs
what 30 rows cost. The first line is a sticky column header. Finished rows are cached
per (row, version, width, cursor); open rows (their duration ticks) are not.
"""

from __future__ import annotations

import textwrap
from typing import TYPE_CHECKING, Any, ClassVar, NamedTuple

from rich.segment import Segment
from rich.style import Style
from textual.binding import Binding, BindingType
from textual.cache import LRUCache
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from runtime.views.cost import format_cost
from runtime.views.skill_rows import progress_text
from workbench.formatting import (
    KIND_GLYPHS,
    STATUS_GLYPHS,
    fit,
    format_duration,
    format_tokens,
    one_line,
    progress_bar,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from textual import events

    from runtime.views.activity import ActivityRow
    from runtime.views.replay_rows import ReplayRows
    from workbench.jobview import JobView

__all__ = ["Timeline", "Columns", "columns_for"]


_FILTERED_OUT = "No step matches the filter. Press c outside a text field to clear it."


class Columns(NamedTuple):
    """Cell widths of the timeline's columns (``label`` takes what is left)."""

    step: int
    expert: int
    label: int
    status: int
    tokens: int
    cost: int
    time: int


def columns_for(width: int) -> Columns:
    """The column widths for a timeline ``width`` cells wide."""
    expert = 16 if width >= 90 else 12 if width >= 60 else 9
    step, status, tokens, cost, time = 4, 1, 6, 8, 6
    fixed = step + expert + status + tokens + cost + time + 6  # one space between columns
    return Columns(step, expert, max(8, width - fixed), status, tokens, cost, time)


class Timeline(ScrollView, can_focus=True):
    """The rows of a :class:`~workbench.jobview.JobView` that pass its filter."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up,k", "cursor_up", "Up", show=False),
        Binding("down,j", "cursor_down", "Down", show=False),
        Binding("pageup", "page_up", "Page up", show=False),
        Binding("pagedown", "page_down", "Page down", show=False),
        Binding("home", "first", "First", show=False),
        Binding("end", "last", "Last (follow)", show=False),
        Binding("enter", "select", "Details"),
    ]

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "timeline--header",
        "timeline--cursor",
        "timeline--muted",
        "timeline--expert",
        "timeline--running",
        "timeline--done",
        "timeline--error",
        "timeline--waiting",
        "timeline--reasoning",
        "timeline--query",
        "timeline--empty",
        "timeline--progress",
    }

    DEFAULT_CSS = """
    Timeline {
        background: $surface;
        color: $foreground;
        overflow-x: hidden;
        overflow-y: auto;
        & > .timeline--header { background: $panel; color: $text-muted; text-style: bold; }
        & > .timeline--cursor { background: $block-cursor-blurred-background; }
        &:focus > .timeline--cursor {
            background: $block-cursor-background;
            color: $block-cursor-foreground;
            text-style: $block-cursor-text-style;
        }
        & > .timeline--muted { color: $text-muted; }
        & > .timeline--expert { color: $accent; }
        & > .timeline--running { color: $warning; }
        & > .timeline--done { color: $success; }
        & > .timeline--error { color: $error; }
        & > .timeline--waiting { color: $warning; text-style: bold; }
        & > .timeline--reasoning { color: $text-muted; text-style: italic; }
        & > .timeline--query { color: $primary; text-style: bold; }
        & > .timeline--empty { color: $text-muted; text-style: italic; }
        & > .timeline--progress { color: $accent; background: $boost; }
    }
    """

    empty_text: reactive[str] = reactive("No steps yet: type a query below and press Enter.")
    """What shows while there is no row."""

    cursor: reactive[int] = reactive(-1, init=False, repaint=False)
    """Position of the highlighted row among the shown rows (-1: none)."""

    class Highlighted(Message):
        """The cursor moved to a row."""

        def __init__(self, row: ActivityRow) -> None:
            super().__init__()
            self.row = row

    class Selected(Message):
        """A row was chosen (Enter, or a click on the highlighted row)."""

        def __init__(self, row: ActivityRow) -> None:
            super().__init__()
            self.row = row

    def __init__(
        self,
        view: JobView,
        *,
        clock: Callable[[], int],
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.view = view
        self.clock = clock
        #: Keep the last row in view as rows arrive (off when the user moves up).
        self.follow = True
        #: The rows drawn instead of the view's while replaying (a
        #: :class:`~runtime.views.replay_rows.ReplayRows`), and the time they are drawn at.
        self.replay: ReplayRows | None = None
        self._replay_clock: Callable[[], int] | None = None
        self._cache: LRUCache[tuple[int, int, int, bool], Strip] = LRUCache(2048)

    # --- data -------------------------------------------------------------------------

    @property
    def shown(self) -> Any:
        """The rows drawn: those of the view that pass its filter, or the replay's."""
        return self.view.shown if self.replay is None else self.replay

    @property
    def shown_count(self) -> int:
        """How many rows pass the filter."""
        return len(self.shown)

    @property
    def highlighted(self) -> ActivityRow | None:
        """The row under the cursor (while replaying: the row itself, final)."""
        if 0 <= self.cursor < self.shown_count:
            row = self.shown.row_at(self.cursor)
            return row if self.replay is None else row.row
        return None

    def show_replay(self, rows: ReplayRows | None, clock: Callable[[], int] | None = None) -> None:
        """Draw ``rows`` (a replay's, as of its cursor, timed by ``clock``) instead of the
        view's; ``None``: the view's again."""
        self.replay = rows
        self._replay_clock = clock
        self._cache.clear()
        self.follow = True
        self.rows_changed(shown_changed=True)

    def replay_moved(self) -> None:
        """The replay's cursor moved: the rows shown and their states changed."""
        count = self.shown_count
        self._set_virtual_height(count + 1)
        self.follow = True
        if count:
            self._move(count - 1)
        else:
            self.cursor = -1
        self.refresh()

    def set_view(self, view: JobView) -> None:
        """Show another job."""
        self.view = view
        self.cursor = -1
        self.follow = True
        self.rows_changed(shown_changed=True)

    def rows_changed(self, rows: list[ActivityRow] | None = None, *, shown_changed: bool) -> None:
        """Repaint after a batch: the whole list when it changed, else the given rows."""
        count = self.shown_count
        if shown_changed:
            keep = self.highlighted
            self._set_virtual_height(count + 1)
            if self.follow and count:
                self._move(count - 1)
            elif keep is not None:
                position = self.shown.position_of(keep.index)
                self._move(position if position is not None else min(self.cursor, count - 1))
            elif self.cursor >= count or (self.cursor < 0 and count):
                self._move(min(max(self.cursor, 0), count - 1))
            self.refresh()
        elif rows:
            top = int(self.scroll_y)
            for row in rows:
                position = self.shown.position_of(row.index)
                if position is not None and top <= position < top + self.size.height:
                    self._refresh_position(position)

    def _set_virtual_height(self, height: int) -> None:
        # Setting `virtual_size` would lay out the whole screen (it is a layout reactive),
        # after every batch of events; only this widget's scrollbar depends on it.
        size = Size(self.size.width, height)
        if size != self.virtual_size:
            self.set_reactive(Timeline.virtual_size, size)
            self._scroll_update(size)

    def on_resize(self, event: events.Resize) -> None:
        self.virtual_size = Size(event.size.width, self.shown_count + 1)
        self._cache.clear()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._cache.clear()

    # --- cursor -----------------------------------------------------------------------

    def _move(self, position: int) -> None:
        self.cursor = position
        self._scroll_to_cursor()

    def _refresh_position(self, position: int) -> None:
        """Repaint the line of the shown row at ``position``."""
        # ScrollView.refresh_line takes a line of the virtual content, which is a row's
        # position plus one: the sticky header line sits above the first row.
        self.refresh_line(position + 1)

    def watch_cursor(self, old: int, new: int) -> None:
        # Only the two lines change (`cursor` does not repaint the whole widget; scrolling,
        # if any, repaints the rest).
        top = int(self.scroll_y)
        for position in (old, new):
            if top <= position < top + self.size.height:
                self._refresh_position(position)
        row = self.highlighted
        if row is not None and old != new:
            self.post_message(self.Highlighted(row))

    def _scroll_to_cursor(self) -> None:
        if self.cursor < 0:
            return
        visible = max(1, self.size.height - 1)  # below the header line
        top = int(self.scroll_y)
        if self.cursor < top:
            self.scroll_to(y=self.cursor, animate=False, immediate=True)
        elif self.cursor >= top + visible:
            self.scroll_to(y=self.cursor - visible + 1, animate=False, immediate=True)

    def _step(self, delta: int) -> None:
        count = self.shown_count
        if not count:
            return
        position = min(max(self.cursor + delta, 0), count - 1)
        self.follow = position == count - 1
        self._move(position)

    def action_cursor_up(self) -> None:
        self._step(-1)

    def action_cursor_down(self) -> None:
        self._step(1)

    def action_page_up(self) -> None:
        self._step(-max(1, self.size.height - 2))

    def action_page_down(self) -> None:
        self._step(max(1, self.size.height - 2))

    def action_first(self) -> None:
        self._step(-self.shown_count)

    def action_last(self) -> None:
        self._step(self.shown_count)

    def action_select(self) -> None:
        row = self.highlighted
        if row is not None:
            self.post_message(self.Selected(row))

    def on_click(self, event: events.Click) -> None:
        position = int(self.scroll_y) + event.y - 1
        if event.y < 1 or not 0 <= position < self.shown_count:
            return
        if position == self.cursor or event.chain > 1:
            self.cursor = position
            self.action_select()
        else:
            self.follow = False
            self.cursor = position

    # --- rendering --------------------------------------------------------------------

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width  # without the scrollbar
        if y == 0:
            return self._header(width)
        position = int(self.scroll_y) + y - 1
        if position >= self.shown_count:
            if self.shown_count == 0:
                text = self.empty_text if not self.view.rows else _FILTERED_OUT
                lines = textwrap.wrap(text, max(10, width - 2))
                if position < len(lines):
                    style = self.get_component_rich_style("timeline--empty")
                    return Strip([Segment(f" {lines[position]}", style)]).crop_extend(
                        0, width, self.rich_style
                    )
            return Strip.blank(width, self.rich_style)
        row = self.shown.row_at(position)
        selected = position == self.cursor
        if self.replay is not None:  # a row as it was: drawn afresh (30 lines, not 10,000)
            return self._row_strip(row, width, selected)
        key = (row.index, row.version, width, selected)
        if not row.is_open:
            cached = self._cache.get(key)
            if cached is not None:
                return cached
        strip = self._row_strip(row, width, selected)
        if not row.is_open:
            self._cache[key] = strip
        return strip

    def _header(self, width: int) -> Strip:
        c = columns_for(width)
        text = (
            f"{'step':>{c.step}} {'expert':<{c.expert}} {'what happened':<{c.label}} "
            f"{'':<{c.status}} {'tokens':>{c.tokens}} {'cost':>{c.cost}} {'time':>{c.time}}"
        )
        style = self.get_component_rich_style("timeline--header")
        return Strip([Segment(text, style)]).crop_extend(0, width, style)

    def _row_strip(self, row: ActivityRow, width: int, selected: bool) -> Strip:
        c = columns_for(width)
        base = self.rich_style
        component = self.get_component_rich_style
        muted = component("timeline--muted")
        status_style = component(f"timeline--{_status_class(row.status)}")
        label_style = base
        if row.kind == "reasoning":
            label_style = component("timeline--reasoning")
        elif row.kind == "query":
            label_style = component("timeline--query")
        elif row.kind in ("error", "retry", "stop") or row.status == "error":
            label_style = component("timeline--error")
        expert = _fit_actor(_indent(row.depth), row.actor, c.expert)
        label = _label(row)
        glyph = KIND_GLYPHS.get(row.kind, " ")
        duration = row.duration_ms((self._replay_clock or self.clock)())
        label_cells = self._label_cells(row, label, c.label - 2, label_style)
        cells = [
            (f"{row.step:>{c.step}} ", muted),
            (f"{expert:<{c.expert}} ", component("timeline--expert")),
            (f"{glyph} ", status_style if row.kind != "tool" else muted),
            *label_cells,
            (" ", label_style),
            (f"{STATUS_GLYPHS.get(row.status, ' '):<{c.status}} ", status_style),
            (f"{format_tokens(row.tokens):>{c.tokens}} ", muted),
            (f"{format_cost(row.cost) if row.tokens else '':>{c.cost}} ", muted),
            (f"{format_duration(duration):>{c.time}}", muted),
        ]
        fill = base
        if selected:
            # The cursor's background under every cell; its colours on the label only, so
            # status and kind keep their colours on the highlighted line.
            cursor = component("timeline--cursor")
            background = Style(bgcolor=cursor.bgcolor)
            fill = base + background
            label_end = 3 + len(label_cells)
            bar = self.get_component_rich_style("timeline--progress")
            cells = [
                # A progress bar keeps its own colours on the highlighted line.
                (text, style + (cursor if 3 <= index < label_end and style != bar else background))
                for index, (text, style) in enumerate(cells)
            ]
        return Strip([Segment(text, style) for text, style in cells]).crop_extend(0, width, fill)

    def _label_cells(
        self, row: ActivityRow, label: str, width: int, style: Style
    ) -> list[tuple[str, Style]]:
        """The label; while a tool call runs with progress reported, the tool's name, a bar
        and the server's message: ``survey_shore ███▍    2/4 measuring depth…``."""
        progress = row.progress if row.is_open else None
        bar_width = 10 if width >= 50 else 5
        said = progress_text(progress) if progress is not None else ""
        # The bar and the count ("2/4") come first; the tool's name gets what is left.
        name_room = min(24, width // 2, width - bar_width - 2 - min(len(said), 4))
        if progress is None or name_room < 4:
            return [(f"{fit(label, width, tail=row.status == 'streaming'):<{width}}", style)]
        name = fit(row.tool_name or label, name_room)
        rest = width - len(name) - bar_width - 2
        text = fit(said, rest)
        bar_style = self.get_component_rich_style("timeline--progress")
        return [
            (f"{name} ", style),
            (progress_bar(progress.fraction, bar_width), bar_style),
            (f" {text:<{rest}}", style),
        ]


def _indent(depth: int) -> str:
    """Delegates hang under their parent: ``└ researcher``, ``  └ nested``."""
    if depth <= 0:
        return ""
    return "  " * (min(depth, 4) - 1) + "└ "


def _status_class(status: str) -> str:
    if status in ("running", "streaming"):
        return "running"
    if status == "waiting":
        return "waiting"
    if status == "error":
        return "error"
    if status == "stopped":
        return "muted"
    return "done"


def _label(row: ActivityRow) -> str:
    if row.kind in ("reasoning", "completion"):
        text = one_line(row.text)
        if not text and row.status == "streaming":
            return "…"
        return text
    return one_line(row.label)


def _fit_actor(indent: str, actor: str, width: int) -> str:
    """The Expert column: cut like any cell, but a parallel run keeps its number
    (``└ resear… #2``), which tells it from its siblings."""
    name, mark, number = actor.rpartition(" #")
    if len(indent) + len(actor) <= width or not mark or not number.isdigit():
        return fit(indent + actor, width)
    suffix = f"… #{number}"
    return (indent + name)[: max(0, width - len(suffix))] + suffix
