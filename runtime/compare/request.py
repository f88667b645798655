"""What ``perstack compare`` compares: the models, the Expert and query, and where each
run works (:class:`CompareRequest`); see :mod:`runtime.compare.runner`."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runtime.errors import PerstackError
from runtime.model import new_id
from runtime.views.comparison import RunFigures, job_figures

if TYPE_CHECKING:
    from runtime.config.models import PerstackConfig
    from runtime.events import BaseEvent
    from runtime.providers.base import Provider
    from runtime.settings import RunSetting
    from runtime.storage.sources import JobSource
    from runtime.views.cost import PriceBook

__all__ = [
    "COMPARISONS_FOLDER",
    "CompareRequest",
    "ModelChoice",
    "RunEventListener",
    "RunUpdateListener",
    "copy_workspace",
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
