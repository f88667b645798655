"""The create-expert loop: rounds of design, test and judgement, until the evidence says stop.

One session is one job of the bundled team (``runtime/create_expert/perstack.toml``),
stored with the project's other jobs. Each round is a fresh run of the team's coordinator
in that job (a short history: the round's message carries what happened so far); the
loop, not a model, decides whether another round follows: it stops once every scenario
has passed in two consecutive rounds, or at ``max_iterations``. A last run asks for the
report. Nothing touches the project's ``perstack.toml``: the session ends with a
:class:`Proposal` that the caller shows, confirms and writes (:func:`apply_proposal`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runtime.create_expert.compare import RoundChange, compare_definitions, compare_runs
from runtime.create_expert.drafts import experts_of, write_config
from runtime.create_expert.lab import Lab, LabState
from runtime.create_expert.proposal import Proposal, new_file_header, propose
from runtime.create_expert.rounds import first_round_message, next_round_message, report_message
from runtime.create_expert.skill import LAB_SKILL_NAME, LabSkill
from runtime.create_expert.testrun import DraftRunner
from runtime.errors import PerstackError

if TYPE_CHECKING:
    from runtime.config.models import PerstackConfig
    from runtime.events import BaseEvent
    from runtime.model import Checkpoint
    from runtime.providers.base import Provider

__all__ = [
    "TEAM_CONFIG",
    "CreateExpertOptions",
    "CreateExpertSession",
    "Outcome",
    "Proposal",
    "RoundFigures",
    "apply_proposal",
]

#: The bundled team.
TEAM_CONFIG = Path(__file__).with_name("perstack.toml")
#: The team's coordinator.
COORDINATOR = "create-expert"
#: Steps the team may take in one round (the job's limit grows by this each round).
ROUND_STEP_BUDGET = 150


@dataclass
class CreateExpertOptions:
    """What ``perstack create-expert`` was asked.

    Attributes:
        description: What the Experts should do (or how to improve ``expert``).
        expert: Improve this Expert and its delegates instead of creating new ones.
        config: ``--config``: the ``perstack.toml`` to change (created if missing).
        provider: ``--provider``, for the team and the test runs.
        model: ``--model``, likewise.
        max_iterations: The most rounds.
        env_path: ``--env-path`` files.
    """

    description: str
    expert: str | None = None
    config: str | None = None
    provider: str | None = None
    model: str | None = None
    max_iterations: int = 3
    env_path: tuple[str, ...] = ()


@dataclass
class RoundFigures:
    """What one round cost."""

    number: int
    wall_ms: int = 0
    model_calls: int = 0


@dataclass
class Outcome:
    """What a session found and proposes.

    Attributes:
        job_id: The team's job.
        directory: The session's folder (each round's draft, runs, ``session.json``).
        state: The lab's record: scenarios, rounds, results, findings.
        stop_reason: Why the loop stopped, in a sentence.
        stable: Every scenario passed in the last two rounds.
        proposal: The change to ``perstack.toml``.
        changes: How each round differs from the one before.
        figures: Wall time and model calls per round (the report's run last).
        final_definitions: The TOML of the Experts created or changed.
    """

    job_id: str
    directory: Path
    state: LabState
    stop_reason: str
    stable: bool
    proposal: Proposal
    changes: list[RoundChange] = field(default_factory=list)
    figures: list[RoundFigures] = field(default_factory=list)
    final_definitions: str = ""
    applied: bool | None = None
    backup: Path | None = None


class CreateExpertSession:
    """One ``perstack create-expert`` session.

    Args:
        options: What was asked.
        cwd: Where the command runs (finds ``perstack.toml``; job storage).
        provider: The provider for the team and the test runs (``None``: from the
            project's ``[provider]`` and the options).
        on_event: Called with each event of the team's job.
        progress: Told one line whenever the lab records something.
    """

    def __init__(
        self,
        options: CreateExpertOptions,
        *,
        cwd: Path,
        provider: Provider | None = None,
        on_event: Callable[[BaseEvent], None] | None = None,
        progress: Callable[[str], None] = lambda line: None,
    ) -> None:
        self.options = options
        self.cwd = cwd
        self.on_event = on_event
        self.progress = progress
        self._provider = provider
        self._owns_provider = provider is None
        self.job_id = ""
        self.figures: list[RoundFigures] = []
        self._calls = 0
        self._prepare()

    # --- before anything runs -------------------------------------------------------------

    def _prepare(self) -> None:
        """Resolve the file, the target Expert, the provider; every error before any run.

        Raises:
            PerstackError: ``--expert`` unknown, a missing API key (with how to set it) …
            ConfigError: the project's ``perstack.toml`` does not load.
        """
        from runtime.config import find_config, load_config, load_env, resolve_env_paths
        from runtime.config.models import PerstackConfig
        from runtime.model import new_id
        from runtime.storage import FileStorage, default_storage_root

        options = self.options
        if options.max_iterations < 1:
            raise PerstackError("--max-iterations must be 1 or more")
        self.config_path = _config_path(self.cwd, options.config, find_config)
        project: PerstackConfig | None = None
        self.old_text = ""
        if self.config_path.is_file():
            self.old_text = self.config_path.read_text(encoding="utf-8")
            project = load_config(self.config_path)
        if options.expert is not None:
            known = list(project.experts) if project else []
            if options.expert not in known:
                raise PerstackError(
                    f'Expert "{options.expert}" is not defined in {self.config_path}; '
                    f"defined: {', '.join(known) or 'none'}"
                )
        base = project or PerstackConfig(path=self.config_path)
        self.effective = self._overrides(base)
        self.env = load_env(resolve_env_paths(project, list(options.env_path)), self.cwd)
        if self._provider is None:
            self._provider = _build_provider(self.effective, self.env, self.config_path.parent)
        self.storage = FileStorage(default_storage_root(self.cwd, self.env))
        self.job_id = new_id()
        self.directory = self.storage.root / "create-expert" / self.job_id
        self.team = self._team_config()
        self.base_text = self.old_text or new_file_header(self.effective, options.description)

    def _overrides(self, config: PerstackConfig) -> PerstackConfig:
        from runtime.config import with_overrides

        return with_overrides(config, provider=self.options.provider, model=self.options.model)

    def _team_config(self) -> PerstackConfig:
        from runtime.config import load_config

        team = load_config(TEAM_CONFIG)
        return self.effective.model_copy(update={"experts": team.experts, "path": TEAM_CONFIG})

    # --- the loop -------------------------------------------------------------------------

    async def run(self) -> Outcome:
        """Run the rounds and the report; return what was found (nothing is written)."""
        options = self.options
        runner = DraftRunner(
            storage=self.storage,
            env=self.env,
            project_dir=self.config_path.parent if self.config_path.parent.is_dir() else None,
            config_name=self.config_path.name,
            overrides=self._overrides,
            provider=self._provider,
            skip=(self.storage.root,),
            on_event=self._count,
        )
        state = LabState(
            description=options.description,
            target=options.expert,
            max_rounds=options.max_iterations,
        )
        self.lab = lab = Lab(
            self.directory, self.base_text, self.config_path, state, runner, self.progress
        )
        last: Checkpoint | None = None
        stop_reason = f"stopped at --max-iterations ({options.max_iterations})"
        try:
            for number in range(1, options.max_iterations + 1):
                lab.begin_round()
                self.progress(f"round {number}: started")
                last = await self._team_run(self._round_query(number), last, number)
                if last.status != "completed":
                    stop_reason = f"the team stopped in round {number} ({last.status})"
                    break
                if lab.stable():
                    stop_reason = f"every scenario passed in rounds {number - 1} and {number}"
                    break
            if last is not None and last.status == "completed" and lab.state.touched:
                self.progress("report: started")
                await self._team_run(report_message(stop_reason), last, 0)
        finally:
            if self._owns_provider and self._provider is not None:
                await self._provider.aclose()
        return self._outcome(stop_reason)

    async def _team_run(self, query: str, previous: Checkpoint | None, number: int) -> Checkpoint:
        from runtime.engine.api import run, settings_from_config

        setting = settings_from_config(
            self.team, COORDINATOR, query, env=self.env, workspace=self.cwd, job_id=self.job_id
        )
        start = previous.step_number if previous is not None else 0
        setting.max_steps = start + ROUND_STEP_BUDGET
        figures = RoundFigures(number=number)
        self.figures.append(figures)
        calls, began = self._calls, time.perf_counter()

        def listener(event: BaseEvent) -> None:
            self._count(event)
            if self.on_event is not None:
                self.on_event(event)

        try:
            return await run(
                setting,
                listener,
                storage=self.storage,
                checkpoint=_fresh_run(previous) if previous is not None else None,
                provider=self._provider,
                in_process_skills={LAB_SKILL_NAME: lambda config: LabSkill(self.lab, config)},
            )
        finally:
            figures.wall_ms = round((time.perf_counter() - began) * 1000)
            figures.model_calls = self._calls - calls

    def _count(self, event: BaseEvent) -> None:
        if event.type == "startGeneration":
            self._calls += 1

    def _round_query(self, number: int) -> str:
        options = self.options
        if number == 1:
            return first_round_message(
                options.description,
                options.expert,
                options.max_iterations,
                self.config_path if self.old_text else None,
            )
        return next_round_message(self.lab, number, options.max_iterations)

    # --- the result -----------------------------------------------------------------------

    def _outcome(self, stop_reason: str) -> Outcome:
        lab = self.lab
        rounds = lab.state.rounds
        changes = []
        for before, after in zip(rounds, rounds[1:], strict=False):
            change = RoundChange(
                number=after.number,
                definitions=compare_definitions(
                    lab.draft_text(before.number), lab.draft_text(after.number), lab.state.touched
                ),
                why=after.changes,
            )
            for name, result in after.results.items():
                earlier = before.results.get(name)
                if earlier is not None:
                    lines = compare_runs(earlier.record, result.record)
                    if lines:
                        change.runs[name] = lines
            changes.append(change)
        final = next(
            (
                lab.draft_text(r.number)
                for r in reversed(rounds)
                if lab.draft_text(r.number) is not None
            ),
            None,
        )
        proposal = self.proposal(final)
        return Outcome(
            job_id=self.job_id,
            directory=self.directory,
            state=lab.state,
            stop_reason=stop_reason,
            stable=lab.stable(),
            proposal=proposal,
            changes=changes,
            figures=self.figures,
            final_definitions=experts_of(final, lab.state.touched) if final else "",
        )

    def proposal(self, final: str | None) -> Proposal:
        """The change to the project's file: the final draft's Experts merged into it *now*
        (the file may have changed while the session ran)."""
        lab = self.lab
        rejected = [problem for state in lab.state.rounds for problem in state.rejected]
        header = new_file_header(self.effective, self.options.description)
        return propose(self.config_path, final, lab.state.touched, header, rejected)


def apply_proposal(outcome: Outcome) -> Path | None:
    """Write the proposal (validated again), keeping a backup; return the backup's path.

    Raises:
        PerstackError: nothing to write, or the text would not load (nothing written).
    """
    proposal = outcome.proposal
    if proposal.new_text is None:
        raise PerstackError(f"Nothing to write: {proposal.problem}")
    backup = outcome.directory / f"{proposal.path.name}.before" if proposal.old_text else None
    write_config(proposal.path, proposal.new_text, backup)
    outcome.applied = True
    outcome.backup = backup
    return backup


def _fresh_run(previous: Checkpoint) -> Checkpoint:
    """Where the next round starts: the same job, the next step, an empty history."""
    from runtime.model import Checkpoint, new_id

    return Checkpoint(
        id=new_id(),
        job_id=previous.job_id,
        run_id=new_id(),
        status="init",
        step_number=previous.step_number,
        messages=[],
        expert=previous.expert,
        usage=previous.usage,
        context_window=previous.context_window,
        context_window_usage=0.0 if previous.context_window else None,
    )


def _config_path(cwd: Path, explicit: str | None, find_config: Callable[..., Path]) -> Path:
    if explicit is not None:
        path = (cwd / Path(explicit).expanduser()).resolve()
        if not path.parent.is_dir():
            raise PerstackError(f'--config {explicit}: directory "{path.parent}" does not exist')
        return path
    try:
        return find_config(cwd)
    except PerstackError:
        return (cwd / "perstack.toml").resolve()


def _build_provider(config: PerstackConfig, env: dict[str, str], base_dir: Path) -> Provider:
    from runtime.providers.factory import create_provider

    name = config.provider.provider_name
    try:
        return create_provider(name, config.provider.setting, env, base_dir)
    except PerstackError as error:
        raise PerstackError(provider_hint(str(error), name)) from None


def provider_hint(problem: str, provider_name: str) -> str:
    """A provider error, and for a missing key how to set it, in one line."""
    if problem.endswith(" is not set"):
        name = problem.split()[0]
        return (
            f"{problem}: create-expert runs the {provider_name} provider; export {name}=... "
            f"or put it in .env next to perstack.toml (or choose another with --provider)"
        )
    return problem


def figures_json(figures: list[RoundFigures]) -> list[dict[str, Any]]:
    return [
        {"round": f.number or "report", "wallMs": f.wall_ms, "modelCalls": f.model_calls}
        for f in figures
    ]
