"""One run of a comparison, wherever it runs (in-process or in a worker process): start
it, run its job through the engine's public entry point, read its figures back."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runtime.compare.request import CompareRequest, RunUpdateListener, copy_workspace
from runtime.errors import PerstackError
from runtime.views.comparison import RunFigures, job_figures

if TYPE_CHECKING:
    from runtime.events import BaseEvent
    from runtime.views.steps import JobSteps

__all__ = ["execute_run", "mark_running", "one_line", "read_back", "run_column"]


def mark_running(index: int, figures: RunFigures, on_update: RunUpdateListener | None) -> None:
    """A column's run is starting."""
    figures.status = "running"
    if on_update is not None:
        on_update(index, figures)


async def execute_run(
    request: CompareRequest,
    figures: RunFigures,
    *,
    event_listener: Callable[[BaseEvent], Any] | None = None,
    raw_event_listener: Callable[[BaseEvent, bytes], Any] | None = None,
) -> None:
    """Run one column's job in its (already copied) workspace, through the engine's
    :func:`~runtime.engine.api.run` as ``perstack run`` does.

    Raises:
        Exception: whatever stopped the job from running (a missing API key …).
    """
    from runtime.config import with_overrides
    from runtime.engine.api import run, settings_from_config
    from runtime.storage import FileStorage

    assert figures.workspace is not None and figures.job_id is not None
    config = with_overrides(request.config, provider=figures.provider, model=figures.model)
    setting = settings_from_config(
        config,
        request.expert,
        request.query,
        env=request.env,
        workspace=Path(figures.workspace),
        job_id=figures.job_id,
    )
    factory = request.provider_factory
    provider = None if factory is None else factory(setting)
    await run(
        setting,
        event_listener,
        storage=FileStorage(request.storage_root),
        provider=provider,
        raw_event_listener=raw_event_listener,
        locked_tools=request.locked_tools,
    )


async def run_column(
    request: CompareRequest,
    figures: RunFigures,
    *,
    event_listener: Callable[[BaseEvent], Any] | None = None,
    raw_event_listener: Callable[[BaseEvent, bytes], Any] | None = None,
) -> JobSteps | None:
    """One column, wherever it runs: copy the workspace, run the job, read its figures
    back; its steps. Never raises (but for cancellation): a failure is the column's."""
    assert figures.workspace is not None
    try:
        await asyncio.to_thread(
            copy_workspace, request.workspace, Path(figures.workspace), [request.storage_root]
        )
        await execute_run(
            request, figures, event_listener=event_listener, raw_event_listener=raw_event_listener
        )
    except asyncio.CancelledError:
        raise
    except Exception as error:  # noqa: BLE001 - any failure is this column's, not the others'
        figures.error = one_line(error)
    return read_back(request, figures)


def read_back(request: CompareRequest, figures: RunFigures) -> JobSteps | None:
    """Fill a finished column's figures in from its stored job; its steps (``None`` when
    the job never began). Never raises: a damaged job is still reported."""
    from runtime.storage import FileStorage
    from runtime.storage.sources import JobSource

    steps = None
    storage = FileStorage(request.storage_root)
    if figures.job_id is not None and storage.job_data(figures.job_id) is not None:
        source = JobSource(storage, figures.job_id, "stored", str(request.storage_root), "")
        try:
            _, steps = job_figures(source, prices=request.prices, into=figures)
        except Exception as error:  # noqa: BLE001 - a damaged job is still reported
            figures.error = figures.error or one_line(error)
    else:  # it failed before its job began: nothing to measure
        figures.job_id, figures.cost_usd, figures.duration_ms = None, None, 0
    if figures.error and figures.status in ("running", "pending", "proceeding"):
        figures.status = "failed"
    return steps


def one_line(error: BaseException) -> str:
    """An error on one line, its type named unless it is one of ours."""
    text = " ".join(str(error).split()) or type(error).__name__
    return text if isinstance(error, PerstackError) else f"{type(error).__name__}: {text}"
