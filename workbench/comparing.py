"""CompareControl: the compare view's side of the app (F10, "Compare models").

It opens :class:`~workbench.screens.compare.CompareScreen` for the Expert in the header
and the query in the query box, offers the models the configured providers know, builds
the request as ``perstack compare`` does (:func:`runtime.cli.compare.build_request`), and
opens a column's job in the main view when asked. The screen is kept while a comparison
runs or is on show, so leaving it and coming back finds it as it was.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from runtime.views.runtree import ROOT
from workbench.widgets.header_bar import HeaderBar
from workbench.widgets.query_bar import QueryBar

if TYPE_CHECKING:
    from runtime.compare import CompareRequest
    from runtime.config.models import PerstackConfig
    from workbench.compare_run import CompareRunner
    from workbench.screens.compare import CompareScreen

__all__ = ["CompareActions", "CompareControl", "model_choices"]

#: Providers whose models are offered when their API key is in the environment.
_KEYED_PROVIDERS = {
    "anthropic": "ANTHROPIC_API_KEY",
    "openai": "OPENAI_API_KEY",
    "deepseek": "DEEPSEEK_API_KEY",
}
_SCREEN = "compare"


def model_choices(config: PerstackConfig | None, env: dict[str, str] | os._Environ[str]) -> list[str]:
    """``provider:model`` of the models to offer: the project's own first, then those the
    price table knows for each provider whose API key is set (``[provider]``'s included)."""
    from runtime.views.cost import known_models

    choices: list[str] = []
    providers: list[str] = []
    if config is not None:
        own = config.provider.provider_name
        choices.append(f"{own}:{config.model}")
        providers.append(own)
    providers += [name for name, key in _KEYED_PROVIDERS.items() if env.get(key)]
    for provider in dict.fromkeys(providers):
        if provider in _KEYED_PROVIDERS and not env.get(_KEYED_PROVIDERS[provider]):
            continue  # the project's provider without its key: its own model is enough
        choices += [f"{provider}:{model}" for model in known_models(provider)]
    return list(dict.fromkeys(choices))


class CompareActions:
    """The app's side of the keys while a full screen is over the main one (the compare
    view, the diff): the main view's actions (Ctrl+R runs the main query, F2 opens a job …)
    stand aside, so the screen's own keys (Ctrl+R runs the comparison) reach it, and its
    footer lists its own keys. Help and the theme still work."""

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        from textual.screen import ModalScreen

        from workbench.commands import main_screen_action

        stack = self.screen_stack[1:]  # type: ignore[attr-defined]
        on_main = all(isinstance(screen, ModalScreen) for screen in stack)
        if not main_screen_action(action, on_main):
            return False
        return super().check_action(action, parameters)  # type: ignore[misc]


class CompareControl:
    """Opens the compare view and acts on what it asks (see the module docstring)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.screen: CompareScreen | None = None

    def open(self) -> None:
        """Show the compare view: the one on show, or a new one for the Expert and query."""
        from workbench.screens.compare import CompareScreen, CompareSetup

        app = self.app
        if self.screen is not None and self.screen.phase != "setup":
            app.push_screen(_SCREEN)
            return
        expert = app.query_one(HeaderBar).expert
        query = app.query_one(QueryBar).text.strip() or self._query_on_screen(expert)
        if expert is None:
            app.notify("perstack.toml defines no Expert to compare.", severity="error")
            return
        if not query:
            app.notify("Type the query to compare first.", severity="warning")
            return
        config = app.preflight.config
        choices = model_choices(config, os.environ)
        setup = CompareSetup(
            title=f"Compare {expert} on: {query}",
            choices=choices,
            make_request=lambda models, baseline: self.request(expert, query, models, baseline),
            models=choices[:1],
            jobs=self._job_ids(),
        )
        if self.screen is not None:
            app.uninstall_screen(_SCREEN)
        self.screen = CompareScreen(setup, self.runner, self.open_job)
        app.install_screen(self.screen, _SCREEN)
        app.push_screen(_SCREEN)

    def _query_on_screen(self, expert: str | None) -> str:
        """The first query of the job on screen, when the Expert in the header ran it: after
        a run the box holds a follow-up, and comparing means that job's question again."""
        root = self.app.view.tree.nodes.get(ROOT)
        if root is None or root.expert_key != expert:
            return ""
        return root.query or ""

    def request(
        self, expert: str, query: str, models: list[str], baseline: str | None
    ) -> CompareRequest:
        """``perstack compare``'s request for these (raises one-line errors)."""
        from runtime.cli.compare import build_request

        options = self.app.session.options
        request = build_request(
            expert_key=expert,
            query=query,
            models=tuple(models),
            baseline=baseline,
            config=options.config,
            reasoning_budget=options.reasoning_budget,
            max_steps=options.max_steps,
            max_retries=options.max_retries,
            timeout=options.timeout,
            env_path=options.env_path,
            workspace=options.workspace,
            cwd=self.app.session.cwd,
            on_warning=lambda _: None,  # the main view shows perstack.toml's warnings
        )
        # The app's own provider factory (tests, benchmarks) serves the columns too.
        request.provider_factory = getattr(self.app.bridge, "provider_factory", None)
        return request

    def runner(self, request: CompareRequest) -> CompareRunner:
        """The runner of a comparison, finishing into the screen."""
        from workbench.compare_run import CompareRunner

        def done(result: Any) -> None:
            if self.screen is not None:
                self.screen.finish(result)

        return CompareRunner(self.app, request, done)

    def open_job(self, name: str) -> None:
        """Leave the compare view and show job ``name`` in the main view."""
        if self.app.screen is self.screen:
            self.app.pop_screen()
        self.app.runs.open_stored(named=name)

    def _job_ids(self) -> list[str]:
        try:
            return sorted(self.app.runs.storage().list_job_ids())
        except (OSError, AttributeError):
            return []
