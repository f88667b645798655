"""A banner over the timeline for what stops runs before they start.

A missing API key, problems in ``perstack.toml``, a broken provider script: the
workbench opens anyway and says here what to fix.
"""

from __future__ import annotations

from textual.widgets import Static

__all__ = ["Notice"]


class Notice(Static):
    """Hidden until :meth:`show_problem`; ``-error`` or ``-warning`` sets its colour."""

    DEFAULT_CSS = """
    Notice {
        display: none;
        height: auto;
        max-height: 8;
        padding: 0 1;
        border-left: outer $warning;
        background: $warning 15%;
        &.-error { border-left: outer $error; background: $error 15%; }
        &.-shown { display: block; }
    }
    """

    def show_problem(self, title: str, lines: list[str], *, error: bool = False) -> None:
        """Show ``title`` and the lines under it."""
        from rich.text import Text

        text = Text(title, style="bold")
        for line in lines:
            text.append("\n" + line)
        self.update(text)
        self.set_class(error, "-error")
        self.add_class("-shown")

    def hide(self) -> None:
        """Remove the banner."""
        self.remove_class("-shown")
