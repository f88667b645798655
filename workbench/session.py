"""What the workbench runs, decided without Textual: the project, the options, the checks.

A :class:`Session` holds the project (a ``perstack.toml`` found like ``perstack run`` finds
it, or the bundled demo) and the options ``perstack start`` was given. Every run the
workbench starts is a :class:`~runtime.cli.run.RunOptions` built here and resolved by
``runtime.cli.run.prepare_run``: the same path, checks and messages as ``perstack run``.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from runtime.cli.run import RunOptions
from runtime.errors import ConfigError, PerstackError

if TYPE_CHECKING:
    from runtime.config.models import PerstackConfig
    from workbench.remote import RemoteTarget

__all__ = ["Project", "Preflight", "Session", "find_project", "provider_help"]

_OFFLINE_HINT = (
    'or run offline: set providerName = "scripted" under [provider] in perstack.toml '
    "(see docs/offline-providers.md)"
)


@dataclass(frozen=True)
class Project:
    """The ``perstack.toml`` the workbench works on.

    Attributes:
        config_path: The file.
        cwd: Where the workbench runs: env files, the default workspace and storage.
        is_demo: The bundled demo (no ``perstack.toml`` was found).
    """

    config_path: Path
    cwd: Path
    is_demo: bool = False

    @property
    def name(self) -> str:
        """What the header calls the project."""
        return "demo" if self.is_demo else self.config_path.parent.name or str(self.config_path)


def find_project(cwd: Path, explicit: str | None = None) -> Project:
    """The project for ``cwd``: ``--config``, else ``perstack.toml`` upward, else the demo.

    Raises:
        PerstackError: ``--config`` names a file that does not exist.
    """
    from runtime.config import find_config

    if explicit is not None:
        return Project(find_config(cwd, explicit), cwd)
    try:
        return Project(find_config(cwd), cwd)
    except PerstackError:
        from workbench.demo import install_demo

        config = install_demo()
        return Project(config, config.parent, is_demo=True)


@dataclass
class Preflight:
    """What is known before the first run, to show instead of failing later.

    Attributes:
        config: The loaded file (``None`` when it has problems).
        problems: ``perstack.toml`` problems, one line each.
        provider_problem: Why runs would fail at once (a missing API key, a bad script),
            with how to fix it.
        warnings: Things accepted but ignored.
    """

    config: PerstackConfig | None = None
    problems: list[str] = field(default_factory=list)
    provider_problem: str | None = None
    warnings: list[str] = field(default_factory=list)
    provider_checked: bool = False

    @property
    def experts(self) -> list[str]:
        """The Experts defined in the file, in file order."""
        return list(self.config.experts) if self.config is not None else []


def provider_help(problem: str, provider_name: str) -> str:
    """A provider error with what to do about it (a missing key gets both remedies)."""
    if problem.endswith(" is not set"):
        name = problem.split()[0]
        return (
            f"{problem}: the {provider_name} provider needs it. Export it in your shell "
            f"(export {name}=...) or put {name}=... in a .env file next to perstack.toml, "
            f"{_OFFLINE_HINT}."
        )
    return f"{problem} ({_OFFLINE_HINT})."


class Session:
    """The project and the ``perstack start`` options, turned into runs.

    Args:
        project: The project.
        options: The options ``perstack start`` was given (its ``expert_key`` and
            ``query`` may be empty); later runs inherit the overrides.
        remote: The server that runs the jobs (``--remote``); the project then only
            feeds the editor.
    """

    def __init__(
        self,
        project: Project,
        options: RunOptions,
        remote: RemoteTarget | None = None,
        open_job: str | None = None,
    ) -> None:
        self.project = project
        #: The server runs go to (``perstack start --remote``), or ``None``: runs are local.
        self.remote = remote
        #: The job ``perstack start --open`` names (an id, a job folder, a capture).
        self.open_job = open_job
        #: Show that job in replay (``perstack start --open <job> --in-replay``).
        self.replay = False
        self.options = dataclasses.replace(
            options,
            config=str(project.config_path),
            workspace=options.workspace or (str(project.cwd) if project.is_demo else None),
        )

    @property
    def cwd(self) -> Path:
        """Where runs resolve relative paths (as ``perstack run`` in that directory)."""
        return self.project.cwd

    def storage_root(self) -> Path:
        """Where this project's jobs are kept (as ``perstack run`` keeps them)."""
        from runtime.storage import default_storage_root

        workspace = Path(self.options.workspace) if self.options.workspace else self.cwd
        return default_storage_root(workspace.resolve(), os.environ)

    def storage_location(self) -> Path | str:
        """Where this project's jobs are kept: a folder, or ``PERSTACK_STORAGE_URL``."""
        from runtime.storage import storage_location

        workspace = Path(self.options.workspace) if self.options.workspace else self.cwd
        return storage_location(workspace.resolve(), os.environ)

    def preflight(
        self, *, check_provider: bool = True, loaded: PerstackConfig | None = None
    ) -> Preflight:
        """Load the file (and build the provider once), collecting what would stop a run.

        Args:
            check_provider: Also build the provider (see :meth:`provider_problem`); the
                workbench does that later, off its UI thread.
            loaded: The file as the hot reload just loaded it (not read again).
        """
        from runtime.config import load_config

        result = Preflight()
        try:
            config = self.options.apply_overrides(
                loaded if loaded is not None else load_config(self.project.config_path)
            )
        except ConfigError as error:
            result.problems = list(error.problems)
            return result
        except PerstackError as error:
            result.problems = [str(error)]
            return result
        result.config = config
        result.warnings = list(config.warnings)
        if check_provider:
            result.provider_problem = self.provider_problem(config)
            result.provider_checked = True
        return result

    def provider_problem(self, config: PerstackConfig | None) -> str | None:
        """Why runs would fail at once (a missing API key, a bad script), with the fix."""
        from runtime.config import load_env, resolve_env_paths
        from runtime.providers.factory import create_provider

        if config is None:
            return None
        env = load_env(resolve_env_paths(config, list(self.options.env_path)), self.cwd)
        provider_name = config.provider.provider_name
        try:
            create_provider(
                provider_name, config.provider.setting, env, self.project.config_path.parent
            )
        except PerstackError as error:
            return provider_help(str(error), provider_name)
        return None

    def run_options(
        self,
        expert_key: str,
        query: str,
        *,
        continue_job: str | None = None,
        resume_from: str | None = None,
        interactive: bool = False,
        first: bool = False,
    ) -> RunOptions:
        """The options of one run.

        Args:
            expert_key: The Expert to run (for a continued job: the Expert of its latest
                checkpoint).
            query: The query, or the answer to an interactive tool.
            continue_job: Continue this job (a follow-up, or an answer).
            resume_from: With ``continue_job``: from this checkpoint, not the latest.
            interactive: ``query`` answers the job's pending interactive tool call.
            first: The run ``perstack start`` was asked for: its ``--continue``,
                ``--continue-job``, ``--resume-from`` and ``--job-id`` apply.
        """
        base = self.options
        keep = first and continue_job is None
        return dataclasses.replace(
            base,
            expert_key=expert_key,
            query=query,
            continue_latest=base.continue_latest if keep else False,
            continue_job=continue_job or (base.continue_job if keep else None),
            resume_from=resume_from or (base.resume_from if keep else None),
            job_id=base.job_id if keep else None,
            interactive=interactive or (base.interactive if keep else False),
        )
