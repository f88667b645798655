"""The embeddable entry point: run an Expert from Python without the CLI or Textual.

Example:
    >>> import asyncio
    >>> from runtime import load_config, run, settings_from_config
    >>> config = load_config(Path("perstack.toml"))
    >>> setting = settings_from_config(config, "writer", "Write a haiku")
    >>> checkpoint = asyncio.run(run(setting, print))
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runtime.engine.bus import EventBus, EventListener, RawEventListener
from runtime.model import Checkpoint, InteractiveToolCallResult, RunInput
from runtime.providers.base import Provider
from runtime.settings import RunSetting

if TYPE_CHECKING:
    from runtime.config.models import ExpertConfig, PerstackConfig
    from runtime.engine.event_format import EventFormat
    from runtime.skills.calls import ElicitationHandler
    from runtime.storage import Storage

__all__ = ["run", "settings_from_config"]


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
) -> Checkpoint:
    """Run an Expert to a stop and return the final checkpoint.

    Args:
        setting: What to run (see :func:`settings_from_config`).
        event_listener: Called with every event, in order, as it happens.
        storage: Where the job is kept. Defaults to files under ``PERSTACK_STORAGE_PATH``
            or ``<workspace>/perstack``; pass ``MemoryStorage()`` to keep nothing on disk.
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

    Returns:
        The last checkpoint of the job (``completed``, ``stoppedBy…``).

    Raises:
        PerstackError: bad settings, a missing API key, a skill that cannot start.
    """
    from runtime.engine.jobs import JobRunner

    workspace = Path(setting.workspace or Path.cwd()).resolve()
    if storage is None:
        from runtime.storage import FileStorage, default_storage_root

        storage = FileStorage(default_storage_root(workspace, os.environ))
    owns_provider = provider is None
    if provider is None:
        from runtime.providers.factory import create_provider

        provider = create_provider(
            setting.provider_name, setting.provider_setting, setting.env, setting.base_dir
        )
    if on_provider is not None:
        on_provider(provider)
    bus = EventBus(
        storage,
        listeners=[event_listener] if event_listener else [],
        raw_listeners=[raw_event_listener] if raw_event_listener else [],
        event_format=event_format,
    )
    runner = JobRunner(
        setting=setting,
        experts=_experts(setting),
        provider=provider,
        bus=bus,
        storage=storage,
        workspace=workspace,
        env=setting.env,
        locked_tools=locked_tools,
        elicitation_handler=elicitation_handler,
    )
    try:
        return await runner.run(checkpoint)
    finally:
        if owns_provider:
            await provider.aclose()
