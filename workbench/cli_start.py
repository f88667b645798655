"""``perstack start [expertKey] [query]``: the workbench, or ``perstack run`` when headless.

With ``--json``, or when stdout is not a terminal, it prints exactly what ``perstack run``
prints, through the same code path (``prepare_run`` / ``execute_run``). Otherwise it opens
the Textual workbench; Textual is imported only then, so the headless path and
``perstack --help`` stay as fast as the runtime.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from runtime.cli.run import RunOptions, execute_run, prepare_run, run_options
from runtime.errors import PerstackError

__all__ = ["start_command", "is_headless"]


def is_headless(json_output: bool) -> bool:
    """Whether ``start`` behaves like ``run``: ``--json``, or stdout is not a terminal."""
    return json_output or not sys.stdout.isatty()


@click.command("start")
@click.argument("expert_key", required=False)
@click.argument("query", required=False)
@run_options
@click.option(
    "--json",
    "json_output",
    is_flag=True,
    help="Do not open the workbench: print JSON events like `perstack run`.",
)
@click.option(
    "--open",
    "open_name",
    metavar="JOB",
    help="Open a job on screen: a job id, a job folder or a .jsonl capture of `perstack run`.",
)
@click.option(
    "--in-replay",
    "in_replay",
    is_flag=True,
    help="With --open: show the job in replay, a cursor in time from its first event.",
)
@click.option(
    "--remote",
    metavar="URL",
    help="Drive a `perstack serve` at URL: jobs run there (key from PERSTACK_API_KEY).",
)
def start_command(
    json_output: bool, remote: str | None, open_name: str | None, in_replay: bool, **kwargs: Any
) -> int:
    """Open the workbench: pick an Expert, run it, watch every step live."""
    kwargs.pop("run_id", None)
    expert_key, query = kwargs.pop("expert_key"), kwargs.pop("query")
    if in_replay and open_name is None:
        raise PerstackError("--in-replay replays the job --open names: give --open <job>")
    if open_name is not None:
        if is_headless(json_output) or remote is not None:
            raise PerstackError(
                "--open shows a job in the workbench (not with --json or --remote); "
                "headless, read it with `perstack log --job`"
            )
        if kwargs.get("continue_latest") or kwargs.get("continue_job"):
            raise PerstackError("--open and --continue/--continue-job cannot be used together")
        options = RunOptions(expert_key or "", query or "", **kwargs)
        return open_workbench(options, open_name=open_name, replay=in_replay)
    if remote is not None:
        if is_headless(json_output):
            raise PerstackError(
                "--remote opens the workbench; headless, use the client (docs/serve.md)"
            )
        return open_workbench(RunOptions(expert_key or "", query or "", **kwargs), remote=remote)
    if is_headless(json_output):
        if not expert_key or not query:
            raise PerstackError(
                "perstack start needs <expertKey> and <query> when it prints JSON "
                "(--json, or stdout is not a terminal)"
            )
        return execute_run(prepare_run(RunOptions(expert_key, query, **kwargs)))
    return open_workbench(RunOptions(expert_key or "", query or "", **kwargs))


def open_workbench(
    options: RunOptions,
    cwd: Path | None = None,
    remote: str | None = None,
    open_name: str | None = None,
    replay: bool = False,
) -> int:
    """Find the project (or install the demo) and run the workbench until it quits.

    With ``remote``, the server is asked first which application its key opens (a server
    that cannot be reached, or refuses the key, is one line and exit code 1).
    """
    import os

    from workbench.session import Session, find_project

    cwd = cwd or Path.cwd()
    target = None
    if remote is not None:
        from workbench.remote import connect

        target = connect(remote, os.environ.get("PERSTACK_API_KEY") or None)
    session = Session(find_project(cwd, options.config), options, target, open_job=open_name)
    session.replay = replay
    from workbench.app import WorkbenchApp

    WorkbenchApp(session).run()
    return 0
