"""Run one Expert and query on several models at once (``perstack compare``).

Every run goes through :func:`runtime.engine.api.run`, the same entry point as
``perstack run``, concurrently on one event loop: a model's wait for its next reply is
another model's time to work, so a comparison takes about as long as its slowest run
(one process is enough: the time goes on waiting for models, not on our own work). Each
run is its own job in the project's storage, working in its own copy of the workspace
(``<storage>/comparisons/<id>/<n>-<provider>-<model>/``; the storage folder itself is not
copied), so that two models writing the same file never collide. The copies are kept.

A run that fails (a missing API key, a provider error, a crash in a skill) is reported
as failed and never stops the others. The figures and the step alignment come from the
stored jobs through :mod:`runtime.views.comparison`.
"""

from __future__ import annotations

import asyncio
import re
import shutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runtime.errors import PerstackError
from runtime.model import new_id
from runtime.views.comparison import Comparison, RunFigures, job_figures

if TYPE_CHECKING:
    from runtime.config.models import PerstackConfig
    from runtime.events import BaseEvent
    from runtime.providers.base import Provider
    from runtime.settings import RunSetting
    from runtime.storage.sources import JobSource
    from runtime.views.cost import PriceBook
    from runtime.views.steps import JobSteps

__all__ = [
    "COMPARISONS_FOLDER",
    "CompareRequest",
    "ModelChoice",
    "copy_workspace",
    "run_comparison",
]

#: Where, under the storage root, each comparison keeps its workspaces.
COMPARISONS_FOLDER = "comparisons"
#: Called with a run's index (its column) and each of its events, as they happen.
RunEventListener = Callable[[int, "BaseEvent"], Any]
#: Called with a run's index and its figures when it starts and when it ends.
RunUpdateListener = Callable[[int, RunFigures], Any]


@dataclass(frozen=True)
class ModelChoice:
    """One model to compare: ``provider:model``."""

    provider: str
    model: str

    def __str__(self) -> str:
        return f"{self.provider}:{self.model}"

    @classmethod
    def parse(cls, text: str) -> ModelChoice:
        """``anthropic:claude-sonnet-4-5`` -> the choice.

        Raises:
            PerstackError: no ``provider:`` part, an unknown provider, no model.
        """
        from runtime.config.rules import PROVIDER_NAMES, provider_name_problem

        provider, colon, model = text.partition(":")
        if not colon or not provider.strip() or not model.strip():
            raise PerstackError(
                f"--model {text}: expected <provider>:<model>, e.g. anthropic:claude-sonnet-4-5"
            )
        provider = provider.strip()
        if provider_name_problem(provider) is not None:
            raise PerstackError(
                f"--model {text}: unknown provider {provider!r}; expected one of "
                f"{', '.join(PROVIDER_NAMES)}"
            )
        return cls(provider, model.strip())


@dataclass
class CompareRequest:
    """What to compare.

    Attributes:
        expert: The Expert every run starts with (delegates run on the same model).
        query: The query every run gets.
        models: The models, one column each (the same model twice is allowed).
        config: The loaded ``perstack.toml`` (limits and options already applied).
        workspace: The folder each run gets a copy of.
        storage_root: Where the jobs (and the copies, under ``comparisons/``) go.
        env: The runs' environment (process env plus ``.env`` files).
        repeat: Runs per model.
        baseline: A recorded job shown as the first column, not run.
        locked_tools: Tool definitions from ``perstack.lock``, if any.
        prices: How figures are priced (``perstack.toml``'s ``[prices]``).
        provider_factory: Builds each run's provider from its settings instead of
            ``[provider]`` (embedding, tests, benchmarks); ``None``: as ``perstack run``.
    """

    expert: str
    query: str
    models: Sequence[ModelChoice]
    config: PerstackConfig
    workspace: Path
    storage_root: Path
    env: Mapping[str, str]
    repeat: int = 1
    baseline: JobSource | None = None
    locked_tools: Mapping[str, Any] | None = None
    prices: PriceBook | None = None
    provider_factory: Callable[[RunSetting], Provider] | None = None
    comparison_id: str = field(default_factory=new_id)

    def __post_init__(self) -> None:
        if not self.models:
            raise PerstackError("Name at least one model to compare: --model <provider>:<model>")
        if self.repeat < 1:
            raise PerstackError("--repeat: must be at least 1")
        if self.expert not in self.config.experts:
            known = ", ".join(sorted(self.config.experts)) or "none"
            raise PerstackError(
                f'Expert "{self.expert}" is not defined in {self.config.path}; defined: {known}'
            )

    @property
    def folder(self) -> Path:
        """Where this comparison's workspace copies go."""
        return self.storage_root / COMPARISONS_FOLDER / self.comparison_id

    def planned_runs(self) -> list[RunFigures]:
        """The columns before anything ran: the baseline (if any), then each model's
        repetitions, each with the workspace it will have."""
        runs: list[RunFigures] = []
        if self.baseline is not None:
            runs.append(_baseline_figures(self.baseline))
        for choice in self.models:
            for repeat in range(1, self.repeat + 1):
                number = len([run for run in runs if not run.baseline]) + 1
                name = _folder_name(f"{number}-{choice.provider}-{choice.model}")
                runs.append(
                    RunFigures(
                        model=choice.model,
                        provider=choice.provider,
                        job_id=new_id(),
                        workspace=str(self.folder / name),
                        repeat=repeat,
                    )
                )
        return runs


