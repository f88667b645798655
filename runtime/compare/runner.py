"""Run one Expert and query on several models at once (``perstack compare``).

Every run goes through :func:`runtime.engine.api.run`, the same entry point as
``perstack run`` (:mod:`runtime.compare.one_run`), all at the same time: a model's wait
for its next reply is another model's time to work, so a comparison takes about as long
as its slowest run. By default the runs share the caller's event loop; ``perstack
compare`` asks for a worker process per run (:mod:`runtime.compare.processes`) so that
runs on a fast model, whose time goes on our own CPU work rather than on waiting, use
every core. Each run is its own job in the project's storage, working in its own copy of
the workspace (``<storage>/comparisons/<id>/<n>-<provider>-<model>/``; the storage folder
itself is not copied), so that two models writing the same file never collide. The
copies are kept.

A run that fails (a missing API key, a provider error, a crash in a skill) is reported
as failed and never stops the others. The figures and the step alignment come from the
stored jobs through :mod:`runtime.views.comparison`.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from runtime.compare.one_run import mark_running, run_column
from runtime.compare.request import (
    COMPARISONS_FOLDER,
    CompareRequest,
    ModelChoice,
    RunEventListener,
    RunUpdateListener,
    copy_workspace,
)
from runtime.views.comparison import Comparison, RunFigures, job_figures

if TYPE_CHECKING:
    from runtime.views.steps import JobSteps

__all__ = [
    "COMPARISONS_FOLDER",
    "CompareRequest",
    "ModelChoice",
    "copy_workspace",
    "run_comparison",
]


async def run_comparison(
    request: CompareRequest,
    *,
    on_event: RunEventListener | None = None,
    on_update: RunUpdateListener | None = None,
    runs: list[RunFigures] | None = None,
    processes: bool = False,
) -> Comparison:
    """Run every model of ``request`` concurrently and compare the jobs.

    Args:
        request: What to compare.
        on_event: Gets each run's events as they happen (the workbench's live columns).
        on_update: Gets a run's figures when it starts and when it has ended.
        runs: The columns from :meth:`CompareRequest.planned_runs`, if already made.
        processes: Run each model in a worker process of its own when that can help
            and is safe (see :mod:`runtime.compare.processes`): more than one run, more
            than one CPU, and no thread in this process but the caller's. Otherwise (and
            by default) every run shares the caller's event loop.

    Returns:
        Every run's figures (failed ones included) and their aligned steps.
    """
    runs = runs if runs is not None else request.planned_runs()
    steps: list[JobSteps | None] = [None] * len(runs)
    pending: list[tuple[int, RunFigures]] = []
    for index, figures in enumerate(runs):
        if figures.baseline:
            assert request.baseline is not None
            _, steps[index] = job_figures(request.baseline, prices=request.prices, into=figures)
            continue
        pending.append((index, figures))
    if processes and pending:
        from runtime.compare.processes import process_problem, run_in_processes

        processes = process_problem(len(pending)) is None
    if processes:
        await run_in_processes(request, pending, steps, on_event, on_update)
    else:
        await asyncio.gather(
            *(_run_one(request, i, figures, steps, on_event, on_update) for i, figures in pending)
        )
    comparison = Comparison(request.expert, request.query, runs)
    comparison.align(steps)
    return comparison


async def _run_one(
    request: CompareRequest,
    index: int,
    figures: RunFigures,
    steps: list[JobSteps | None],
    on_event: RunEventListener | None,
    on_update: RunUpdateListener | None,
) -> None:
    """One column in this process (see :func:`~runtime.compare.one_run.run_column`)."""
    mark_running(index, figures, on_update)
    listener = None if on_event is None else (lambda event: on_event(index, event))
    steps[index] = await run_column(request, figures, event_listener=listener)
    if on_update is not None:
        on_update(index, figures)
