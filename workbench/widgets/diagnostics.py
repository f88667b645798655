"""Problems in the ``perstack.toml`` being edited: parsed from the runtime's own messages,
and listed in a widget where choosing one moves the editor there.

The messages are exactly those ``perstack run`` prints (``<file>:<line>: <path>:
<message>``), so the editor and the command line never disagree.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from textual.message import Message
from textual.widgets import OptionList
from textual.widgets.option_list import Option

__all__ = ["Diagnostic", "DiagnosticsList", "parse_problem", "validate_text"]

Severity = Literal["error", "warning"]
_LOCATED = re.compile(r"^(?P<file>.*?):(?P<line>\d+): (?P<message>.*)$", re.DOTALL)


@dataclass(frozen=True)
class Diagnostic:
    """One problem of the buffer.

    Attributes:
        line: 1-based line number, None when the message names none.
        message: The message without ``<file>:<line>:``, e.g.
            ``experts.writer.instruction: required field is missing``.
        severity: ``error`` (the file will not load) or ``warning`` (accepted, ignored).
        text: The whole line as ``perstack run`` prints it.
    """

    line: int | None
    message: str
    severity: Severity
    text: str


def parse_problem(text: str, label: str | None = None, severity: Severity = "error") -> Diagnostic:
    """Split a ``ConfigError`` problem line into its line number and message.

    Args:
        text: ``<file>:<line>: <message>``.
        label: The file as the line names it; when given it is stripped exactly (a path
            may itself contain ``:<digits>:``).
        severity: What the line is.
    """
    if label is not None and text.startswith(f"{label}:"):
        head, _, message = text[len(label) + 1 :].partition(": ")
        if head.isdigit():
            return Diagnostic(int(head), message, severity, text)
    match = _LOCATED.match(text)
    if match is None:
        return Diagnostic(None, text, severity, text)
    return Diagnostic(int(match["line"]), match["message"], severity, text)


def validate_text(text: str, path: Path) -> list[Diagnostic]:
    """Validate a buffer with the runtime's loader; never raises.

    Returns:
        The errors when the text does not load, else the loader's warnings (both in file
        order). Empty for a valid file without warnings.
    """
    from runtime.config import parse_config_text
    from runtime.errors import ConfigError, PerstackError

    label = str(path)
    try:
        config = parse_config_text(text, path)
    except ConfigError as error:
        return [parse_problem(line, label) for line in error.problems]
    except PerstackError as error:
        return [parse_problem(str(error), label)]
    except Exception as error:  # a loader bug must not take the editor down with it
        return [Diagnostic(None, f"cannot validate: {error!r}", "error", repr(error))]
    return [parse_problem(line, label, "warning") for line in config.warnings]


class DiagnosticsList(OptionList):
    """The buffer's problems, one per row: line number, severity mark, message.

    Choosing a row (Enter or a click) posts :class:`DiagnosticsList.Chosen`.
    """

    DEFAULT_CSS = """
    DiagnosticsList {
        height: auto;
        max-height: 7;
        border: none;
        border-top: solid $panel-lighten-1;
        padding: 0;
        background: $surface;
    }
    """

    class Chosen(Message):
        """The user chose a problem; the editor moves its cursor to it."""

        def __init__(self, diagnostic: Diagnostic) -> None:
            super().__init__()
            self.diagnostic = diagnostic

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.diagnostics: list[Diagnostic] = []
        self.set_diagnostics([])

    def set_diagnostics(self, diagnostics: list[Diagnostic]) -> None:
        """Show these problems (a "no problems" row when empty)."""
        from textual.content import Content

        self.diagnostics = list(diagnostics)
        if not diagnostics:
            self.set_options(
                [Option(Content.from_markup("[$success]✓[/] No problems"), disabled=True)]
            )
            return
        options = []
        for index, diagnostic in enumerate(diagnostics):
            colour = "$error" if diagnostic.severity == "error" else "$warning"
            mark = "●" if diagnostic.severity == "error" else "▲"
            where = f"{diagnostic.line:>4}" if diagnostic.line is not None else "   -"
            prompt = Content.from_markup(
                f"[$text-muted]$where[/] [{colour}]$mark[/] $message",
                where=where,
                mark=mark,
                message=diagnostic.message,
            )
            options.append(Option(prompt, id=f"problem-{index}"))
        self.set_options(options)

    def _on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        option_id = event.option.id
        if option_id is not None and option_id.startswith("problem-"):
            self.post_message(self.Chosen(self.diagnostics[int(option_id[8:])]))
