"""What Enter, Ctrl+T and Ctrl+N do: new jobs, follow-ups, answers, stops.

* A query with no job on screen (or another Expert picked) starts a **new job**.
* A query with a job on screen **continues** it: the job's latest checkpoint, plus the
  new query, the way ``perstack run --continue-job <id>`` does.
* While the job waits on an interactive tool, the text **answers** it (``-i``); the
  dialog that opens when the run stops does the same.
* A **stored job** (``perstack start --continue`` / ``--continue-job`` / ``--resume-from``,
  or one picked from the job list) is read back onto the screen, its steps as they were
  recorded; the next query continues it from that checkpoint.
* With ``--remote``, jobs run on the server: the list is the server's, and a job picked
  from it is streamed onto the screen from its first event, then followed live.

Every run is a :class:`~runtime.cli.run.RunOptions` from the session, resolved by
``prepare_run`` in the bridge's worker, so the workbench and ``perstack run`` accept and
refuse exactly the same things.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from runtime.errors import PerstackError
from workbench.jobview import JobView
from workbench.questions import ask_pending, pending_question
from workbench.widgets.header_bar import HeaderBar
from workbench.widgets.query_bar import QueryBar

if TYPE_CHECKING:
    from runtime.model import Checkpoint, ToolCall
    from workbench.bridge import RunBridge
    from workbench.host import WorkbenchHost
    from workbench.stored_jobs import StoredJob

__all__ = ["RunControl"]

_FINAL_STATE = {
    "completed": "completed",
    "stoppedByInteractiveTool": "waiting",
    "stoppedByExceededMaxSteps": "maxSteps",
    "stoppedByError": "error",
}


class RunControl:
    """The app's runs: which job is on screen and what the next run does.

    Attributes:
        job_id: The job on screen (``None`` before the first run or after Ctrl+N).
        coordinator: The Expert that job was started with.
        last: The last run's final checkpoint.
        pending: ``(expert, call)`` of the interactive call the job waits on.
    """

    def __init__(self, app: WorkbenchHost) -> None:
        self.app = app
        self.job_id: str | None = None
        self.coordinator: str | None = None
        self.last: Checkpoint | None = None
        self.pending: tuple[str, ToolCall] | None = None
        self._first = True
        self._storage: Any | None = None
        #: A query to run once the server job being opened is on screen.
        self._then_run = ""
        #: The checkpoint the next follow-up resumes from, when not the job's latest.
        self._resume_from: str | None = None
        #: Where the job on screen was read from, when not this project's storage.
        self.foreign: str | None = None

    @property
    def bridge(self) -> RunBridge:
        return self.app.bridge

    @property
    def remote(self) -> Any:
        """The server jobs run on (``--remote``), or ``None``."""
        return self.app.session.remote

    def storage(self) -> Any:
        """The project's job storage (where ``perstack run`` keeps jobs too); with
        ``--remote``, the events of the job on screen received so far."""
        if self.remote is not None:
            return self.bridge.mirror(self.job_id)  # type: ignore[attr-defined]
        if self._storage is None:
            from runtime.storage import open_storage

            self._storage = open_storage(self.app.session.storage_location())
        return self._storage

    # --- start-up -----------------------------------------------------------------------

    def on_start(self) -> None:
        """Show the job ``--continue``/``--continue-job`` name; run at once when
        ``perstack start <expert> <query>`` was given both."""
        options = self.app.session.options
        query = options.query if options.expert_key and not self.app.preflight.problems else ""
        if self.app.session.open_job:
            self._first = False
            self.open_stored(named=self.app.session.open_job, then_run=query)
        elif options.continue_latest or options.continue_job:
            self._first = False  # the options are spent here, whatever the outcome
            self.open_stored(
                continue_latest=options.continue_latest,
                continue_job=options.continue_job,
                resume_from=options.resume_from,
                then_run=query,
            )
        elif query:
            self.run(query)

    # --- runs ---------------------------------------------------------------------------

    def run(self, text: str) -> None:
        """Run ``text``: a new job, a follow-up, or the answer to a pending question."""
        app = self.app
        if self.bridge.running:
            app.notify("A run is in progress; Ctrl+T stops it.", severity="warning")
            return
        if app.state == "loading":
            app.notify("A stored job is being read; run once it is on screen.", severity="warning")
            return
        if app.preflight.problems and self.remote is None:
            app.notify("Fix perstack.toml first (see the banner).", severity="error")
            return
        if not text:
            app.notify("Type a query first.", severity="warning")
            app.query_one(QueryBar).input.focus()
            return
        if self.pending is not None:
            self.answer(text)
            return
        expert = app.query_one(HeaderBar).expert
        if expert is None:
            app.notify("perstack.toml defines no Expert to run.", severity="error")
            return
        if self.job_id is not None and expert == self.coordinator and self.foreign is None:
            options = self._follow_up(text)
            if options is None:
                return
        else:
            options = app.session.run_options(expert, text, first=self._first)
            if not (options.continue_latest or options.continue_job):
                self._clear(expert)
                app.editing.auto_rerun.remember(expert, text)
        self._launch(options)

    def rerun(self, expert_key: str, query: str) -> None:
        """Auto re-run: ``query`` as a new job of ``expert_key`` (the file was just saved)."""
        app = self.app
        if self.bridge.running:
            return
        app.query_one(HeaderBar).pick(expert_key)
        self._clear(expert_key)
        app.notify(f"Re-running {expert_key} with the new definitions.", title="Auto re-run")
        self._launch(app.session.run_options(expert_key, query))

    def answer(self, text: str) -> None:
        """Answer the pending interactive call with ``text`` and resume the job."""
        if self.pending is None or self.job_id is None:
            return
        self.pending = None
        options = self._follow_up(text, interactive=True)
        if options is not None:
            self._launch(options)

    def ask(self) -> None:
        """Open the dialog for the pending interactive call."""
        from workbench.screens.answer import AnswerScreen

        if self.pending is None:
            self.app.notify("No question is waiting for an answer.")
            return
        expert, call = self.pending

        def later() -> None:
            self.app.notify("The question stays pending: press a to answer it.")

        def answered(answer: str | None) -> None:
            if answer:
                self.answer(answer)
            else:
                later()

        request = pending_question(self.last, call)
        if request is not None:  # an MCP server's question: its form
            ask_pending(self.app, expert, call, request, self.answer, later)
        else:
            self.app.push_screen(AnswerScreen(expert, call), answered)
        self.app.state_changed()

    def stop(self) -> None:
        """Cancel the run in progress (the job stays resumable)."""
        if self.bridge.stop():
            self.app.set_state("stopping")
        else:
            self.app.notify("Nothing is running.")

    def new_job(self) -> None:
        """Forget the job on screen; the next run starts a fresh one."""
        if self.bridge.running:
            self.app.notify("A run is in progress; Ctrl+T stops it first.", severity="warning")
            return
        self._clear(None)
        self.update_prompt()

    def _clear(self, expert: str | None) -> None:
        self.job_id = self.last = self.pending = self._resume_from = self.foreign = None
        self.coordinator = expert
        self.app.node_filter = None
        self.app.show_job(JobView.priced(self.app.preflight.config), "No job yet")
        self.app.set_state("ready")

    def _follow_up(self, text: str, *, interactive: bool = False) -> Any:
        """The options that continue the job on screen with ``text`` (None: cannot)."""
        if self.remote is not None:
            expert = self.coordinator or ""  # the server continues from the latest
        elif self._resume_from is not None and self.last is not None:
            expert = self.last.expert.key  # an earlier checkpoint: its own Expert
        else:
            try:
                expert = self._latest_expert()
            except PerstackError as error:
                self.app.notify(str(error), severity="error")
                return None
        return self.app.session.run_options(
            expert,
            text,
            continue_job=self.job_id,
            resume_from=self._resume_from,
            interactive=interactive,
        )

    def job_name(self) -> str | None:
        """The job on screen as :func:`runtime.storage.sources.open_job` takes it."""
        return self.foreign or self.job_id

    def launch_job(self, starter: Any, coordinator: str) -> None:
        """Run a job that is not a plain run (a fork: ``starter`` is a
        :data:`~workbench.bridge.JobStarter`) on a cleared screen, live."""
        if self.bridge.running:
            self.app.notify("A run is in progress; Ctrl+T stops it first.", severity="warning")
            return
        self._clear(coordinator)
        self._first = False
        self.app.set_state("running")
        self.bridge.start_job(starter)
        self.update_prompt()

    def _launch(self, options: Any) -> None:
        self._first = False
        self._resume_from = None
        self.app.set_state("running")
        self.bridge.start(options)
        self.app.query_one(QueryBar).input.value = ""
        self.update_prompt()

    def _latest_expert(self) -> str:
        """The Expert of the job's latest checkpoint (a job may stop inside a delegate)."""
        from runtime.storage import select_checkpoint

        checkpoint = select_checkpoint(
            self.storage(), continue_latest=False, continue_job=self.job_id, resume_from=None
        )
        return checkpoint.expert.key if checkpoint is not None else self.coordinator or ""

    # --- stored jobs ----------------------------------------------------------------------

    def choose_stored(self) -> None:
        """Open the list of stored jobs; the one chosen goes on screen."""
        from workbench.jobs_list import jobs_screen

        if self.bridge.running:
            self.app.notify("A run is in progress; Ctrl+T stops it first.", severity="warning")
            return

        def chosen(choice: Any) -> None:
            if choice is not None:  # a JobChoice: open, replay or diff (workbench.replaying)
                self.app.open_choice(choice)

        self.app.push_screen(jobs_screen(self), chosen)

    def open_stored(
        self,
        *,
        continue_latest: bool = False,
        continue_job: str | None = None,
        resume_from: str | None = None,
        then_run: str = "",
        named: str | None = None,
    ) -> None:
        """Read a stored job onto the screen (in a thread); then follow up with ``then_run``.

        The options mean what they mean to ``perstack run``; ``resume_from`` shows the job
        as far as that checkpoint, and the next query continues from there. ``named`` is
        ``perstack start --open``'s job: an id, a job folder or a capture.
        """
        from workbench.stored_jobs import load_named_job, load_stored_job

        app = self.app
        if self.bridge.running:
            app.notify("A run is in progress; Ctrl+T stops it first.", severity="warning")
            return
        if self.remote is not None:
            self._open_remote(continue_latest, continue_job, resume_from, then_run)
            return
        app.set_state("loading")

        def load() -> None:
            try:
                if named is not None:
                    session = app.session
                    job = load_named_job(named, session.cwd, session.storage_location())
                else:
                    job = load_stored_job(
                        self.storage(),
                        continue_latest=continue_latest,
                        continue_job=continue_job,
                        resume_from=resume_from,
                        first_rows=lambda events: app.call_from_thread(self._show_first, events),
                    )
            except PerstackError as error:
                app.call_from_thread(self._not_loaded, str(error))
                return
            app.call_from_thread(self._show_stored, job, resume_from is not None, then_run)

        app.run_worker(load, name="load-job", group="load-job", thread=True, exclusive=True)

    def _open_remote(
        self, latest: bool, job_id: str | None, resume_from: str | None, then_run: str
    ) -> None:
        """Stream a server job onto the screen (the newest with ``latest``)."""
        app = self.app
        if resume_from is not None:
            app.notify(
                "--resume-from is for local jobs: a server job continues from its latest "
                "checkpoint.",
                severity="warning",
            )
        if latest and job_id is None:
            from workbench.remote import list_remote_jobs

            try:
                jobs = list_remote_jobs(self.remote, limit=1)
            except PerstackError as error:
                self._not_loaded(str(error))
                return
            if not jobs:
                self._not_loaded("The server has no job yet")
                return
            job_id = jobs[0].job_id
        if job_id is None:
            return
        self._clear(None)
        self._first = False
        self._then_run = then_run
        app.set_state("running")
        self.bridge.attach(job_id)  # type: ignore[attr-defined]
        self.update_prompt()

    def _not_loaded(self, problem: str) -> None:
        self.app.notify(
            f"{problem}: the next run starts a new job.", title="No job to show", severity="error"
        )
        self._clear(self.coordinator)
        self.update_prompt()

    def _show_first(self, events: list[Any]) -> None:
        """The first rows of a long stored job, while the rest is read."""
        view = JobView.priced(self.app.preflight.config)
        view.apply(events)
        self.app.show_job(view, f"job {view.job_id[:8]} · reading…" if view.job_id else "")

    def _show_stored(self, job: StoredJob, resumed_earlier: bool, then_run: str) -> None:
        app = self.app
        view = JobView.priced(app.preflight.config)
        view.costs.set_run_models(job.runs)  # stored jobs have no initializeRuntime events
        view.apply(job.events)
        checkpoint = job.checkpoint
        if any(row.is_open for row in view.rows):
            # Stopped mid-step (Ctrl+C, a crash): nothing is running any more.
            view.stop(max(event.timestamp for event in job.events))
        self.job_id = job.job_id
        self.coordinator = job.coordinator
        self._resume_from = checkpoint.id if resumed_earlier else None
        self.foreign = job.foreign
        app.node_filter = None
        app.query_one(HeaderBar).pick(job.coordinator)
        app.show_job(view, f"job {job.job_id[:8]}")
        self._rest_on(checkpoint, otherwise="stopped")  # e.g. cut short mid-step
        app.query_one(QueryBar).input.value = ""  # a prefilled query was for a new job
        self.update_prompt()
        follow = (
            "a query continues it, Ctrl+N starts a new one."
            if job.foreign is None
            else f"read from {job.foreign}; a query starts a new job here."
        )
        app.notify(
            f"Job {job.job_id} of {job.coordinator}, as far as step {checkpoint.step_number}: "
            + follow,
            title="Stored job",
        )
        if then_run:
            self.run(then_run)

    # --- bridge messages ------------------------------------------------------------------

    def started(self, message: RunBridge.Started) -> None:
        """A run was prepared: remember its job."""
        if self.job_id != message.job_id:
            self.job_id = message.job_id
            self.coordinator = message.resumed.expert.key if message.resumed else message.expert_key
            self.app.query_one(HeaderBar).pick(self.coordinator)
            self.app.query_one("#run-tree").root.set_label(f"job {message.job_id[:8]}")
        self.app.state_changed()

    def finished(self, message: RunBridge.Finished) -> None:
        """A run ended: show how, and ask the pending question if there is one."""
        app = self.app
        if message.error is not None:
            app.set_state("error")
            app.notify(
                message.error, title="The run did not complete", severity="error", markup=False
            )
        elif message.cancelled:
            app.after_update(app.view.stop(app.clock()))
            app.set_state("stopped")
        elif message.checkpoint is not None:
            self._rest_on(message.checkpoint, otherwise="completed")
        self.update_prompt()
        app.query_one("#stream").show_row(None, False)
        if self.pending is not None:
            self.ask()
        elif self._then_run and message.error is None:
            query, self._then_run = self._then_run, ""
            self.run(query)
        app.state_changed()

    def _rest_on(self, checkpoint: Checkpoint, *, otherwise: str) -> None:
        """The job now stands at ``checkpoint``: its state, and the question it waits on."""
        self.last = checkpoint
        self.pending = None
        if checkpoint.status == "stoppedByInteractiveTool" and checkpoint.pending_tool_calls:
            self.pending = (checkpoint.expert.key, checkpoint.pending_tool_calls[0])
        self.app.set_state(_FINAL_STATE.get(checkpoint.status, otherwise))

    # --- the prompt -----------------------------------------------------------------------

    def update_prompt(self) -> None:
        """Say in the query bar what Enter will do."""
        app = self.app
        bar = app.query_one(QueryBar)
        expert = app.query_one(HeaderBar).expert or "the Expert"
        if self.bridge.running:
            bar.set_mode("Running", f"{expert} is working on it", "Ctrl+T: stop")
        elif self.pending is not None:
            bar.set_mode("Answer", f"Answer {self.pending[1].tool_name}", "Enter: answer")
        elif self.job_id is not None and expert == self.coordinator:
            bar.set_mode(
                "Follow-up",
                f"A follow-up for {expert} on this job",
                "Enter: continue · Ctrl+N: new job",
            )
        else:
            bar.set_mode("Ask", f"What should {expert} do?", "Enter: run")

