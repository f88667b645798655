"""``perstack run <expertKey> <query>``: run an Expert headless, one JSON event per line.

Order of work (spec §13.2): parse → config → checkpoint selection → env → provider →
run. Every failure before the run is one line on stderr and exit code 1; a run that ends
in any status (completed, stopped by an interactive tool, max steps, error) exits 0.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import signal
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from runtime.errors import PerstackError

if TYPE_CHECKING:
    from runtime.config.models import PerstackConfig
    from runtime.engine.bus import RawEventListener
    from runtime.events import BaseEvent
    from runtime.model import Checkpoint, InteractiveToolCallResult
    from runtime.settings import RunSetting
    from runtime.storage import Storage

__all__ = [
    "run_command",
    "RunOptions",
    "prepare_run",
    "execute_run",
    "print_events",
    "run_options",
]


@dataclass
class RunOptions:
    """The options shared by ``perstack run`` and ``perstack start``."""

    expert_key: str
    query: str
    config: str | None = None
    provider: str | None = None
    model: str | None = None
    reasoning_budget: str | None = None
    max_steps: int | None = None
    max_retries: int | None = None
    timeout: int | None = None
    job_id: str | None = None
    env_path: tuple[str, ...] = ()
    verbose: bool = False
    continue_latest: bool = False
    continue_job: str | None = None
    resume_from: str | None = None
    interactive: bool = False
    runtime: str | None = None
    workspace: str | None = None
    env_names: tuple[str, ...] = ()
    replay: str | None = None
    #: ``compact`` (each message once in the stream) or ``upstream`` (full histories).
    event_format: str = "compact"

    def apply_overrides(self, config: PerstackConfig) -> PerstackConfig:
        """``config`` with this command line's settings on top (CLI > TOML > defaults)."""
        from runtime.config import with_overrides

        return with_overrides(
            config,
            provider=self.provider,
            model=self.model,
            reasoning_budget=self.reasoning_budget,
            max_steps=self.max_steps,
            max_retries=self.max_retries,
            timeout=self.timeout,
            runtime=self.runtime,
        )


@dataclass
class PreparedRun:
    """Everything resolved before a run starts (so errors come before any event)."""

    setting: RunSetting
    config: PerstackConfig
    storage: Storage
    checkpoint: Checkpoint | None
    locked_tools: dict[str, Any] | None = None
    event_format: str = "compact"


