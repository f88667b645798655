"""Forking from the workbench: the same path as ``perstack fork``, run by the bridge.

:func:`fork_starter` resolves the fork with :func:`runtime.cli.fork.prepare_fork` (the
job, the checkpoint, today's ``perstack.toml``, the provider and model asked for) and runs
it with :func:`runtime.engine.api.fork`, exactly as the command does; only the events go
to the screen instead of stdout.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable

    from workbench.bridge import JobStarter, ProviderFactory
    from workbench.session import Session

__all__ = ["ForkRequest", "fork_starter"]


@dataclass(frozen=True)
class ForkRequest:
    """What the fork dialog asked for.

    Attributes:
        checkpoint_id: The fork point (a stored checkpoint of the job).
        query: A new user message for the forked Expert (``None``: ask for its next step
            again, as it stood).
        provider: Another provider (``None``: ``perstack.toml``'s).
        model: Another model (``None``: ``perstack.toml``'s).
    """

    checkpoint_id: str
    query: str | None = None
    provider: str | None = None
    model: str | None = None


def fork_starter(
    session: Session,
    job: str,
    request: ForkRequest,
    *,
    provider_factory: ProviderFactory | None = None,
) -> JobStarter:
    """A :data:`~workbench.bridge.JobStarter` that forks ``job`` (a name
    :func:`runtime.storage.sources.open_job` takes) as ``request`` says."""

    def prepare(on_event: Callable[[Any], None]) -> tuple[str, str, Any]:
        from runtime.cli.fork import prepare_fork
        from runtime.engine.api import fork
        from workbench.bridge import RunBridge

        options = dataclasses.replace(
            session.run_options("", request.query or ""),
            continue_latest=False,
            continue_job=None,
            resume_from=None,
            interactive=False,
            job_id=None,
            provider=request.provider or session.options.provider,
            model=request.model or session.options.model,
        )
        prepared = prepare_fork(options, job, request.checkpoint_id, request.query, cwd=session.cwd)
        setting = prepared.setting
        coordinator = (prepared.source.job_data() or {}).get("coordinatorExpertKey") or ""

        async def work() -> RunBridge.Finished:
            provider = provider_factory(setting) if provider_factory else None
            final = await fork(
                setting,
                prepared.source,
                prepared.checkpoint_id,
                prepared.query,
                on_event,
                storage=prepared.storage,
                provider=provider,
                locked_tools=prepared.locked_tools,
            )
            return RunBridge.Finished(final)

        return setting.job_id, coordinator, work()

    return prepare
