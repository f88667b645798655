"""The job's final answer under the timeline, in full: wrapped, scrollable, as Markdown.

The timeline gives the answer one line; this panel shows all of it once the job's
coordinator has answered (a live run that completed, or a stored job put on screen), and
hides while a run is in progress (the stream panel shows the text growing then) or when
the job on screen has no answer (a new job, a run stopped by an error or a question).

The text is a model's: it is rendered as Markdown by Textual's own widget, which turns
it into styled text without ever reading it as markup, and a link in it opens only when
clicked and only if it is ``http(s)``. Single line breaks are kept (models write lists
and addresses line by line), unlike strict Markdown which would join the lines.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll

from workbench.widgets.splitter import Splitter

if TYPE_CHECKING:
    from textual.widgets import Markdown

    from runtime.views.activity import ActivityRow

__all__ = ["AnswerPanel"]


class AnswerPanel(VerticalScroll):
    """The final answer of the job on screen (its CSS id is ``answer``).

    Its first line is a :class:`~workbench.widgets.splitter.Splitter` with the title: it
    stays in place while the text scrolls, and dragging it resizes the panel.
    """

    DEFAULT_CSS = """
    AnswerPanel {
        display: none;
        height: auto;
        max-height: 40%;
        background: $surface;
        scrollbar-size-vertical: 1;
        &.-shown { display: block; }
        & > #answer-split { dock: top; }
        & > Markdown { margin: 0; padding: 0 1; background: $surface; }
        & > Markdown > *:first-child { margin-top: 0; }
        & > Markdown > *:last-child { margin-bottom: 0; }
        &:focus > #answer-split { background: $primary 35%; color: $text; }
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("j", "scroll_down", show=False),
        Binding("k", "scroll_up", show=False),
    ]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        #: The answer row shown, and the version of it (``None``: nothing shown).
        self.shown: tuple[int, int] | None = None
        self.markdown: Markdown | None = None
        self.splitter = Splitter("horizontal", id="answer-split")

    def compose(self) -> Any:
        yield self.splitter

    @property
    def text(self) -> str:
        """The answer's Markdown source as shown (empty when hidden)."""
        return self.markdown.source if self.markdown is not None and self.shown else ""

    def show_answer(self, row: ActivityRow | None, running: bool) -> bool:
        """Show ``row``'s text (the job's final answer), or hide when there is none or a
        run is in progress. Returns whether the panel is shown."""
        if running or row is None:
            if self.shown is not None:
                self.shown = None
                self.remove_class("-shown")
            return False
        key = (row.index, row.version)
        if key != self.shown:
            self.shown = key
            self.splitter.set_title(f"✓ Final answer · {row.expert_key} · step {row.step}")
            self._render_text(row.text)
            self.scroll_home(animate=False)
            self.add_class("-shown")
        return True

    def _render_text(self, text: str) -> None:
        if self.markdown is None:
            # Imported on the first answer: Markdown and its parser cost ~60 ms to import,
            # which the first screen does not need.
            from textual.widgets import Markdown

            self.markdown = Markdown(text, parser_factory=_parser, open_links=False)
            self.mount(self.markdown)
        else:
            self.markdown.update(text)

    def on_markdown_link_clicked(self, event: Markdown.LinkClicked) -> None:
        event.stop()
        if event.href.startswith(("https://", "http://")):
            self.app.open_url(event.href)
        else:
            self.notify(f"Not opened: {event.href}", severity="warning", markup=False)


def _parser() -> Any:
    """Markdown as chat models write it: GitHub's flavour, every line break kept, bare
    ``http(s)://`` addresses linked."""
    from markdown_it import MarkdownIt

    parser = MarkdownIt("gfm-like")
    if parser.linkify is not None:
        # Only addresses with a scheme become links: "itinerary.md" is a file, not a site.
        parser.linkify.set({"fuzzy_link": False})

    def hard_breaks(state: Any) -> None:
        for token in state.tokens:
            for child in token.children or ():
                if child.type == "softbreak":
                    child.type = "hardbreak"

    parser.core.ruler.push("hard_breaks", hard_breaks)
    return parser
