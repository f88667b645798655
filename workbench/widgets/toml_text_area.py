"""The editor's text area: TOML highlighting in the app theme's colours, problem marks.

Highlighting needs tree-sitter and its TOML grammar (project dependencies); without them
the text area is plain text and everything else works. Syntax colours come from the app
theme's ``syntax-*`` variables (see ``themes/``), or are derived from its main colours for
themes without them, and follow theme switches.
"""

from __future__ import annotations

from importlib.util import find_spec
from typing import TYPE_CHECKING, Literal

from rich.segment import Segment
from rich.style import Style
from textual.document._wrapped_document import WrappedDocument
from textual.geometry import Offset
from textual.strip import Strip
from textual.widgets import TextArea

if TYPE_CHECKING:
    from textual.theme import Theme
    from textual.widgets.text_area import TextAreaTheme

__all__ = ["TomlTextArea", "editor_theme", "highlighting_available"]

Severity = Literal["error", "warning"]

# tree-sitter capture names of Textual's toml.scm -> our theme variable and text style.
_CAPTURES = {
    "toml.type": ("syntax-table", "bold"),
    "property": ("syntax-key", ""),
    "string": ("syntax-string", ""),
    "number": ("syntax-number", ""),
    "float": ("syntax-number", ""),
    "toml.datetime": ("syntax-number", ""),
    "boolean": ("syntax-boolean", ""),
    "comment": ("syntax-comment", "italic"),
    "punctuation.delimiter": ("syntax-punctuation", ""),
    "punctuation.bracket": ("syntax-punctuation", ""),
    "operator": ("syntax-punctuation", ""),
    "toml.error": ("syntax-error", "underline"),
}
# For themes without syntax-* variables: Textual's derived text colours.
_FALLBACKS = {
    "syntax-table": "text-primary",
    "syntax-key": "text-primary",
    "syntax-string": "text-success",
    "syntax-number": "text-warning",
    "syntax-boolean": "text-accent",
    "syntax-comment": "text-muted",
    "syntax-punctuation": "foreground-muted",
    "syntax-error": "text-error",
}


# Textual's bundled toml.scm captures a whole `key = value` pair as a property, and a pair
# includes its trailing comment; which of the two overlapping colours wins then depends on
# the document. Here only keys are captured, so captures do not overlap.
_HIGHLIGHTS = """
(table [(bare_key) (quoted_key) (dotted_key)] @toml.type)
(table_array_element [(bare_key) (quoted_key) (dotted_key)] @toml.type)
(pair [(bare_key) (quoted_key) (dotted_key)] @property)
(boolean) @boolean
(comment) @comment
(string) @string
(integer) @number
(float) @float
(offset_date_time) @toml.datetime
(local_date_time) @toml.datetime
(local_date) @toml.datetime
(local_time) @toml.datetime
(array ["[" "]" ","] @punctuation.bracket)
(inline_table ["{" "}" ","] @punctuation.bracket)
(table ["[" "]"] @punctuation.bracket)
(table_array_element ["[[" "]]"] @punctuation.bracket)
"=" @operator
(ERROR) @toml.error
"""


class _WindowedHighlights:
    """Highlights computed per window of lines, when a line is first drawn.

    Textual rebuilds the highlights of the *whole* document after every edit (a query
    over the full syntax tree: ~10 ms for 2,000 lines, on every keystroke). The text area
    only reads the lines it draws, so this answers those from a query over their window.
    It stands in for the text area's ``line -> highlights`` mapping.
    """

    WINDOW = 64

    def __init__(self, document: object, query: object) -> None:
        self._document = document
        self._query = query
        self._lines: dict[int, list[tuple[int, int | None, str]]] = {}
        self._windows: set[int] = set()

    def __bool__(self) -> bool:
        return self._query is not None

    def __getitem__(self, line_index: int) -> list[tuple[int, int | None, str]]:
        window = line_index // self.WINDOW
        if window not in self._windows:
            self._windows.add(window)
            self._compute(window * self.WINDOW, (window + 1) * self.WINDOW)
        return self._lines.get(line_index, [])

    def clear(self) -> None:
        self._lines.clear()
        self._windows.clear()

    def _compute(self, first: int, end: int) -> None:
        captures = self._document.query_syntax_tree(  # type: ignore[attr-defined]
            self._query, (first, 0), (end, 0)
        )
        lines = self._lines
        for name, nodes in captures.items():
            for node in nodes:
                (start_row, start_column), (end_row, end_column) = node.start_point, node.end_point
                for row in range(max(start_row, first), min(end_row, end - 1) + 1):
                    lines.setdefault(row, []).append(
                        (
                            start_column if row == start_row else 0,
                            end_column if row == end_row else None,
                            name,
                        )
                    )


_WRAPPED_DOCUMENT = WrappedDocument


class _CountedWrappedDocument(WrappedDocument):
    """``height`` in O(1): Textual sums every line's wrap offsets each time it is asked,
    and asks for every line drawn (37 sums of 2,000 items per frame in a 2,000-line file).
    One entry of ``_offset_to_line_info`` exists per visual row, so its length is the
    height."""

    @property
    def height(self) -> int:
        return len(self._offset_to_line_info)


def highlighting_available() -> bool:
    """Whether tree-sitter and its TOML grammar are installed."""
    return find_spec("tree_sitter") is not None and find_spec("tree_sitter_toml") is not None


