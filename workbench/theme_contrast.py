"""Is a theme readable? WCAG contrast of its text colours on each pane's background.

Textual derives most colours from a theme's few (``$text`` is ``auto 87%``: white or
black at 87 % over whatever is behind it). :func:`readability_problems` resolves the
variables the way Textual's CSS does and checks every pairing the workbench draws:
body text needs a ratio of 4.5 (WCAG AA), muted text, status colours and line numbers 3.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from textual.color import Color
    from textual.theme import Theme

__all__ = [
    "ContrastCheck",
    "contrast_ratio",
    "readability_checks",
    "readability_problems",
    "resolve_color",
]

BODY_TEXT = 4.5
MUTED_TEXT = 3.0
#: The backgrounds of the workbench's panes: screen, widgets (editor, lists), side panels.
PANE_BACKGROUNDS = ("background", "surface", "panel")
#: Text drawn on every pane.
_BODY = ("foreground", "text")
_MUTED = (
    "text-muted",
    "foreground-muted",
    "text-primary",
    "text-error",
    "text-warning",
    "text-success",
    "error",
    "warning",
    "success",
)
#: Editor text: on the editor's background ($surface).
_SYNTAX_BODY = (
    "syntax-table",
    "syntax-key",
    "syntax-string",
    "syntax-number",
    "syntax-boolean",
    "syntax-punctuation",
    "syntax-error",
)
_SYNTAX_MUTED = ("syntax-comment",)


@dataclass(frozen=True)
class ContrastCheck:
    """One text colour on one background, with the ratio it has and needs."""

    text: str
    background: str
    ratio: float
    minimum: float

    @property
    def ok(self) -> bool:
        """Whether the ratio meets the minimum."""
        return self.ratio >= self.minimum

    def __str__(self) -> str:
        return (
            f"${self.text} on ${self.background}: contrast {self.ratio:.2f}, needs {self.minimum:g}"
        )


def _luminance(color: Color) -> float:
    def channel(value: int) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = color.rgb
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def contrast_ratio(first: Color, second: Color) -> float:
    """The WCAG 2 contrast ratio of two opaque colours (1 to 21)."""
    light, dark = sorted((_luminance(first), _luminance(second)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def resolve_color(value: str, behind: Color) -> Color:
    """The opaque colour a Textual colour value shows over ``behind``.

    Handles ``auto`` (contrasting white or black), alpha in the hex code, and a trailing
    percentage (``"#E0E0E0 60%"``, ``"auto 87%"``), as Textual's CSS does.
    """
    from textual.color import Color

    text = value.strip()
    alpha = 1.0
    head, _, tail = text.rpartition(" ")
    if head and tail.endswith("%"):
        text, alpha = head.strip(), float(tail[:-1]) / 100
    if text == "auto":
        color = behind.get_contrast_text(alpha)
    else:
        color = Color.parse(text)
        color = color.with_alpha(color.a * alpha)
    return (behind + color).with_alpha(1.0)


def readability_checks(theme: Theme) -> list[ContrastCheck]:
    """Every text/background pairing the workbench draws with ``theme``."""
    from textual.color import Color

    variables = {**theme.to_color_system().generate(), **theme.variables}
    # The screen's own background is opaque; panes may tint it, so resolve them over it.
    screen = resolve_color(variables["background"], Color(0, 0, 0))
    checks: list[ContrastCheck] = []
    for pane in PANE_BACKGROUNDS:
        behind = resolve_color(variables[pane], screen)
        for names, minimum in ((_BODY, BODY_TEXT), (_MUTED, MUTED_TEXT)):
            for name in names:
                if name in variables:
                    shown = resolve_color(variables[name], behind)
                    checks.append(ContrastCheck(name, pane, contrast_ratio(shown, behind), minimum))
    editor = resolve_color(variables["surface"], screen)
    for names, minimum in ((_SYNTAX_BODY, BODY_TEXT), (_SYNTAX_MUTED, MUTED_TEXT)):
        for name in names:
            if name in variables:
                shown = resolve_color(variables[name], editor)
                checks.append(
                    ContrastCheck(name, "surface", contrast_ratio(shown, editor), minimum)
                )
    return checks


def readability_problems(theme: Theme) -> list[str]:
    """The pairings of ``theme`` below their minimum contrast, one line each."""
    return [str(check) for check in readability_checks(theme) if not check.ok]