def _folder_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text)


def _baseline_figures(source: JobSource) -> RunFigures:
    figures, _ = job_figures(source)
    figures.baseline = True
    return figures


def copy_workspace(source: Path, target: Path, exclude: Sequence[Path] = ()) -> None:
    """Copy the folder ``source`` to ``target`` (which must not exist), leaving out the
    ``exclude`` folders (the storage root: jobs, and other comparisons' copies)."""
    excluded = {path.resolve() for path in exclude}

    def ignore(directory: str, names: list[str]) -> list[str]:
        here = Path(directory).resolve()
        return [name for name in names if here / name in excluded]

    shutil.copytree(source, target, ignore=ignore, symlinks=True)


async def run_comparison(
    request: CompareRequest,
    *,
    on_event: RunEventListener | None = None,
    on_update: RunUpdateListener | None = None,
    runs: list[RunFigures] | None = None,
) -> Comparison:
    """Run every model of ``request`` concurrently and compare the jobs.

    Args:
        request: What to compare.
        on_event: Gets each run's events as they happen (the workbench's live columns).
        on_update: Gets a run's figures when it starts and when it has ended.
        runs: The columns from :meth:`CompareRequest.planned_runs`, if already made.

    Returns:
        Every run's figures (failed ones included) and their aligned steps.
    """
    runs = runs if runs is not None else request.planned_runs()
    steps: list[JobSteps | None] = [None] * len(runs)
    tasks = []
    for index, figures in enumerate(runs):
        if figures.baseline:
            assert request.baseline is not None
            _, steps[index] = job_figures(request.baseline, prices=request.prices, into=figures)
            continue
        tasks.append(_run_one(request, index, figures, steps, on_event, on_update))
    await asyncio.gather(*tasks)
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
    """One column: copy the workspace, run the job, read its figures. Never raises
    (but for cancellation): a failure is the column's status."""
    from runtime.config import with_overrides
    from runtime.engine.api import run, settings_from_config
    from runtime.storage import FileStorage
    from runtime.storage.sources import JobSource

    figures.status = "running"
    if on_update is not None:
        on_update(index, figures)
    assert figures.workspace is not None and figures.job_id is not None
    workspace = Path(figures.workspace)
    storage = FileStorage(request.storage_root)
    try:
        await asyncio.to_thread(
            copy_workspace, request.workspace, workspace, [request.storage_root]
        )
        config = with_overrides(request.config, provider=figures.provider, model=figures.model)
        setting = settings_from_config(
            config,
            request.expert,
            request.query,
            env=request.env,
            workspace=workspace,
            job_id=figures.job_id,
        )
        listener = None if on_event is None else (lambda event: on_event(index, event))
        factory = request.provider_factory
        provider = None if factory is None else factory(setting)
        await run(
            setting,
            listener,
            storage=storage,
            provider=provider,
            locked_tools=request.locked_tools,
        )
    except asyncio.CancelledError:
        raise
    except Exception as error:  # noqa: BLE001 - any failure is this column's, not the others'
        figures.error = _one_line(error)
    if storage.job_data(figures.job_id) is not None:
        source = JobSource(storage, figures.job_id, "stored", str(request.storage_root), "")
        try:
            _, steps[index] = job_figures(source, prices=request.prices, into=figures)
        except Exception as error:  # noqa: BLE001 - a damaged job is still reported
            figures.error = figures.error or _one_line(error)
    else:  # it failed before its job began: nothing to measure
        figures.job_id, figures.cost_usd, figures.duration_ms = None, None, 0
    if figures.error and figures.status in ("running", "pending", "proceeding"):
        figures.status = "failed"
    if on_update is not None:
        on_update(index, figures)


def _one_line(error: BaseException) -> str:
    text = " ".join(str(error).split()) or type(error).__name__
    return text if isinstance(error, PerstackError) else f"{type(error).__name__}: {text}"
