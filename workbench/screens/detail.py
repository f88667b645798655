"""The detail of one timeline row: the call in full, the messages sent, the raw events.

Rows hold slim events (no histories), so the messages sent to the model and the events'
full JSON are read back from the job's storage, in a thread, when the view opens.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Label, TabbedContent, TabPane, TextArea

from runtime.views.activity import read_stored_event
from workbench.detail_text import call_text, events_text, messages_text, row_title

if TYPE_CHECKING:
    from collections.abc import Callable

    from runtime.views.activity import ActivityRow

__all__ = ["DetailScreen"]


class DetailScreen(ModalScreen[None]):
    """Tabs: *Call* (or *Text*), *Messages sent*, *Events*."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q", "dismiss", "Close"),
        Binding("1", "tab('call')", "Call", show=False),
        Binding("2", "tab('messages')", "Messages sent", show=False),
        Binding("3", "tab('events')", "Events", show=False),
        Binding("left_square_bracket", "neighbour(-1)", "Previous row"),
        Binding("right_square_bracket", "neighbour(1)", "Next row"),
    ]

    DEFAULT_CSS = """
    DetailScreen {
        align: center middle;
        & > #detail {
            width: 92%;
            height: 90%;
            background: $surface;
            border: round $primary;
            border-title-color: $text;
            border-subtitle-color: $text-muted;
        }
        & #detail-title { width: 1fr; padding: 0 1; background: $panel; text-style: bold; }
        & TabbedContent { height: 1fr; }
        & TabPane { padding: 0; }
        & TextArea { height: 1fr; border: none; }
    }
    """

    class Loaded(Message):
        """The stored messages and events were read (or found missing)."""

    def __init__(
        self,
        row: ActivityRow,
        *,
        storage: Any | None,
        job_id: str | None,
        neighbour: Callable[[ActivityRow, int], ActivityRow | None] | None = None,
    ) -> None:
        super().__init__()
        self.row = row
        self.storage = storage
        self.job_id = job_id
        self.neighbour = neighbour
        self.loaded = False

    def compose(self) -> ComposeResult:
        with Vertical(id="detail") as frame:
            frame.border_title = "Step detail"
            frame.border_subtitle = "Esc close · 1 2 3 tabs · [ ] previous / next row"
            yield Label(row_title(self.row), id="detail-title", markup=False)
            with TabbedContent(initial="call"):
                label = "Call" if self.row.tool_name else "Text"
                with TabPane(label, id="call"):
                    yield self._area("call-text", call_text(self.row))
                with TabPane("Messages sent", id="messages"):
                    yield self._area("messages-text", "Loading…")
                with TabPane("Events", id="events"):
                    yield self._area("events-text", "Loading…")

    @staticmethod
    def _area(area_id: str, text: str) -> TextArea:
        return TextArea(text, read_only=True, soft_wrap=True, id=area_id)

    def on_mount(self) -> None:
        self.load()

    @work(thread=True, exclusive=True, group="detail")
    def load(self) -> None:
        """Read the row's stored events and the messages sent for its step."""
        row, storage, job_id = self.row, self.storage, self.job_id
        events: list[dict[str, Any]] = []
        messages: str
        if storage is not None and job_id is not None:
            for ref in row.refs:
                data = read_stored_event(storage, job_id, ref)
                events.append(data if data is not None else _slim_json(row, ref))
            generation = (
                read_stored_event(storage, job_id, row.generation) if row.generation else None
            )
            if generation is not None:
                messages = messages_text(generation.get("messages", []))
            elif row.generation is None:
                messages = "(this row was not produced by a model generation)"
            else:
                messages = "(the step's startGeneration event is not in storage)"
        else:
            events = [event.to_json_dict() for event in row.events]
            messages = "(no storage: the messages sent are not kept in memory)"
        self.app.call_from_thread(self._show, messages, events_text(events))

    def _show(self, messages: str, events: str) -> None:
        self.query_one("#messages-text", TextArea).load_text(messages)
        self.query_one("#events-text", TextArea).load_text(events)
        self.loaded = True
        self.post_message(self.Loaded())

    def action_tab(self, tab: str) -> None:
        """Show one of the tabs."""
        self.query_one(TabbedContent).active = tab

    def action_neighbour(self, delta: int) -> None:
        """Show the previous or next row of the timeline."""
        if self.neighbour is None:
            return
        row = self.neighbour(self.row, delta)
        if row is None:
            return
        self.row = row
        self.loaded = False
        self.query_one("#detail-title", Label).update(row_title(row))
        self.query_one("#call-text", TextArea).load_text(call_text(row))
        self.load()


def _slim_json(row: ActivityRow, ref: Any) -> dict[str, Any]:
    for event in row.events:
        if event.id == ref.id:
            return event.to_json_dict()
    return {"id": ref.id, "type": ref.type}
