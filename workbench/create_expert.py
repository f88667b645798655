"""F3, "New Expert from a description": ``perstack create-expert`` as a job on screen.

The dialog (:class:`~workbench.screens.describe.DescribeScreen`) asks what to make or
improve; the session runs in the bridge's worker like any run, so the team's job streams
onto the timeline and the tree (its rounds, delegations and test runs) and stays in the
project's storage. When it ends, the proposed change to ``perstack.toml`` opens as a diff
to accept or reject (:class:`~workbench.screens.proposal.ProposalScreen`); accepting
writes it (validated, with a backup) and the hot reload brings the new Experts into the
picker. The report then opens in a pane of its own
(:class:`~workbench.screens.report.ReportScreen`) and is written as
``create-expert-report.md``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from runtime.errors import PerstackError
from workbench.widgets.header_bar import HeaderBar

if TYPE_CHECKING:
    from runtime.create_expert.loop import Outcome
    from workbench.bridge import RunBridge
    from workbench.host import WorkbenchHost
    from workbench.screens.describe import CreateRequest

__all__ = ["CreateExpertControl"]


class CreateExpertControl:
    """The create-expert flow of the app.

    Attributes:
        outcome: The last session's outcome (``None`` before the first).
        active: A session is running.
    """

    def __init__(self, app: WorkbenchHost) -> None:
        self.app = app
        self.outcome: Outcome | None = None
        self.active = False

    def open(self) -> None:
        """Ask what to create or improve (nothing starts until the dialog is submitted)."""
        from workbench.screens.describe import DescribeScreen

        app = self.app
        if app.session.remote is not None:
            app.notify(
                "create-expert runs on this machine: start the workbench without "
                "--remote to use it.",
                severity="warning",
            )
            return
        if app.bridge.running:
            app.notify("A run is in progress; Ctrl+T stops it first.", severity="warning")
            return
        if app.preflight.problems:
            app.notify("Fix perstack.toml first (see the banner).", severity="error")
            return

        def chosen(request: CreateRequest | None) -> None:
            if request is not None:
                self.start(request)

        app.push_screen(DescribeScreen(app.preflight.experts), chosen)

    def start(self, request: CreateRequest) -> None:
        """Run create-expert for ``request`` as the job on screen."""
        from runtime.create_expert.loop import CreateExpertOptions, CreateExpertSession

        app = self.app
        session_options = app.session.options
        options = CreateExpertOptions(
            description=request.description,
            expert=request.expert,
            config=str(app.session.project.config_path),
            provider=session_options.provider,
            model=session_options.model,
            max_iterations=request.max_iterations,
            env_path=tuple(session_options.env_path),
        )
        cwd = app.session.cwd

        def prepare(on_event: Any) -> tuple[str, str, Any]:  # in the bridge's thread
            session = CreateExpertSession(options, cwd=cwd, on_event=on_event)
            return session.job_id, "create-expert", session.run()

        app.runs.new_job()
        self.active = True
        app.set_state("running")
        app.bridge.start_job(prepare)

    def finished(self, message: RunBridge.Finished) -> None:
        """The session ended: show the proposed change (then the report)."""
        if not self.active:
            return
        self.active = False
        outcome = message.result
        if message.error is not None or message.cancelled or outcome is None:
            return  # the run controller has said how it ended
        self.outcome = outcome
        app = self.app
        app.set_state("completed")
        proposal = outcome.proposal
        if proposal.new_text is None or not proposal.diff:
            app.notify(
                f"perstack.toml not changed: {proposal.problem or 'nothing to change'}.",
                title="create-expert",
                severity="warning" if proposal.problem else "information",
            )
            self._report()
            return
        from workbench.screens.proposal import ProposalScreen

        rounds = len(outcome.state.rounds)
        summary = (
            f"{', '.join(outcome.state.touched)} after {rounds} round{'s' * (rounds != 1)}: "
            f"{outcome.stop_reason}{'' if outcome.stable else ' (not stable)'}."
        )
        app.push_screen(ProposalScreen(proposal.path.name, summary, proposal.diff), self.decided)
        app.state_changed()

    def decided(self, accepted: bool | None) -> None:
        """Write the change (accepted) or leave the file alone; then show the report."""
        from runtime.create_expert.loop import apply_proposal

        outcome = self.outcome
        if outcome is None:
            return
        app = self.app
        if accepted:
            try:
                backup = apply_proposal(outcome)
            except PerstackError as error:
                app.notify(str(error), title="Not written", severity="error", markup=False)
            else:
                app.editing.saved()  # reload now: the new Experts join the picker
                kept = f"; the old file is kept as {backup.name}" if backup else ""
                app.notify(f"Wrote {outcome.proposal.path.name}{kept}.", title="create-expert")
                app.query_one(HeaderBar).pick(outcome.state.touched[0])
        else:
            outcome.applied = False
            app.notify("perstack.toml not changed.", title="create-expert")
        self._report()

    def _report(self) -> None:
        from runtime.create_expert.report import report_markdown, write_report
        from workbench.screens.report import ReportScreen

        outcome = self.outcome
        assert outcome is not None
        try:
            where = write_report(outcome).name
        except OSError as error:
            where = f"(not written: {error.strerror})"
        self.app.push_screen(ReportScreen(report_markdown(outcome), where))
        self.app.state_changed()
