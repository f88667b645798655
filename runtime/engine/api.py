"""The embeddable entry point: run an Expert from Python without the CLI or Textual.

Example:
    >>> import asyncio
    >>> from runtime import load_config, run, settings_from_config
    >>> config = load_config(Path("perstack.toml"))
    >>> setting = settings_from_config(config, "writer", "Write a haiku")
    >>> checkpoint = asyncio.run(run(setting, print))
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runtime.engine.bus import EventBus, EventListener, RawEventListener
from runtime.model import Checkpoint, InteractiveToolCallResult, RunInput
from runtime.providers.base import Provider
from runtime.settings import RunSetting

if TYPE_CHECKING:
    from runtime.config.models import ExpertConfig, PerstackConfig
    from runtime.engine.event_format import EventFormat
    from runtime.engine.fork_plan import ForkPlan
    from runtime.engine.jobs import JobRunner
    from runtime.events import BaseEvent
    from runtime.skills.calls import ElicitationHandler
    from runtime.skills.factory import InProcessSkills
    from runtime.storage import Storage
    from runtime.storage.sources import JobSource

__all__ = ["fork", "job_runner", "run", "settings_from_config"]


def settings_from_config(
    config: PerstackConfig,
    expert_key: str,
    query: str | None = None,
    *,
    env: Mapping[str, str] | None = None,
    workspace: Path | None = None,
    job_id: str | None = None,
    interactive_answer: InteractiveToolCallResult | None = None,
) -> RunSetting:
    """Build the run settings for ``expert_key`` from a loaded ``perstack.toml``.

    Args:
        config: The loaded file (after any CLI overrides).
        expert_key: The Expert to run; must be defined in ``config``.
        query: The user's query (for a fresh or continued run).
        env: The run's environment; defaults to the process environment.
        workspace: Where the run works; defaults to the current directory.
        job_id: Use this job id for a fresh job.
        interactive_answer: The answer to a pending interactive tool call (``-i``).

    Raises:
        PerstackError: the Expert is not defined in the file.
    """
    from runtime.errors import PerstackError

    if expert_key not in config.experts:
        known = ", ".join(sorted(config.experts)) or "none"
        raise PerstackError(
            f'Expert "{expert_key}" is not defined in {config.path}; defined: {known}'
        )
    extra: dict[str, Any] = {"job_id": job_id} if job_id else {}
    run_env = os.environ if env is None else env
    return RunSetting(
        model=config.model,
        provider_config={"providerName": config.provider.provider_name, **config.provider.setting},
        expert_key=expert_key,
        input=RunInput(text=query, interactive_tool_call_result=interactive_answer),
        experts=dict(config.experts),
        reasoning_budget=config.reasoning_budget,
        max_steps=config.max_steps,
        max_retries=config.max_retries,
        timeout=config.timeout,
        tool_timeout=config.tool_timeout,
        perstack_api_base_url=config.perstack_api_base_url,
        perstack_base_skill_command=config.perstack_base_skill_command,
        env=dict(run_env),
        proxy_url=run_env.get("PERSTACK_PROXY_URL"),
        workspace=str(workspace or Path.cwd()),
        config_path=str(config.path),
        **extra,
    )


def _experts(setting: RunSetting) -> dict[str, ExpertConfig]:
    from runtime.config.models import ExpertConfig

    experts: dict[str, ExpertConfig] = {}
    for key, value in setting.experts.items():
        if isinstance(value, ExpertConfig):
            experts[key] = value
        else:
            experts[key] = ExpertConfig.model_validate({"key": key, "name": key, **value})
    return experts


async def run(
    setting: RunSetting,
    event_listener: EventListener | None = None,
    *,
    storage: Storage | None = None,
    checkpoint: Checkpoint | None = None,
    provider: Provider | None = None,
    raw_event_listener: RawEventListener | None = None,
    locked_tools: Mapping[str, Mapping[str, Any]] | None = None,
    on_provider: Callable[[Provider], None] | None = None,
    event_format: EventFormat = "compact",
    elicitation_handler: ElicitationHandler | None = None,
    in_process_skills: InProcessSkills | None = None,
) -> Checkpoint:
    """Run an Expert to a stop and return the final checkpoint.

    Args:
        setting: What to run (see :func:`settings_from_config`).
        event_listener: Called with every event, in order, as it happens.
        storage: Where the job is kept. Defaults to the store the environment names
            (``PERSTACK_STORAGE_URL``, else files under ``PERSTACK_STORAGE_PATH`` or
            ``<workspace>/perstack``); pass ``MemoryStorage()`` to keep nothing on disk.
        checkpoint: Resume from this checkpoint (``--continue`` / ``--resume-from``).
        provider: Use this provider instead of building one from the settings.
        raw_event_listener: Called with every event and its JSON bytes.
        locked_tools: Tool definitions from ``perstack.lock`` (per Expert, per skill).
        on_provider: Called with the provider once it is built (e.g. to inspect requests).
        event_format: What ``raw_event_listener`` gets: ``compact`` (each message once in
            the stream; see ``docs/events.md``) or ``upstream`` (full histories).
        elicitation_handler: Asks the person when an MCP server asks a question during a
            tool call (returns their answer). Without one the run stops on the question,
            resumable with the answer (``--continue -i``).
        in_process_skills: Skills this program provides in-process, by skill name: a
            skill table of that name in ``perstack.toml`` is served by the factory's skill
            instead of the server it describes (``perstack create-expert``'s lab).

    Returns:
        The last checkpoint of the job (``completed``, ``stoppedBy…``).

    Raises:
        PerstackError: bad settings, a missing API key, a skill that cannot start.
    """
    async with job_runner(
        setting,
        event_listener,
        storage=storage,
        provider=provider,
        raw_event_listener=raw_event_listener,
        locked_tools=locked_tools,
        on_provider=on_provider,
        event_format=event_format,
        elicitation_handler=elicitation_handler,
        in_process_skills=in_process_skills,
    ) as runner:
        return await runner.run(checkpoint)


@asynccontextmanager
async def job_runner(
    setting: RunSetting,
    event_listener: EventListener | None = None,
    *,
    storage: Storage | None = None,
    provider: Provider | None = None,
    raw_event_listener: RawEventListener | None = None,
    locked_tools: Mapping[str, Mapping[str, Any]] | None = None,
    on_provider: Callable[[Provider], None] | None = None,
    event_format: EventFormat = "compact",
    elicitation_handler: ElicitationHandler | None = None,
    in_process_skills: InProcessSkills | None = None,
    hand_off_parallel: bool = False,
) -> AsyncIterator[JobRunner]:
    """The job runner :func:`run` drives, for callers that drive parts of a job
    themselves (the scale-out worker). The arguments are :func:`run`'s; the provider it
    builds is closed on exit, and a remote store's pipelined writes are flushed (the job
    is whole in it once the block is left).

    Args:
        hand_off_parallel: Stop at a parallel delegation (see ``DelegationHandedOff``).
    """
    from runtime.engine.jobs import JobRunner

    parts = _JobParts(
        setting, storage, provider, event_listener, raw_event_listener, on_provider, event_format
    )
    try:
        yield JobRunner(
            setting=setting,
            experts=_experts(setting),
            provider=parts.provider,
            bus=parts.bus,
            storage=parts.storage,
            workspace=parts.workspace,
            env=setting.env,
            locked_tools=locked_tools,
            elicitation_handler=elicitation_handler,
            in_process_skills=in_process_skills,
            hand_off_parallel=hand_off_parallel,
        )
    except BaseException:
        _flush_quietly(parts.storage)
        raise
    else:
        parts.flush()
    finally:
        await parts.close()


async def fork(
    setting: RunSetting,
    source: JobSource | str,
    checkpoint_id: str,
    query: str | None = None,
    event_listener: EventListener | None = None,
    *,
    storage: Storage | None = None,
    provider: Provider | None = None,
    raw_event_listener: RawEventListener | None = None,
    locked_tools: Mapping[str, Mapping[str, Any]] | None = None,
    on_provider: Callable[[Provider], None] | None = None,
    event_format: EventFormat = "compact",
) -> Checkpoint:
    """Fork a job: a new job that goes on from one of its checkpoints (``perstack fork``).

    The new job (``setting.job_id``) starts with the forked job's history up to the
    checkpoint, copied, and goes on from there with ``setting``'s provider, model, limits
    and Experts (today's ``perstack.toml``). The forked Expert asks for its next step
    again, with ``query`` as a new user message if given (for a run waiting on an
    interactive tool: the answer). A checkpoint inside a delegate continues there, and its
    answer goes back to the waiting parent as in the forked job. Nothing before the
    checkpoint is sent to the model; the forked job is only read. See
    :mod:`runtime.engine.fork`.

    Args:
        setting: The new job's settings (``expert_key`` and ``input`` are not used: the
            checkpoint says which Expert goes on).
        source: The job to fork: a :class:`~runtime.storage.sources.JobSource`, or its
            name (an id in the storage, a job folder or a ``.jsonl`` capture).
        checkpoint_id: The fork point: a stored checkpoint of any run of that job.
        query: A new user message for the forked Expert, or ``None``.
        event_listener, storage, provider, raw_event_listener, locked_tools, on_provider,
            event_format: As for :func:`run`.

    Returns:
        The new job's last checkpoint.

    Raises:
        PerstackError: the job or checkpoint cannot be found, or cannot be continued the
            way asked (one line saying why).
    """
    from runtime.engine.fork import ForkRunner
    from runtime.engine.fork_plan import plan_fork
    from runtime.model import RunInput

    if isinstance(source, str):
        from runtime.storage.sources import open_job

        source = open_job(source, cwd=Path(setting.workspace or Path.cwd()), env=setting.env)
    plan = plan_fork(source.storage, source.job_id, checkpoint_id, RunInput(text=query))
    parts = _JobParts(
        setting, storage, provider, event_listener, raw_event_listener, on_provider, event_format
    )
    runner = ForkRunner(
        plan=plan,
        setting=setting,
        experts=_experts(setting),
        provider=parts.provider,
        bus=parts.bus,
        storage=parts.storage,
        workspace=parts.workspace,
        env=setting.env,
        locked_tools=locked_tools,
    )
    copier = _HistoryCopier(source, plan, parts.storage, setting.job_id)
    parts.bus.listeners.append(copier.on_event)
    try:
        final = await runner.run_fork()
    except BaseException:
        _flush_quietly(parts.storage)
        raise
    finally:
        await copier.wait()
        await parts.close()
    parts.flush()
    return final


class _JobParts:
    """What running a job needs besides its runner: storage, provider and event bus."""

    def __init__(
        self,
        setting: RunSetting,
        storage: Storage | None,
        provider: Provider | None,
        event_listener: EventListener | None,
        raw_event_listener: RawEventListener | None,
        on_provider: Callable[[Provider], None] | None,
        event_format: EventFormat,
    ) -> None:
        self.workspace = Path(setting.workspace or Path.cwd()).resolve()
        if storage is None:
            from runtime.storage import open_storage, storage_location

            storage = open_storage(storage_location(self.workspace, os.environ))
        self.storage: Storage = storage
        self.owns_provider = provider is None
        if provider is None:
            from runtime.providers.factory import create_provider

            provider = create_provider(
                setting.provider_name, setting.provider_setting, setting.env, setting.base_dir
            )
        self.provider: Provider = provider
        if on_provider is not None:
            on_provider(provider)
        self.bus = EventBus(
            storage,
            listeners=[event_listener] if event_listener else [],
            raw_listeners=[raw_event_listener] if raw_event_listener else [],
            event_format=event_format,
        )

    def flush(self) -> None:
        """A remote store pipelines its writes: the job is whole in it once this returns."""
        flush = getattr(self.storage, "flush", None)
        if flush is not None:
            flush()

    async def close(self) -> None:
        if self.owns_provider:
            await self.provider.aclose()


class _HistoryCopier:
    """Copies a fork's history into the new job, once the fork's first model request is
    on its way.

    Nothing the fork does reads the copy (it reads the forked job itself), so the model is
    asked for the first step without waiting for thousands of files to be written, nor
    sharing the interpreter with the copy while it gets there. Into files, the copy runs
    on a thread with a store of its own; into memory, at once.
    """

    def __init__(self, source: JobSource, plan: ForkPlan, target: Storage, job_id: str) -> None:
        self._source, self._plan, self._target, self._job_id = source, plan, target, job_id
        self._thread: Any = None
        self._started = False
        self.error: BaseException | None = None

    def on_event(self, event: BaseEvent) -> None:
        """A bus listener: start copying when the first generation begins."""
        if not self._started and event.type == "startGeneration":
            self.start()

    def start(self) -> None:
        """Start the copy (once)."""
        import threading

        from runtime.storage import FileStorage
        from runtime.storage.copying import copy_history

        if self._started:
            return
        self._started = True
        source, plan, target = self._source, self._plan, self._target
        if not isinstance(target, FileStorage):
            copy_history(source.storage, source.job_id, plan.history(), target, self._job_id)
            return
        own = FileStorage(target.root, on_warning=target._on_warning)

        def copy() -> None:
            try:
                copy_history(source.storage, source.job_id, plan.history(), own, self._job_id)
            except BaseException as error:  # reported by wait()
                self.error = error

        self._thread = threading.Thread(target=copy, name="fork-history", daemon=True)
        self._thread.start()

    async def wait(self) -> None:
        """Copy now if the fork never got to ask the model; wait for the copy to be
        complete (raising what stopped it, if anything)."""
        self.start()
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join)
        if self.error is not None:
            raise self.error


def _flush_quietly(storage: Any) -> None:
    """Store what can be stored of a job that failed; its own error is the one to report."""
    from runtime.errors import PerstackError

    flush = getattr(storage, "flush", None)
    if flush is not None:
        try:
            flush()
        except PerstackError:
            pass
