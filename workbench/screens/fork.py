"""The fork dialog: re-run the job from the replay cursor as a new job.

It names the fork point (the Expert acting at the cursor, the step its checkpoint ended,
the checkpoint's id), takes an optional new user message, and lets the new job use
another provider and model: a picker of the provider's known models (the price table's),
or one typed. The new job uses ``perstack.toml`` as it is now, edited or not.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select

from workbench.forking import ForkRequest

if TYPE_CHECKING:
    from runtime.config.models import PerstackConfig

__all__ = ["ForkScreen", "provider_choices"]

#: The providers a fork can switch to (those the runtime can run).
_PROVIDERS = ("anthropic", "openai", "azure-openai", "deepseek", "ollama", "scripted", "replay")
_SAME = "(as in perstack.toml)"


def provider_choices(config: PerstackConfig | None) -> list[str]:
    """The providers offered: perstack.toml's first, then the others."""
    current = config.provider.provider_name if config is not None else None
    return ([current] if current else []) + [p for p in _PROVIDERS if p != current]


class ForkScreen(ModalScreen[ForkRequest | None]):
    """Dismissed with the fork to start, or ``None``.

    Args:
        checkpoint_id: The fork point.
        run_id: The run it belongs to.
        actor: The Expert acting there, as shown (``researcher #2``).
        step: The step its checkpoint ended.
        config: ``perstack.toml`` as loaded now (its provider and model come first).
    """

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    DEFAULT_CSS = """
    ForkScreen {
        align: center middle;
        & > #fork {
            width: 84;
            max-width: 95%;
            height: auto;
            max-height: 95%;
            padding: 1 2;
            background: $surface;
            border: round $accent;
            border-title-color: $text;
        }
        & Label { width: 1fr; }
        & #fork-point { text-style: bold; }
        & .fork-note { color: $text-muted; }
        & .fork-label { margin-top: 1; }
        & Horizontal { height: auto; }
        & #fork-provider { width: 24; }
        & #fork-model { width: 1fr; }
        & #fork-buttons { margin-top: 1; align-horizontal: right; }
        & Button { margin-left: 2; }
    }
    """

    def __init__(
        self,
        *,
        checkpoint_id: str,
        run_id: str,
        actor: str,
        step: int,
        config: PerstackConfig | None,
    ) -> None:
        super().__init__()
        self.checkpoint_id = checkpoint_id
        self.run_id = run_id
        self.actor = actor
        self.step = step
        self.config = config
        self.providers = provider_choices(config)

    def compose(self) -> ComposeResult:
        config = self.config
        model = config.model if config is not None else ""
        with Vertical(id="fork") as frame:
            frame.border_title = "Re-run from here"
            yield Label(
                f"Fork at step {self.step}: {self.actor or 'the Expert'} goes on from checkpoint "
                f"{self.checkpoint_id}",
                id="fork-point",
                markup=False,
            )
            yield Label(
                "A new job, with perstack.toml as it is now (edited or not). Nothing before "
                "this point is sent to the model again; the job replayed is not changed.",
                classes="fork-note",
            )
            yield Label("New user message (optional: empty asks for the next step again)",
                        classes="fork-label")  # fmt: skip
            yield Input(placeholder="e.g. Check the numbers again", id="fork-query")
            yield Label(f"Provider and model (now: {self.providers[0] if self.providers else '?'}"
                        f" · {model or '?'})", classes="fork-label")  # fmt: skip
            with Horizontal():
                yield Select(
                    [(name, name) for name in self.providers],
                    value=self.providers[0] if self.providers else Select.NULL,
                    allow_blank=not self.providers,
                    compact=True,
                    id="fork-provider",
                )
                yield Select([], prompt=_SAME, compact=True, id="fork-model-pick")
            yield Input(placeholder=f"or type a model ({_SAME} when empty)", id="fork-model")
            with Horizontal(id="fork-buttons"):
                yield Button("Cancel", id="fork-cancel")
                yield Button("Fork", variant="primary", id="fork-go")

    def on_mount(self) -> None:
        self._offer_models()
        self.query_one("#fork-query", Input).focus()

    def _offer_models(self) -> None:
        from runtime.views.cost import known_models

        provider = self.provider
        models = known_models(provider) if provider else []
        current = self.config.model if self.config is not None else None
        if current and provider == self.providers[0] and current not in models:
            models = [current, *models]
        pick = self.query_one("#fork-model-pick", Select)
        pick.set_options([(name, name) for name in models])

    @property
    def provider(self) -> str | None:
        value = self.query_one("#fork-provider", Select).value
        return value if isinstance(value, str) else None

    @property
    def model(self) -> str | None:
        typed = self.query_one("#fork-model", Input).value.strip()
        if typed:
            return typed
        value = self.query_one("#fork-model-pick", Select).value
        return value if isinstance(value, str) else None

    def request(self) -> ForkRequest:
        """What the dialog asks for as it stands."""
        query = self.query_one("#fork-query", Input).value.strip() or None
        provider = self.provider
        same_provider = not self.providers or provider == self.providers[0]
        return ForkRequest(
            checkpoint_id=self.checkpoint_id,
            query=query,
            provider=None if same_provider else provider,
            model=self.model,
        )

    def on_select_changed(self, event: Select.Changed) -> None:
        if event.select.id == "fork-provider":
            self._offer_models()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.dismiss(self.request())

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(self.request() if event.button.id == "fork-go" else None)

    def action_cancel(self) -> None:
        self.dismiss(None)