def run_options(func: Any) -> Any:
    """The options of spec §13.2, shared by ``run`` and ``start``."""
    options = [
        click.option("--config", "config", metavar="PATH", help="Path to perstack.toml."),
        click.option("--provider", help="Provider name (overrides perstack.toml)."),
        click.option("--model", help="Model name (overrides perstack.toml)."),
        click.option(
            "--reasoning-budget",
            metavar="BUDGET",
            help="none|minimal|low|medium|high or a token count.",
        ),
        click.option("--max-steps", type=click.IntRange(min=1), help="Job-wide step limit."),
        click.option("--max-retries", type=click.IntRange(min=0), help="Retries per failure."),
        click.option("--timeout", type=click.IntRange(min=1), help="Per-generation timeout in ms."),
        click.option("--job-id", help="Id of a new job."),
        click.option("--env-path", multiple=True, metavar="PATH", help="A .env file (repeatable)."),
        click.option("--verbose", is_flag=True, help="Tracebacks for unexpected errors."),
        click.option(
            "--continue", "continue_latest", is_flag=True, help="Continue the latest job."
        ),
        click.option("--continue-job", metavar="JOB_ID", help="Continue this job."),
        click.option(
            "--resume-from",
            metavar="CHECKPOINT_ID",
            help="Resume from this checkpoint (needs --continue-job).",
        ),
        click.option(
            "-i",
            "--interactive-tool-call-result",
            "interactive",
            is_flag=True,
            help="The query answers the pending interactive tool call.",
        ),
        click.option("--runtime", help="Execution runtime; only 'local' is supported."),
        click.option("--workspace", metavar="PATH", help="Directory the run works in."),
        click.option(
            "--env", "env_names", multiple=True, metavar="NAME", help="(docker only) ignored."
        ),
        click.option("--run-id", "run_id", hidden=True, help="Accepted and ignored."),
        click.option(
            "--replay",
            metavar="JOB_ID",
            help="Answer every model call from this stored job's events (offline).",
        ),
        click.option(
            "--event-format",
            type=click.Choice(["compact", "upstream"]),
            default="compact",
            show_default=True,
            help="compact: each message once in the stream (docs/events.md); "
            "upstream: full histories in every event, as upstream Perstack prints them.",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


@click.command("run")
@click.argument("expert_key")
@click.argument("query")
@run_options
def run_command(**kwargs: Any) -> int:
    """Run an Expert headless and print one JSON event per line on stdout."""
    kwargs.pop("run_id", None)
    options = RunOptions(**kwargs)
    prepared = prepare_run(options)
    return execute_run(prepared)


def _check_flags(options: RunOptions) -> None:
    if options.resume_from and not options.continue_job:
        raise PerstackError("--resume-from requires --continue-job")
    if options.continue_latest and options.continue_job:
        raise PerstackError("--continue and --continue-job cannot be used together")
    if options.interactive and not (options.continue_latest or options.continue_job):
        raise PerstackError("-i needs --continue or --continue-job (the job to answer)")
    if options.env_names:
        _warn("--env is only used by the docker runtime; ignored by the local runtime")


def prepare_run(options: RunOptions, *, cwd: Path | None = None) -> PreparedRun:
    """Resolve config, checkpoint, env and settings for a run (raising one-line errors)."""
    from runtime.config import find_config, load_config, load_env, resolve_env_paths
    from runtime.storage import open_storage, select_checkpoint, storage_location

    cwd = cwd or Path.cwd()
    _check_flags(options)
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
    if options.replay is not None:  # the replay provider reads the job from this storage
        config = _with_replay(config, options.replay, location)
    checkpoint = select_checkpoint(
        storage,
        continue_latest=options.continue_latest,
        continue_job=options.continue_job,
        resume_from=options.resume_from,
    )
    answer = None
    if checkpoint is not None:
        if checkpoint.expert.key != options.expert_key:
            raise PerstackError(
                f"Checkpoint expert key {checkpoint.expert.key} does not match input "
                f"expert key {options.expert_key}"
            )
        if options.interactive:
            answer = interactive_answer(checkpoint, options.query)
            check_elicitation_answer(checkpoint, answer)
    env = load_env(resolve_env_paths(config, list(options.env_path)), cwd)
    from runtime.engine.api import settings_from_config

    setting = settings_from_config(
        config,
        options.expert_key,
        None if answer is not None else options.query,
        env=env,
        workspace=workspace,
        job_id=checkpoint.job_id if checkpoint is not None else options.job_id,
        interactive_answer=answer,
    )
    setting.verbose = options.verbose or None
    return PreparedRun(
        setting=setting,
        config=config,
        storage=storage,
        checkpoint=checkpoint,
        locked_tools=_locked_tools(config),
        event_format=options.event_format,
    )


def _with_replay(config: PerstackConfig, job_id: str, root: Path | str) -> PerstackConfig:
    from runtime.config.models import ProviderTable

    setting = {"job": job_id, "storage": str(root)}
    provider = ProviderTable(provider_name="replay", setting=setting)
    return config.model_copy(update={"provider": provider})


def _locked_tools(config: PerstackConfig) -> dict[str, Any] | None:
    """Tool definitions from ``perstack.lock`` next to the config, when there is one.

    Locked skills offer their tools at once and connect on their first call, so the run
    starts inference without waiting for any MCP server.
    """
    from runtime.skills.lockfile import find_lockfile, load_lockfile

    path = find_lockfile(config.path)
    if path is None:
        return None
    lockfile = load_lockfile(path, on_warning=_warn)
    return lockfile.locked_tools(config) if lockfile is not None else None


def interactive_answer(checkpoint: Checkpoint, query: str) -> InteractiveToolCallResult:
    """The answer to the checkpoint's first pending interactive call (D15).

    A query that is a JSON object with ``toolCallId``, ``toolName``, ``skillName`` and
    ``text`` is used verbatim.
    """
    from runtime.model import InteractiveToolCallResult

    try:
        data = json.loads(query)
    except ValueError:
        data = None
    if isinstance(data, dict) and {"toolCallId", "toolName", "skillName", "text"} <= set(data):
        return InteractiveToolCallResult.model_validate(data)
    pending = checkpoint.pending_tool_calls or []
    if not pending:
        raise PerstackError(
            f"Checkpoint {checkpoint.id} has no pending interactive tool call to answer"
        )
    call = pending[0]
    return InteractiveToolCallResult(
        tool_call_id=call.id, tool_name=call.tool_name, skill_name=call.skill_name, text=query
    )


def check_elicitation_answer(checkpoint: Checkpoint, answer: InteractiveToolCallResult) -> None:
    """When the run waits on an MCP server's question, check the answer fits it before
    anything starts.

    Raises:
        PerstackError: One line saying what the question expects.
    """
    from runtime.engine.skill_services import PENDING_KEY
    from runtime.skills.calls import ElicitationRequest
    from runtime.skills.elicitation import parse_answer

    pending = (checkpoint.metadata or {}).get(PENDING_KEY)
    if isinstance(pending, dict) and pending.get("toolCallId") == answer.tool_call_id:
        parse_answer(answer.text, ElicitationRequest.from_json(pending.get("request") or {}))


def execute_run(prepared: PreparedRun) -> int:
    """Run the prepared job, printing each event as one JSON line on stdout."""
    from runtime.engine.api import run

    return print_events(
        lambda print_event: run(
            prepared.setting,
            storage=prepared.storage,
            checkpoint=prepared.checkpoint,
            raw_event_listener=print_event,
            locked_tools=prepared.locked_tools,
            event_format=prepared.event_format,  # type: ignore[arg-type]
        )
    )


def print_events(start: Callable[[RawEventListener], Awaitable[Any]]) -> int:
    """Run ``start(print_event)`` (a job), printing each event as one JSON line on stdout.

    Returns the exit code: 0 whatever the job's outcome, 143 when SIGTERM (or Ctrl+C's
    cancellation) stopped it.
    """
    out = sys.stdout.buffer

    def print_event(event: BaseEvent, data: bytes) -> None:
        out.write(data + b"\n")
        out.flush()
        if event.type == "warning":  # also for people watching stderr (e.g. lockfile drift)
            _warn(getattr(event, "message", ""))

    async def main() -> None:
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        assert task is not None
        # SIGTERM cancels the run like Ctrl+C does: skills close, files stay whole.
        loop.add_signal_handler(signal.SIGTERM, task.cancel)
        await start(print_event)

    # Everything imported so far lives as long as the process: keep it out of the
    # collector's full passes, which otherwise grow with every module and SDK loaded.
    gc.freeze()
    try:
        asyncio.run(main())
    except asyncio.CancelledError:
        _warn("Terminated; resume with --continue")
        return 143
    return 0


def _warn(message: str) -> None:
    sys.stderr.write(
        f"warning: {message}\n" if not message.startswith("warning") else message + "\n"
    )
