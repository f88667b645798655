"""The Perstack workbench: run an Expert and watch every step, delegation and tool call.

Layout: a header (project, Expert picker, model, run status); the ``perstack.toml`` editor
(left, see :mod:`workbench.editing` for the edit, reload and re-run loop); the step timeline
with the live stream panel (centre); the delegation tree (right); the filter bar, the query
box and the footer (bottom). ``app.tcss`` holds the layout; widgets style themselves.

The app owns the job on screen (a :class:`~workbench.jobview.JobView`) and the
:class:`~workbench.bridge.RunBridge` that runs jobs; what it shows is derived by ``runtime``
from the events the bridge relays (replay: :mod:`workbench.replaying`).
"""

from __future__ import annotations

import dataclasses
import gc
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

from textual import work
from textual.app import App, ComposeResult
from textual.containers import Horizontal, Vertical
from textual.css.query import NoMatches
from textual.widgets import Footer

from runtime.views.timeline_filter import RowFilter
from workbench.bridge import ProviderFactory, RunBridge
from workbench.commands import bindings, palette_provider
from workbench.comparing import CompareActions, CompareControl
from workbench.create_expert import CreateExpertControl
from workbench.editing import EditingControl
from workbench.jobview import JobUpdate, JobView
from workbench.panes import PaneActions, PaneControl
from workbench.preflight_notice import show_preflight, show_problems
from workbench.questions import ask_live
from workbench.replaying import CheckpointPanel, ReplayActions, ReplayBar, ReplayControl
from workbench.runs import RunControl
from workbench.status_line import now_ms, status_line
from workbench.waiters import StateWaiters
from workbench.widgets.answer_panel import AnswerPanel
from workbench.widgets.config_pane import ConfigPane
from workbench.widgets.filter_bar import FilterBar
from workbench.widgets.header_bar import HeaderBar
from workbench.widgets.notice import Notice
from workbench.widgets.query_bar import QueryBar
from workbench.widgets.run_tree import RunTreePanel
from workbench.widgets.splitter import Splitter
from workbench.widgets.stream_panel import StreamPanel
from workbench.widgets.timeline import Timeline

if TYPE_CHECKING:
    from textual.binding import BindingType

    from runtime.views.activity import ActivityRow
    from workbench.reload import ConfigInvalid, ConfigReloaded
    from workbench.session import Session

__all__ = ["WorkbenchApp"]


