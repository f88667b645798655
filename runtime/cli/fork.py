"""``perstack fork <job> <checkpointId> [query]``: a new job from any step of another.

It prints JSON events exactly like ``perstack run`` and exits like it. The new job goes on
from the checkpoint with the ``perstack.toml`` of now and the run options given (another
``--provider`` and ``--model`` too); see :mod:`runtime.engine.fork` for what happens.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from runtime.cli.run import (
    RunOptions,
    _locked_tools,
    _warn,
    _with_replay,
    print_events,
    run_options,
)
from runtime.errors import PerstackError

if TYPE_CHECKING:
    from runtime.settings import RunSetting
    from runtime.storage import Storage
    from runtime.storage.sources import JobSource

__all__ = ["fork_command", "prepare_fork"]

#: Run options that choose a job to continue: a fork names its job and checkpoint itself.
_CONTINUE_OPTIONS = {
    "continue_latest": "--continue",
    "continue_job": "--continue-job",
    "resume_from": "--resume-from",
    "interactive": "-i",
}


@dataclass
class PreparedFork:
    """Everything resolved before a fork starts (so errors come before any event)."""

    source: JobSource
    checkpoint_id: str
    query: str | None
    setting: RunSetting
    storage: Storage
    locked_tools: dict[str, Any] | None
    event_format: str


@click.command("fork")
@click.argument("job")
@click.argument("checkpoint_id", metavar="CHECKPOINT_ID")
@click.argument("query", required=False)
@run_options
def fork_command(job: str, checkpoint_id: str, query: str | None, **kwargs: Any) -> int:
    """Start a new job from a checkpoint of JOB (an id, a job folder or a .jsonl capture),
    with perstack.toml as it is now; QUERY is added as a new user message. Prints JSON
    events like `perstack run`."""
    kwargs.pop("run_id", None)
    for name, flag in _CONTINUE_OPTIONS.items():
        if kwargs.get(name):
            raise PerstackError(f"{flag} cannot be used with perstack fork: it names its job")
    options = RunOptions(expert_key="", query=query or "", **kwargs)
    prepared = prepare_fork(options, job, checkpoint_id, query)
    from runtime.engine.api import fork

    return print_events(
        lambda print_event: fork(
            prepared.setting,
            prepared.source,
            prepared.checkpoint_id,
            prepared.query,
            storage=prepared.storage,
            raw_event_listener=print_event,
            locked_tools=prepared.locked_tools,
            event_format=prepared.event_format,  # type: ignore[arg-type]
        )
    )


def prepare_fork(
    options: RunOptions,
    job: str,
    checkpoint_id: str,
    query: str | None,
    *,
    cwd: Path | None = None,
) -> PreparedFork:
    """Resolve the job, the checkpoint, the config and the settings of a fork.

    Raises:
        PerstackError: one line: the job or checkpoint is not there, the config is wrong,
            the checkpoint's Expert is no longer defined, ….
    """
    from runtime.config import find_config, load_config, load_env, resolve_env_paths
    from runtime.engine.api import settings_from_config
    from runtime.storage import open_storage, storage_location
    from runtime.storage.sources import open_job

    cwd = cwd or Path.cwd()
    if options.replay is not None and options.provider is not None:
        raise PerstackError("--replay and --provider cannot be used together")
    config = options.apply_overrides(load_config(find_config(cwd, options.config)))
    for warning in config.warnings:
        _warn(warning)
    workspace = Path(options.workspace).resolve() if options.workspace else cwd
    if not workspace.is_dir():
        raise PerstackError(f"--workspace {options.workspace}: not a directory")
    location = storage_location(workspace, os.environ)
    storage = open_storage(location)
    source = open_job(job, cwd=cwd, storage_root=location)
    expert_key = source.checkpoint_expert(checkpoint_id)  # the whole one is read once, later
    if options.replay is not None:
        config = _with_replay(config, options.replay, location)
    env = load_env(resolve_env_paths(config, list(options.env_path)), cwd)
    setting = settings_from_config(
        config, expert_key, query, env=env, workspace=workspace, job_id=options.job_id
    )
    if options.job_id is not None and storage.retrieve_job(options.job_id) is not None:
        raise PerstackError(f"--job-id {options.job_id}: a job of that id already exists")
    setting.verbose = options.verbose or None
    ref = source.storage.checkpoint_file(source.job_id, checkpoint_id)
    if ref is not None and ref.step + 1 >= setting.max_steps:
        _warn(
            f"the fork starts at step {ref.step + 1} and maxSteps is {setting.max_steps} "
            "(job-wide): it stops after one step; raise --max-steps"
        )
    return PreparedFork(
        source=source,
        checkpoint_id=checkpoint_id,
        query=query,
        setting=setting,
        storage=storage,
        locked_tools=_locked_tools(config),
        event_format=options.event_format,
    )
