"""How figures and statuses read on screen: tokens, durations, one-line text, glyphs.

Pure functions, no Textual: the widgets, the help text and the tests share them.
"""

from __future__ import annotations

__all__ = [
    "STATUS_GLYPHS",
    "KIND_GLYPHS",
    "NODE_STATUS_TEXT",
    "format_tokens",
    "format_duration",
    "one_line",
    "fit",
    "progress_bar",
]

#: Row and node statuses -> a one-cell glyph.
STATUS_GLYPHS = {
    "running": "●",
    "streaming": "…",
    "waiting": "?",
    "done": "✓",
    "completed": "✓",
    "error": "✗",
    "stopped": "■",
    "delegating": "◆",
    "maxSteps": "■",
}
#: Row kinds -> a one-cell glyph before the label.
KIND_GLYPHS = {
    "query": "▸",
    "reasoning": "∴",
    "tool": "·",
    "delegate": "→",
    "interactive": "?",
    "completion": "✓",
    "retry": "↻",
    "error": "✗",
    "stop": "■",
}
#: Node statuses as words (the tree and the header).
NODE_STATUS_TEXT = {
    "running": "running",
    "delegating": "delegating",
    "waiting": "waiting for an answer",
    "completed": "completed",
    "error": "error",
    "maxSteps": "step limit",
    "stopped": "stopped",
}


def format_tokens(tokens: int | None) -> str:
    """``950``, ``1.2k``, ``34k``, ``1.5M``; empty for ``None``/0."""
    if not tokens:
        return ""
    if tokens < 1_000:
        return str(tokens)
    if tokens < 10_000:
        return f"{tokens / 1_000:.1f}k"
    if tokens < 1_000_000:
        return f"{tokens // 1_000}k"
    return f"{tokens / 1_000_000:.1f}M"


def format_duration(ms: int | None) -> str:
    """``0.3s``, ``12s``, ``1m05s``, ``2h03m``; empty for ``None``."""
    if ms is None:
        return ""
    seconds = ms / 1000
    if seconds < 10:
        return f"{seconds:.1f}s"
    if seconds < 60:
        return f"{int(seconds)}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def one_line(text: str) -> str:
    """``text`` with every run of whitespace (newlines included) as one space."""
    return " ".join(text.split())


def fit(text: str, width: int, *, tail: bool = False) -> str:
    """``text`` cut to ``width`` cells with ``…``; ``tail`` keeps the end instead."""
    if width <= 0:
        return ""
    if len(text) <= width:
        return text
    if tail:
        return "…" + text[len(text) - width + 1 :]
    return text[: width - 1] + "…"


#: Eighths of a cell, for a smooth bar.
_EIGHTHS = " ▏▎▍▌▋▊▉"


def progress_bar(fraction: float | None, width: int) -> str:
    """A bar ``width`` cells wide, filled to ``fraction`` (0..1) in eighths of a cell on a
    shaded track; with no fraction (the total is unknown), a dotted track."""
    if width <= 0:
        return ""
    if fraction is None:
        return "·" * width
    eighths = round(max(0.0, min(1.0, fraction)) * width * 8)
    full, part = divmod(eighths, 8)
    bar = "█" * full + (_EIGHTHS[part] if part and full < width else "")
    return bar + "░" * (width - len(bar))