class WorkbenchApp(CompareActions, PaneActions, ReplayActions, App[None]):
    """The workbench for one project.

    Args:
        session: The project and the ``perstack start`` options.
        clock: Milliseconds now (elapsed times); tests pass a fixed clock.
        provider_factory: Overrides every run's provider (tests, the benchmark).
        flush_interval: Seconds between two batches of events.
        still: No animations and no blinking cursor (snapshots, screenshots).
        debounce: Seconds of quiet typing before the editor validates the buffer.
        reload_step_ms: How long the hot reload waits for more changes (None: default).
    """

    CSS_PATH = "app.tcss"
    TITLE = "Perstack workbench"
    BINDINGS: ClassVar[list[BindingType]] = bindings()
    COMMANDS = App.COMMANDS | {palette_provider}
    HORIZONTAL_BREAKPOINTS: ClassVar[list[tuple[int, str]]] = [(0, "-narrow"), (120, "-wide")]

    def __init__(
        self,
        session: Session,
        *,
        clock: Callable[[], int] | None = None,
        provider_factory: ProviderFactory | None = None,
        flush_interval: float = 0.05,
        still: bool = False,
        debounce: float | None = None,
        reload_step_ms: int | None = None,
    ) -> None:
        super().__init__()
        self.still = still
        if still:
            self.animation_level = "none"
        self.session = session
        self.clock = clock or now_ms
        self.preflight = session.preflight(check_provider=False)
        self.view = JobView.priced(self.preflight.config)
        self.bridge: RunBridge
        if session.remote is not None:
            from workbench.remote import RemoteBridge

            self.bridge = RemoteBridge(self, session.remote, flush_interval=flush_interval)
        else:
            self.bridge = RunBridge(
                self, session.cwd, flush_interval=flush_interval, provider_factory=provider_factory
            )
        self.runs = RunControl(self)
        self.editing = EditingControl(self)
        self.create = CreateExpertControl(self)
        self.panes = PaneControl(self)
        self.replay = ReplayControl(self)
        self.compare = CompareControl(self)
        self.themes: Any = None  # the ThemeManager, from on_mount
        self._debounce = debounce
        self._reload_step_ms = reload_step_ms
        self.state = "ready"
        #: The status line and match count are due for a repaint (see after_update).
        self.counts_pending = False
        self.node_filter: str | None = None
        self.bar_filter = RowFilter()
        self._waiters = StateWaiters(self.set_interval)
        self._counts_timer: Any = None
        self._ticker: Any = None  # the elapsed-time ticker, from on_mount

    # --- layout ---------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        from workbench.demo import DEMO_EXPERT, DEMO_QUERY

        project, options, remote = self.session.project, self.session.options, self.session.remote
        experts = list(remote.experts) if remote else self.preflight.experts
        demo = project.is_demo and remote is None
        expert = options.expert_key or (DEMO_EXPERT if demo else None)
        if expert not in experts:
            expert = experts[0] if experts else None
        query = options.query or (DEMO_QUERY if demo else "")
        if remote is not None:
            title, model = f"{remote.application_id} @ {remote.url}", "remote"
        else:
            title = project.name
            model = self.preflight.config.model if self.preflight.config else ""
        yield HeaderBar(title, experts, expert, model, id="header")
        with Horizontal(id="main"):
            editor = {} if self._debounce is None else {"debounce": self._debounce}
            yield ConfigPane(project.config_path, id="config", **editor)
            yield Splitter(id="split-config")
            with Vertical(id="centre"):
                yield Notice(id="notice")
                yield ReplayBar(id="replay-bar")
                yield Timeline(self.view, clock=self.clock, id="timeline")
                yield StreamPanel(id="stream")
                yield AnswerPanel(id="answer")
                yield CheckpointPanel(id="checkpoint")
            yield Splitter(id="split-tree")
            yield RunTreePanel(id="run-tree")
        yield FilterBar(id="filter")
        yield QueryBar(value=query, id="query")
        yield Footer()

    async def on_mount(self) -> None:
        from workbench.theme_manager import ThemeManager

        self.begin_capture_print(self, stdout=False, stderr=True)
        self.themes = ThemeManager(self)
        self.themes.install()
        self.themes.start_watching()
        self.panes.restore_saved()  # the pane sizes kept in workbench.toml
        show_preflight(self)
        if not self.preflight.problems and self.session.remote is None:
            self.check_provider()  # a server's jobs use the server's provider
        self.query_one(RunTreePanel).root.expand()
        if self.session.remote is not None:
            # The server runs its own perstack.toml: the local one is a toggle away.
            self.screen.set_class(True, "-hide-config")
        self.runs.update_prompt()
        self.query_one(QueryBar).input.focus()
        self._ticker = self.set_interval(1.0, self._tick, pause=True, name="elapsed")
        self.refresh_status()
        self.runs.on_start()
        # Objects made while starting live as long as the app: leave them out of every
        # collection (the GC's pauses of 35-55 ms were felt while typing).
        self.call_after_refresh(gc.freeze)
        self.editing.start(step_ms=self._reload_step_ms)

    async def on_unmount(self) -> None:
        self.bridge.detach()  # a local job left running is cancelled: it stays resumable
        # The awaits below let timers fire while the widgets are being removed: stop them.
        if self._ticker is not None:
            self._ticker.stop()
        if self._counts_timer is not None:
            self._counts_timer.stop()
        await self.editing.stop()
        if self.themes is not None:
            await self.themes.stop_watching()

    @work(thread=True, exclusive=True, group="preflight")
    def check_provider(self) -> None:
        """Build the provider once, off the UI thread (its SDK import is slow)."""
        problem = self.session.provider_problem(self.preflight.config)
        self.call_from_thread(self._provider_checked, problem)

    def _provider_checked(self, problem: str | None) -> None:
        self.preflight.provider_problem = problem
        self.preflight.provider_checked = True
        show_preflight(self)
        self.state_changed()

    def reset_notice(self) -> None:
        """The preflight changed (a reload): show its problems, or hide the banner."""
        self.query_one(Notice).hide()
        show_problems(self)

    # --- state ----------------------------------------------------------------------------

    async def wait_until(self, predicate: Callable[[], bool], timeout: float = 30.0) -> None:
        """Return once ``predicate()`` holds, checked whenever the app's state changes."""
        await self._waiters.wait_until(predicate, timeout)

    def state_changed(self) -> None:
        """Wake :meth:`wait_until` callers whose condition now holds."""
        self._waiters.check()

    def set_state(self, state: str) -> None:
        """The run state shown in the header (``running``, ``completed`` …)."""
        self.state = state
        if state in ("running", "stopping"):
            self._ticker.resume()
        else:
            self._ticker.pause()
        self.refresh_status()

    def refresh_status(self) -> None:
        """Rewrite the header's status line."""
        if self.replay.active:  # the cursor's moment, not the job's now
            return self.replay.moved()
        status = status_line(self.state, self.view, self.clock())
        self.query_one(HeaderBar).set_status(status)
        self.panes.follow_answer(self.view, self.state)
        self.state_changed()

    def _tick(self) -> None:
        now = self.clock()
        self._refresh_counts()
        self.query_one(RunTreePanel).tick(self.view.tree, now)
        self.query_one(Timeline).refresh()

    # --- the job on screen ----------------------------------------------------------------

    def show_job(self, view: JobView, label: str) -> None:
        """Put another job (or an empty one) on screen."""
        self.view = view
        view.set_filter(self.row_filter())
        self.query_one(RunTreePanel).reset_job(label)
        self.query_one(Timeline).set_view(view)
        # A stored job arrives with its runs: every node of its tree is new.
        self.after_update(JobUpdate(shown_changed=True, nodes=set(view.tree.nodes)))

    def apply_events(self, events: list[Any], *, live: bool = False) -> None:
        """Feed a batch of events to the job on screen and repaint what changed."""
        if events:
            self.after_update(self.view.apply(events), live=live)

    def after_update(self, update: JobUpdate, *, live: bool = False) -> None:
        now = self.clock()
        self.query_one(Timeline).rows_changed(update.rows, shown_changed=update.shown_changed)
        self.query_one(RunTreePanel).sync(self.view.tree, update.nodes, now)
        self.query_one(StreamPanel).show_row(self.view.live, self.bridge.running)
        if live:
            # While events stream in, the header's status and the match count (the first
            # and last lines of the screen) follow at most four times a second: repainting
            # them with every batch would repaint every line in between each time.
            if not self.counts_pending:
                self.counts_pending = True
                self._counts_timer = self.set_timer(0.25, self._counts_due, name="counts")
            self.state_changed()
            return
        self._refresh_counts()

    def _counts_due(self) -> None:
        self._counts_timer = None
        self._refresh_counts()

    def _refresh_counts(self) -> None:
        # A refresh made now (the clock's tick, the end of a run) stands for the one that
        # was due: stop its timer, or every tick would start one more four-a-second chain.
        if self._counts_timer is not None:
            self._counts_timer.stop()
            self._counts_timer = None
        self.counts_pending = False
        try:
            self.query_one(FilterBar).set_count(len(self.view.shown), len(self.view.rows))
            self.refresh_status()
        except NoMatches:  # a timer that fired while the app closes
            pass

    def on_run_bridge_started(self, message: RunBridge.Started) -> None:
        self.runs.started(message)

    def on_run_bridge_events(self, message: RunBridge.Events) -> None:
        self.apply_events(message.events, live=True)

    def on_run_bridge_question(self, message: RunBridge.Question) -> None:
        ask_live(self, message)

    def on_run_bridge_finished(self, message: RunBridge.Finished) -> None:
        self.apply_events(self.bridge.settle())
        self._refresh_counts()
        self.runs.finished(message)
        self.editing.run_finished()
        self.create.finished(message)

    # --- the editor and the hot reload ------------------------------------------------

    def on_config_editor_saved(self, message: Any) -> None:
        self.editing.saved()

    def on_config_editor_external_change(self, message: Any) -> None:
        self.editing.external_change()

    def on_config_reloaded(self, message: ConfigReloaded) -> None:
        self.editing.reloaded(message)

    def on_config_invalid(self, message: ConfigInvalid) -> None:
        self.editing.invalid(message)

    def on_descendant_focus(self, event: Any) -> None:
        self.panes.focus_moved(event.widget)
        if self.still and hasattr(event.widget, "cursor_blink"):
            event.widget.cursor_blink = False

    def on_print(self, event: Any) -> None:
        text = event.text.strip()
        if text:
            self.notify(text, severity="warning", markup=False)

    # --- filtering ----------------------------------------------------------------------

    def row_filter(self) -> RowFilter:
        """The timeline's filter: the bar's, narrowed to the tree's node."""
        return dataclasses.replace(self.bar_filter, node_id=self.node_filter)

    def apply_filter(self) -> None:
        """Re-filter the timeline with the bar's filter and the tree's node."""
        self.view.set_filter(self.row_filter())
        self.replay.set_filter(self.row_filter())
        self.after_update(JobUpdate(shown_changed=True))

    def on_filter_bar_changed(self, message: FilterBar.Changed) -> None:
        self.bar_filter = RowFilter(
            expression=message.expression,
            steps=message.steps,
            errors=message.errors,
            tools=message.tools,
            delegations=message.delegations,
        )
        self.apply_filter()

    def on_filter_bar_invalid(self, message: FilterBar.Invalid) -> None:
        self.state_changed()

    def on_run_tree_panel_narrowed(self, message: RunTreePanel.Narrowed) -> None:
        self.node_filter = message.node_id
        self.apply_filter()

    # --- other messages -----------------------------------------------------------------

    def on_query_bar_submitted(self, message: QueryBar.Submitted) -> None:
        self.action_run(message.text)

    def on_header_bar_expert_chosen(self, message: HeaderBar.ExpertChosen) -> None:
        self.runs.update_prompt()

    def on_timeline_selected(self, message: Timeline.Selected) -> None:
        self.open_details(message.row)

    # --- actions ------------------------------------------------------------------------

    def action_run(self, text: str | None = None) -> None:
        """Run the query box's text (a new job, a follow-up or an answer)."""
        self.replay.leave()  # a follow-up continues the job as it is, not as replayed
        self.runs.run(self.query_one(QueryBar).text if text is None else text)

    def action_stop(self) -> None:
        """Cancel the run in progress."""
        self.runs.stop()

    def action_new_job(self) -> None:
        """Clear the screen so the next run starts a fresh job."""
        self.runs.new_job()

    def action_open_job(self) -> None:
        """List the stored jobs; the one chosen goes on screen."""
        self.runs.choose_stored()

    def action_create_expert(self) -> None:
        """Open "New Expert from a description" (create-expert as a job on screen)."""
        self.create.open()

    def action_compare(self) -> None:
        """Open the compare view: the Expert and query on 2–4 models at once."""
        self.compare.open()

    def action_answer(self) -> None:
        """Reopen the pending interactive question."""
        self.runs.ask()

    def action_choose_expert(self) -> None:
        """Open the Expert picker."""
        self.query_one(HeaderBar).open_picker()

    def action_toggle(self, name: str) -> None:
        """Flip a filter toggle (``errors``, ``tools``, ``delegations``)."""
        self.query_one(FilterBar).toggle(name)

    def action_clear_filter(self) -> None:
        """Drop the bar's filter and the tree's narrowing."""
        self.query_one(FilterBar).clear()
        self.node_filter = None
        self.bar_filter = RowFilter()
        self.apply_filter()

    def action_details(self) -> None:
        """Open the highlighted row's details."""
        row = self.query_one(Timeline).highlighted
        if row is None:
            self.notify("No step is highlighted.", severity="warning")
            return
        self.open_details(row)

    def open_details(self, row: ActivityRow) -> None:
        """Show one row's detail view."""
        from workbench.screens.detail import DetailScreen

        self.push_screen(
            DetailScreen(
                row, storage=self.runs.storage(), job_id=self.view.job_id, neighbour=self._neighbour
            )
        )

    def _neighbour(self, row: ActivityRow, delta: int) -> ActivityRow | None:
        position = self.view.shown.position_of(row.index)
        if position is None or not 0 <= position + delta < len(self.view.shown):
            return None
        return self.view.shown.row_at(position + delta)

    def action_filter_or_find(self) -> None:
        """Ctrl+F: find in perstack.toml while typing there, else filter the timeline."""
        if self.panes.focused_pane() == "config":
            self.query_one(ConfigPane).action_find()
        else:
            self.set_focus(self.query_one("#filter-expression"))

    def action_tree_or_redo(self) -> None:
        """Ctrl+Y: redo while typing in perstack.toml, else go to the delegation tree."""
        if self.panes.focused_pane() == "config":
            self.query_one(ConfigPane).text_area.redo()
        else:
            self.set_focus(self.query_one("#run-tree"))

    def action_save_config(self) -> None:
        """Save the perstack.toml buffer (the reload follows)."""
        self.query_one(ConfigPane).save()

    def action_load_config(self) -> None:
        """Load perstack.toml from disk into the editor (drops unsaved edits in a conflict)."""
        self.editing.load_from_disk()

    def action_toggle_auto_rerun(self) -> None:
        """Flip auto re-run."""
        self.editing.toggle_auto_rerun()

    def action_help(self) -> None:
        """Show every key."""
        from workbench.screens.help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())
