"""The edit–reload–re-run loop of the workbench: the editor pane, the hot reload and the
auto re-run, wired together for the app.

* A save in the editor (Ctrl+S) reloads at once; a save from any other editor reaches
  the :class:`~workbench.reload.ConfigWatcher`, which reloads after a burst settles.
* A valid reload updates the Expert picker, the model, the preflight (runs are on again)
  and says which Experts were added, removed or changed; in the delegation tree, runs of
  an Expert changed or removed since are labelled ``(edited)`` / ``(removed)``. An invalid one shows the
  problems in the banner and turns runs off, but never stops a running job.
* With auto re-run on, a valid reload that changed what a run uses starts the last query
  as a new job; a running job is stopped first and the new one starts when it has ended.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from runtime.views.cost import PriceBook
from workbench.rerun import AutoRerun, RerunDecision
from workbench.widgets.config_pane import ConfigPane
from workbench.widgets.header_bar import HeaderBar

if TYPE_CHECKING:
    from workbench.host import WorkbenchHost
    from workbench.reload import ConfigInvalid, ConfigReloaded, ConfigWatcher
    from workbench.widgets.config_editor import ConfigEditor

__all__ = ["EditingControl"]


class EditingControl:
    """What the app does with the editor's and the hot reload's messages.

    Attributes:
        auto_rerun: The auto re-run toggle and its rule.
        watcher: The hot reload (None until :meth:`start`).
        waiting_rerun: A re-run waiting for the running job to stop.
        reloads: Reload messages handled (tests count them).
    """

    def __init__(self, app: WorkbenchHost) -> None:
        self.app = app
        self.auto_rerun = AutoRerun()
        self.watcher: ConfigWatcher | None = None
        self.waiting_rerun: RerunDecision | None = None
        self.reloads = 0
        #: Set once the hot reload watches the files.
        self.watching = asyncio.Event()

    @property
    def editor(self) -> ConfigEditor:
        return self.app.query_one(ConfigPane)

    def start(self, *, step_ms: int | None = None) -> None:
        """Start watching ``perstack.toml`` and its ``.env`` files, in a worker (the first
        paint does not wait); :attr:`watching` is set once changes are seen."""
        from workbench.reload import ConfigWatcher
        from workbench.watching import DEFAULT_STEP_MS

        session = self.app.session
        self.watcher = ConfigWatcher(
            self.app,
            session.project.config_path,
            cwd=session.cwd,
            env_paths=tuple(session.options.env_path),
            step_ms=DEFAULT_STEP_MS if step_ms is None else step_ms,
        )
        watcher = self.watcher

        async def watch() -> None:
            await watcher.start()
            self.watching.set()

        self.app.run_worker(watch(), group="watch", exit_on_error=False)

    async def stop(self) -> None:
        """Stop watching."""
        if self.watcher is not None:
            await self.watcher.stop()

    # --- the toggle -----------------------------------------------------------------------

    def toggle_auto_rerun(self) -> bool:
        """Flip auto re-run; shows it in the header and says so. Returns the new state."""
        enabled = self.auto_rerun.toggle()
        self.app.query_one(HeaderBar).show_auto_rerun(enabled)
        self.app.notify(
            "Auto re-run is on: a valid save runs the last query again as a new job."
            if enabled
            else "Auto re-run is off."
        )
        return enabled

    # --- messages ---------------------------------------------------------------------------

    def saved(self) -> None:
        """The editor wrote the file: reload now rather than wait for the watch."""
        if self.watcher is not None:
            self.app.run_worker(self.watcher.reload(), group="reload", exit_on_error=False)

    def external_change(self) -> None:
        """The file changed on disk while the buffer has unsaved edits: the user chooses."""
        self.app.notify(
            "perstack.toml changed on disk and you have unsaved edits. Ctrl+S keeps yours "
            "(the file is overwritten); F4 loads the file and drops your edits.",
            title="Changed elsewhere",
            severity="warning",
            timeout=15,
        )

    def load_from_disk(self) -> None:
        """Resolve a conflict with the file's text (or reread it)."""
        editor = self.editor
        if editor.conflict_pending:
            editor.load_theirs()
        else:
            editor.disk_changed()

    def reloaded(self, message: ConfigReloaded) -> None:
        """A valid config: new Experts and settings, runs on, maybe a re-run."""
        app = self.app
        self.reloads += 1
        if message.text is not None:
            self.editor.disk_changed(message.text)
        old = app.preflight
        had_problems = bool(old.problems)
        app.preflight = app.session.preflight(check_provider=False, loaded=message.config)
        # New [prices] price the generations still to come (shown ones keep theirs).
        app.view.costs.prices = PriceBook.from_config(app.preflight.config)
        remote = app.session.remote is not None  # the server runs its own perstack.toml
        if not remote:
            model = app.preflight.config.model if app.preflight.config else ""
            app.query_one(HeaderBar).set_experts(app.preflight.experts, model)
            if had_problems or message.diff.settings or message.env_changed:
                app.check_provider()  # the provider or its key may have changed
            else:
                app.preflight.provider_problem = old.provider_problem
                app.preflight.provider_checked = old.provider_checked
        app.reset_notice()
        if message.diff.changed or message.diff.removed:
            from workbench.widgets.run_tree import RunTreePanel

            app.query_one(RunTreePanel).mark_edited(
                message.diff.changed, message.diff.removed, app.clock()
            )
        if message.diff or message.env_changed:
            summary = message.diff.summary() if message.diff else ".env changed"
            app.notify(f"perstack.toml reloaded: {summary}.", title="Reloaded")
        elif had_problems:
            app.notify("perstack.toml is valid again; runs are on.", title="Reloaded")
        if remote:
            app.state_changed()
            return
        decision = self.auto_rerun.decide(
            message.config,
            message.diff,
            env_changed=message.env_changed,
            job_running=app.bridge.running,
        )
        if decision.rerun:
            if decision.stop_running:
                self.waiting_rerun = decision
                app.runs.stop()
            else:
                app.runs.rerun(decision.expert_key, decision.query)
        app.state_changed()

    def invalid(self, message: ConfigInvalid) -> None:
        """The file does not load: show why; a running job carries on."""
        self.reloads += 1
        if message.text is not None:
            self.editor.disk_changed(message.text)
        self.app.preflight.problems = list(message.problems)
        self.app.reset_notice()
        self.app.state_changed()

    def run_finished(self) -> None:
        """A run ended: start the re-run that waited for it."""
        decision, self.waiting_rerun = self.waiting_rerun, None
        if decision is not None and not self.app.preflight.problems:
            self.app.runs.rerun(decision.expert_key, decision.query)
