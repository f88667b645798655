"""Replay's checkpoint panel: what the Expert acting at the cursor held then.

Its latest checkpoint (the end of its last step, or what its run started from), read
whole from storage by :meth:`runtime.views.replay.JobReplay.checkpoint_at`: the usage,
the todo list, the tool calls still waiting for results at the cursor, and the messages
(the last :data:`MESSAGES_SHOWN` of them; a long job's history is thousands).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual.containers import VerticalScroll
from textual.widgets import Static

from runtime.views._row_text import short_args
from workbench.detail_text import messages_text
from workbench.formatting import format_tokens

if TYPE_CHECKING:
    from textual.app import ComposeResult

    from runtime.views.replay import CheckpointAt

__all__ = ["CheckpointPanel", "checkpoint_text", "MESSAGES_SHOWN"]

#: Messages shown, newest last (the earlier ones are counted).
MESSAGES_SHOWN = 12


def checkpoint_text(held: CheckpointAt | None, actor: str = "") -> str:
    """The panel's text for ``held`` (``None``: nothing held yet, or no storage)."""
    if held is None:
        return "Nothing held yet: the Expert at the cursor has no checkpoint (or the job\nwas read without its storage)."
    checkpoint = held.checkpoint
    usage = held.usage
    where = (
        f"end of step {checkpoint.step_number} · fork point (f: re-run from here)"
        if held.stored
        else f"its run's start (step {checkpoint.step_number}); a fork needs a step's end"
    )
    lines = [
        f"{actor or checkpoint.expert.key} · checkpoint {checkpoint.id} · {where}",
        f"status: {checkpoint.status} · usage: {format_tokens(usage.input_tokens) or 0} in · "
        f"{format_tokens(usage.output_tokens) or 0} out · {format_tokens(usage.total_tokens) or 0} total",
    ]
    todos = held.todos
    lines.append("todo list: " + ("(empty)" if not todos else ""))
    for todo in todos:
        lines.append(f" · {_todo_line(todo)}")
    calls = held.pending_tool_calls
    lines.append("waiting for: " + ("nothing" if not calls else ""))
    for call in calls:
        lines.append(f" · {call.tool_name} {short_args(call.args, 60)}".rstrip())
    messages = held.messages
    shown = messages[-MESSAGES_SHOWN:]
    earlier = len(messages) - len(shown)
    lines.append("")
    lines.append(
        f"messages: {len(messages)}" + (f" (the last {len(shown)} below)" if earlier else "")
    )
    dumped = [_folded(m.model_dump(mode="json", by_alias=True)) for m in shown]
    lines.append(messages_text(dumped))
    return "\n".join(lines)


def _folded(message: dict[str, Any]) -> dict[str, Any]:
    """The instruction on one line: it is long, the same at every step, and in the
    details of any generation (Enter on a row) in full."""
    if message.get("type") != "instructionMessage":
        return message
    text = "".join(part.get("text", "") for part in message.get("contents", []))
    first, _, rest = text.partition("\n")
    more = f" … ({rest.count(chr(10)) + 1} more lines)" if rest else ""
    return {**message, "contents": [{"type": "textPart", "text": first + more}]}


def _todo_line(todo: Any) -> str:
    if isinstance(todo, dict):
        done = todo.get("completed") or todo.get("status") in ("completed", "done")
        title = todo.get("title") or todo.get("content") or todo.get("text") or todo
        return f"{'☑' if done else '☐'} {title}"
    return f"☐ {todo}"


class CheckpointPanel(VerticalScroll, can_focus=True):
    """Shown under the timeline while replaying."""

    DEFAULT_CSS = """
    CheckpointPanel {
        height: 2fr;
        display: none;
        background: $surface;
        border-top: solid $primary 50%;
        border-title-color: $text;
        padding: 0 1;
        scrollbar-size-vertical: 1;
        & > Static { width: 1fr; }
        &:focus { border-top: solid $primary; }
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.border_title = "Checkpoint at the cursor"
        #: What is shown: ``(node id, checkpoint event index, waiting calls)``.
        self.key: tuple[Any, ...] | None = None
        #: The text shown (tests read it).
        self.text = ""

    def compose(self) -> ComposeResult:
        yield Static("", id="checkpoint-text", markup=False)

    def show(self, held: CheckpointAt | None, actor: str = "") -> None:
        """Show ``held`` (repaints only when it differs from what is shown)."""
        key = (
            None
            if held is None
            else (held.node_id, held.event_index, tuple(r.tool_call_id for r in held.waiting))
        )
        if key == self.key and self.text:
            return
        self.key = key
        self.text = checkpoint_text(held, actor)
        self.query_one("#checkpoint-text", Static).update(Text(self.text))
        self.scroll_home(animate=False, immediate=True)