def _palette(theme: Theme) -> dict[str, str]:
    """Every variable of ``theme`` resolved to an opaque hex colour over its surface."""
    from textual.color import Color

    from workbench.theme_contrast import resolve_color

    variables = {**theme.to_color_system().generate(), **theme.variables}
    surface = resolve_color(
        variables["surface"], resolve_color(variables["background"], Color(0, 0, 0))
    )
    resolved = {"surface": surface.hex6}
    for name in (*_FALLBACKS, "error", "warning", "text-muted"):
        value = variables.get(name) or variables.get(_FALLBACKS.get(name, ""), "auto")
        try:
            resolved[name] = resolve_color(value, surface).hex6
        except Exception:  # an odd CSS value in a user theme: fall back, never fail
            resolved[name] = resolve_color("auto 87%", surface).hex6
    return resolved


def editor_theme(theme: Theme, name: str) -> TextAreaTheme:
    """A text-area theme with ``theme``'s syntax colours; the rest follows the CSS."""
    from textual.widgets.text_area import TextAreaTheme

    palette = _palette(theme)
    styles = {
        capture: Style.parse(f"{extra} {palette[variable]}".strip())
        for capture, (variable, extra) in _CAPTURES.items()
    }
    return TextAreaTheme(name=name, syntax_styles=styles)


class TomlTextArea(TextArea):
    """A :class:`TextArea` for TOML that marks lines with problems.

    A problem line is tinted and gets a ``●`` (error) or ``▲`` (warning) beside its line
    number; :meth:`set_marks` replaces the marks.
    """

    DEFAULT_CSS = """
    TomlTextArea {
        border: none;
        padding: 0;
        & .text-area--gutter { color: $text-muted; }
    }
    """

    def __init__(self, text: str = "", **kwargs: object) -> None:
        language = "toml" if highlighting_available() else None
        super().__init__(text, language=language, **kwargs)  # type: ignore[arg-type]
        if language is not None:
            self.update_highlight_query(language, _HIGHLIGHTS)
        self._marks: dict[int, Severity] = {}
        self._line_styles: dict[Severity, Style] = {}
        self._gutter_styles: dict[Severity, Style] = {}
        self._theme_turn = 0

    @property
    def marks(self) -> dict[int, Severity]:
        """0-based line index -> severity of the lines marked now."""
        return dict(self._marks)

    def set_marks(self, marks: dict[int, Severity]) -> None:
        """Mark these lines (0-based index -> severity), replacing earlier marks."""
        if marks == self._marks:
            return
        self._marks = dict(marks)
        # Rendered lines are cached without the marks in the key: drop the cache.
        self.notify_style_update()
        self.refresh()

    def apply_app_theme(self, theme: Theme) -> None:
        """Take syntax and mark colours from the app theme (call again when it changes)."""
        from textual.color import Color

        palette = _palette(theme)
        surface = Color.parse(palette["surface"])
        for severity in ("error", "warning"):
            colour = Color.parse(palette[severity])
            self._line_styles[severity] = Style(bgcolor=surface.blend(colour, 0.22).hex6)
            self._gutter_styles[severity] = Style(color=colour.hex6, bold=True)
        # A text area only re-applies its theme when the *name* changes, and a hot-reloaded
        # theme keeps its name: alternate between two names.
        self._theme_turn ^= 1
        name = f"perstack-editor-{self._theme_turn}"
        self.register_theme(editor_theme(theme, name))
        self.theme = name
        self.notify_style_update()
        self.refresh()

    # -- speed on large files: both overrides fall back to Textual's own behaviour when its
    # -- internals are not what they were written against (tests cover both paths' output).

    def _build_highlight_map(self) -> None:
        query = getattr(self, "_highlight_query", None)
        cache = getattr(self, "_line_cache", None)
        if cache is None or not hasattr(self, "_highlights"):
            super()._build_highlight_map()
            return
        cache.clear()
        self._highlights = _WindowedHighlights(self.document, query)

    def _set_document(self, text: str, language: str | None) -> None:
        super()._set_document(text, language)
        wrapped = getattr(self, "wrapped_document", None)
        if type(wrapped) is _WRAPPED_DOCUMENT and hasattr(wrapped, "_offset_to_line_info"):
            wrapped.__class__ = _CountedWrappedDocument

    def get_line(self, line_index: int):  # noqa: ANN201 (rich Text, as the base class)
        line = super().get_line(line_index)
        severity = self._marks.get(line_index)
        if severity is not None and severity in self._line_styles:
            line.stylize(self._line_styles[severity])
        return line

    def render_line(self, y: int) -> Strip:
        strip = super().render_line(y)
        if not self._marks or not self.show_line_numbers:
            return strip
        row = self.scroll_offset.y + y
        if not self.soft_wrap:
            line_index = row
        elif row < self.wrapped_document.height:
            line_index = self.wrapped_document.offset_to_location(Offset(0, row))[0]
        else:
            return strip
        severity = self._marks.get(line_index)
        gutter = self.gutter_width
        if severity is None or gutter < 3 or severity not in self._gutter_styles:
            return strip
        # The gutter is "<number>  ": the mark takes the first of the two margin cells.
        at = gutter - 2
        cell = strip.crop(at, at + 1)
        base = next(iter(cell), Segment(" ")).style or Style()
        mark = Segment("●" if severity == "error" else "▲", base + self._gutter_styles[severity])
        return Strip.join([strip.crop(0, at), Strip([mark], 1), strip.crop(at + 1)])
