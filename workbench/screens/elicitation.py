"""An MCP server's question (elicitation) as a form built from the schema it sent.

One field per property of the requested schema, in its order: a switch for a boolean, a
choice for an ``enum`` (``oneOf`` titles shown), an input for text and numbers (typed
inputs for ``integer`` and ``number``). Required fields are marked ``*``. Submit checks
the answer against the schema (the same check ``--continue -i`` makes) and says what is
wrong under the form. A URL-mode question shows the URL to open instead of fields.

Dismissed with the :class:`~runtime.skills.calls.ElicitationAnswer` (accept, decline or
cancel); Enter in a text field sends, Escape cancels.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select, Static, Switch

from runtime.errors import PerstackError
from runtime.skills.calls import ElicitationAnswer, ElicitationRequest
from runtime.skills.elicitation import field_value, parse_answer, schema_fields

__all__ = ["ElicitationScreen"]

#: An empty choice (``Select.NULL`` in Textual 8, ``Select.BLANK`` before).
_NO_CHOICE: Any = getattr(Select, "NULL", Select.BLANK)


def _choices(prop: dict[str, Any]) -> list[tuple[str, Any]] | None:
    """``(label, value)`` pairs of an enum field, or None."""
    if isinstance(prop.get("enum"), list):
        names = prop.get("enumNames") or prop["enum"]
        return [(str(name), value) for name, value in zip(names, prop["enum"], strict=False)]
    options = prop.get("oneOf") or prop.get("anyOf")
    if isinstance(options, list) and all(isinstance(o, dict) and "const" in o for o in options):
        return [(str(o.get("title", o["const"])), o["const"]) for o in options]
    return None


class ElicitationScreen(ModalScreen[ElicitationAnswer]):
    """The form of one server question.

    Args:
        request: The question.
        asker: Who asks, for the title: ``box (ask_person, step 3)``.
    """

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "answer('cancel')", "Cancel")]

    DEFAULT_CSS = """
    ElicitationScreen {
        align: center middle;
        & > #elicitation {
            width: 80;
            max-width: 95%;
            height: auto;
            max-height: 90%;
            padding: 1 2;
            background: $surface;
            border: round $warning;
            border-title-color: $text;
            border-subtitle-color: $text-muted;
        }
        & #elicitation-message { margin-bottom: 1; text-style: bold; }
        & #elicitation-fields { height: auto; max-height: 20; }
        & .field-label { margin-top: 1; color: $text; }
        & .field-help { color: $text-muted; }
        & #elicitation-url { padding: 0 1; background: $boost; color: $accent; }
        & #elicitation-error { color: $error; margin-top: 1; height: auto; }
        & #elicitation-buttons { height: auto; margin-top: 1; align-horizontal: right; }
        & #elicitation-buttons Button { margin-left: 1; }
    }
    """

    def __init__(self, request: ElicitationRequest, asker: str) -> None:
        super().__init__()
        self.request = request
        self.asker = asker
        self.fields = schema_fields(request.requested_schema)

    def compose(self) -> ComposeResult:
        with Vertical(id="elicitation") as frame:
            frame.border_title = f"{self.request.skill_name} asks you"
            frame.border_subtitle = f"{self.asker} · Enter in a field sends · Esc cancels"
            yield Static(self.request.message, id="elicitation-message", markup=False)
            if self.request.mode == "url":
                yield Label("Open this page, then say whether you did:", classes="field-help")
                yield Static(self.request.url or "", id="elicitation-url", markup=False)
            else:
                with VerticalScroll(id="elicitation-fields"):
                    for name, prop, required in self.fields:
                        yield from self._field(name, prop, required)
            yield Static("", id="elicitation-error", markup=False)
            with Horizontal(id="elicitation-buttons"):
                accept = "Opened it" if self.request.mode == "url" else "Send"
                yield Button(accept, variant="primary", id="accept")
                yield Button("Decline", id="decline")
                yield Button("Cancel", id="cancel")

    def _field(self, name: str, prop: dict[str, Any], required: bool) -> ComposeResult:
        title = str(prop.get("title") or name)
        yield Label(f"{title}{' *' if required else ''}", classes="field-label", markup=False)
        if prop.get("description"):
            yield Label(str(prop["description"]), classes="field-help", markup=False)
        field_id = f"field-{name}"
        default = prop.get("default")
        choices = _choices(prop)
        if prop.get("type") == "boolean":
            yield Switch(value=bool(default), id=field_id)
        elif choices is not None:
            # Option values are the choices' positions as text (0 would read as no choice).
            yield Select(
                [(label, str(index)) for index, (label, _) in enumerate(choices)],
                id=field_id,
                allow_blank=not required,
                value=next(
                    (str(i) for i, (_, v) in enumerate(choices) if v == default), _NO_CHOICE
                ),
            )
        else:
            kind = {"integer": "integer", "number": "number"}.get(prop.get("type", ""), "text")
            value = "" if default is None else str(default)
            yield Input(value=value, type=kind, id=field_id, placeholder=title)

    def on_mount(self) -> None:
        first = self.query("Input, Switch, Select").first() if self.fields else None
        (first or self.query_one("#accept", Button)).focus()

    # --- answering ------------------------------------------------------------------------

    def content(self) -> dict[str, Any]:
        """The form's values, typed per the schema (empty optional fields left out).

        Raises:
            ValueError: A field's text is not a value of its type.
        """
        content: dict[str, Any] = {}
        for name, prop, _ in self.fields:
            widget = self.query_one(f"#field-{name}")
            if isinstance(widget, Switch):
                content[name] = widget.value
            elif isinstance(widget, Select):
                if isinstance(widget.value, str):
                    content[name] = (_choices(prop) or [])[int(widget.value)][1]
            elif isinstance(widget, Input) and widget.value.strip():
                try:
                    content[name] = field_value(prop, widget.value)
                except ValueError as error:
                    raise ValueError(f"{prop.get('title') or name}: {error}") from None
        return content

    def action_submit(self) -> None:
        """Send the form (after checking it against the schema)."""
        if self.request.mode == "url":
            self.dismiss(ElicitationAnswer(action="accept"))
            return
        error = self.query_one("#elicitation-error", Static)
        try:
            content = self.content()
            answer = parse_answer(json.dumps(content), self.request)
        except (ValueError, PerstackError) as problem:
            error.update(str(problem))
            return
        self.dismiss(answer)

    def action_answer(self, action: str) -> None:
        """Decline or cancel."""
        self.dismiss(ElicitationAnswer(action=action))  # type: ignore[arg-type]

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "accept":
            self.action_submit()
        else:
            self.action_answer(event.button.id or "cancel")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_submit()
