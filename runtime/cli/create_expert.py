"""``perstack create-expert "<description>"``: generate Experts, test them, iterate, report.

The work is done by :mod:`runtime.create_expert`; this module is the terminal around it:
progress lines on stderr while the team works, the report on stdout (or one JSON object
with ``--json``), the change to ``perstack.toml`` as a diff, a confirmation (``--yes`` for
scripts), the write with a backup, and ``create-expert-report.md``.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from runtime.errors import PerstackError

if TYPE_CHECKING:
    from runtime.create_expert.loop import Outcome

__all__ = ["create_expert_command", "finish"]


@click.command("create-expert")
@click.argument("description", required=False)
@click.option("--expert", metavar="KEY", help="Improve this Expert and its delegates.")
@click.option("--config", "config", metavar="PATH", help="The perstack.toml to change.")
@click.option("--provider", help="Provider for the team and the test runs.")
@click.option("--model", help="Model for the team and the test runs.")
@click.option(
    "--max-iterations",
    type=click.IntRange(min=1),
    default=3,
    show_default=True,
    help="The most rounds of design, test and judgement.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object: the report.")
@click.option("--yes", "-y", is_flag=True, help="Write the change without asking.")
@click.option("--env-path", multiple=True, metavar="PATH", help="A .env file (repeatable).")
@click.option(
    "--demo",
    is_flag=True,
    help="Run the fitness walkthrough offline (scripted answers) in ./create-expert-demo.",
)
@click.option("--verbose", is_flag=True, help="Tracebacks for unexpected errors.")
@click.option("--lab-skill", is_flag=True, hidden=True)
def create_expert_command(
    description: str | None,
    expert: str | None,
    config: str | None,
    provider: str | None,
    model: str | None,
    max_iterations: int,
    as_json: bool,
    yes: bool,
    env_path: tuple[str, ...],
    demo: bool,
    verbose: bool,
    lab_skill: bool,
) -> int:
    """Create Experts from a description (or improve one with --expert), test them for
    real, iterate until they behave, and report; perstack.toml changes only once you
    confirm."""
    from runtime.create_expert.loop import CreateExpertOptions, CreateExpertSession

    if lab_skill:
        raise PerstackError(
            "The @perstack/create-expert skill is served in-process by `perstack "
            "create-expert`; it does not run on its own"
        )
    cwd = Path.cwd()
    if demo:
        from runtime.create_expert.demo import DEMO_DESCRIPTION, install_demo

        cwd = install_demo(cwd / "create-expert-demo")
        description = description or DEMO_DESCRIPTION
        _progress(f"demo project: {cwd} (scripted answers, offline)")
    if not description or not description.strip():
        raise click.UsageError('Describe the Experts: perstack create-expert "<description>"')
    options = CreateExpertOptions(
        description=description.strip(),
        expert=expert,
        config=config,
        provider=provider,
        model=model,
        max_iterations=max_iterations,
        env_path=env_path,
    )
    session = CreateExpertSession(options, cwd=cwd, progress=_progress)
    _progress(
        f"job {session.job_id} (perstack log --job {session.job_id}); drafts in {session.directory}"
    )
    outcome = _run(session)
    return finish(outcome, as_json=as_json, yes=yes)


def _progress(line: str) -> None:
    sys.stderr.write(f"create-expert: {line}\n")
    sys.stderr.flush()


def _run(session: Any) -> Outcome:
    async def main() -> Outcome:
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        assert task is not None
        loop.add_signal_handler(signal.SIGTERM, task.cancel)
        return await session.run()

    stopped = f"perstack.toml was not changed (drafts so far in {session.directory})"
    try:
        return asyncio.run(main())
    except asyncio.CancelledError:
        raise PerstackError(f"Stopped; {stopped}") from None
    except KeyboardInterrupt:
        sys.stderr.write(f"Interrupted; {stopped}\n")
        raise click.exceptions.Exit(130) from None


def finish(outcome: Outcome, *, as_json: bool, yes: bool) -> int:
    """Show the report and the change, ask, write; the exit code."""
    from runtime.create_expert.loop import apply_proposal
    from runtime.create_expert.report import report_json, report_markdown, write_report

    proposal = outcome.proposal
    out = sys.stdout
    if not as_json:
        out.write(report_markdown(outcome))
        out.flush()
    if proposal.new_text is not None:
        if not proposal.diff:
            _progress(f"{proposal.path.name} already holds these definitions; nothing to write")
            outcome.applied = None
        elif yes or _confirm(proposal, show_diff=as_json):
            backup = apply_proposal(outcome)
            _progress(f"wrote {proposal.path}" + (f" (backup: {backup})" if backup else ""))
        else:
            outcome.applied = False
            _progress(f"{proposal.path.name} not changed")
    path = write_report(outcome)
    if as_json:
        import json

        data = report_json(outcome)
        data["report"] = str(path)
        out.write(json.dumps(data, ensure_ascii=False) + "\n")
        out.flush()
    else:
        _progress(f"report written to {path}")
    if proposal.new_text is None:
        raise PerstackError(f"{proposal.path.name} not changed: {proposal.problem}")
    return 0


def _confirm(proposal: Any, *, show_diff: bool) -> bool:
    if show_diff:  # with --json the report (and its diff) is not on screen yet
        sys.stderr.write(proposal.diff)
    verb = "Create" if proposal.creates else "Write this change to"
    try:
        return click.confirm(f"{verb} {proposal.path}?", default=False, err=True)
    except click.exceptions.Abort:  # no answer (end of input): nothing is written
        sys.stderr.write("\n")
        return False
