"""The job loop (spec §6): run segments, sequential and parallel delegation, resumption.

A job runs the coordinator; when a run stops to delegate, its children run (one after
the other for a single delegate, concurrently for several), their answers go back to the
parent as tool results, and the parent resumes in a new run segment. A child that fails
answers its parent with an error result instead of ending the job (D3).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runtime._version import __version__
from runtime.engine._messages import interactive_payload as _interactive_payload
from runtime.engine.bus import EventBus
from runtime.engine.context_window import context_window_for
from runtime.engine.delegation import answer_of, merged_run, stopped_child
from runtime.engine.loop import RunSegment, SegmentSpec
from runtime.engine.prompt import build_instruction_message
from runtime.errors import PerstackError
from runtime.events import EVENT_CLASSES, SkillConnected, SkillDisconnected
from runtime.model import (
    Checkpoint,
    DelegatedBy,
    DelegationTarget,
    ExpertRef,
    Job,
    RunInput,
    Usage,
    new_id,
    now_ms,
)
from runtime.providers.base import Provider
from runtime.settings import RunSetting
from runtime.skills.factory import InProcessSkills, build_skills
from runtime.skills.manager import Skill, SkillContext
from runtime.skills.skillset import SkillSet

if TYPE_CHECKING:
    from runtime.config.models import ExpertConfig
    from runtime.skills.calls import ElicitationHandler

__all__ = ["DelegationHandedOff", "JobRunner"]

_BASE_SKILL = "@perstack/base"
_JOB_STATUS = {
    "completed": "completed",
    "stoppedByInteractiveTool": "stoppedByInteractiveTool",
    "stoppedByExceededMaxSteps": "stoppedByMaxSteps",
    "stoppedByError": "stoppedByError",
}


class DelegationHandedOff(Exception):  # noqa: N818 - a signal, not a failure
    """A parallel delegation is run elsewhere: the runner stops at its checkpoint.

    Raised (with ``JobRunner(hand_off_parallel=True)``) once a run has stopped to delegate
    to several Experts and its ``stoppedByDelegate`` checkpoint is stored. The job stays
    ``running``; whoever runs the children continues the parent with
    :meth:`JobRunner.merge_children` and :meth:`JobRunner.drive` (the scale-out executor
    runs each child on a worker of its own).
    """

    def __init__(self, setting: RunSetting, checkpoint: Checkpoint) -> None:
        super().__init__(f"parallel delegation from checkpoint {checkpoint.id}")
        self.setting = setting
        self.checkpoint = checkpoint


class JobRunner:
    """Runs one job to a stop.

    Args:
        setting: The first segment's settings (job id, Expert, input, limits).
        experts: Every Expert of the loaded file, by key.
        provider: The job's model provider (one client for the whole job).
        bus: The job's event bus (it persists to ``storage``).
        storage: Where the job, run settings and checkpoints live (``None``: nowhere).
        workspace: The directory the run works in.
        env: The run's environment (process env plus ``.env`` files).
        locked_tools: Per Expert key, per skill name, tool definitions from the lockfile.
        elicitation_handler: Asks the person an MCP server's question (a front end's form);
            ``None``: the run stops on the question (headless).
        in_process_skills: Skills the embedding program provides in-process, by name.
        hand_off_parallel: Raise :class:`DelegationHandedOff` at a parallel delegation
            instead of running the children here.
    """

    def __init__(
        self,
        *,
        setting: RunSetting,
        experts: Mapping[str, ExpertConfig],
        provider: Provider,
        bus: EventBus,
        storage: Any | None,
        workspace: Path,
        env: Mapping[str, str],
        locked_tools: Mapping[str, Mapping[str, Any]] | None = None,
        elicitation_handler: ElicitationHandler | None = None,
        in_process_skills: InProcessSkills | None = None,
        hand_off_parallel: bool = False,
    ) -> None:
        self.setting = setting
        self.elicitation_handler = elicitation_handler
        self.experts = experts
        self.provider = provider
        self.bus = bus
        self.storage = storage
        self.workspace = workspace
        self.env = dict(env)
        self.locked_tools = locked_tools or {}
        self.in_process_skills = in_process_skills or {}
        self.hand_off_parallel = hand_off_parallel
        self.context_window = context_window_for(setting.provider_name, setting.model)
        self.job: Job | None = None

    # --- job record ---------------------------------------------------------------------

    def attach_job(self) -> Job:
        """Take up the stored job record as it is (a runner that runs part of a job)."""
        existing = self.storage.retrieve_job(self.setting.job_id) if self.storage else None
        if existing is None:
            return self.open_job()
        self.job = existing
        return existing

    def open_job(self) -> Job:
        """Record the job as running (created, or taken up from storage)."""
        existing = self.storage.retrieve_job(self.setting.job_id) if self.storage else None
        if existing is None:
            job = Job(
                id=self.setting.job_id,
                status="running",
                coordinator_expert_key=self.setting.expert_key,
                max_steps=self.setting.max_steps,
                started_at=now_ms(),
            )
        else:
            job = existing.model_copy(
                update={
                    "status": "running",
                    "finished_at": None,
                    "max_steps": self.setting.max_steps,
                }
            )
        self.job = job
        self._store_job()
        return job

    def _store_job(self) -> None:
        if self.storage is not None and self.job is not None:
            self.storage.store_job(self.job)

    def fail_job(self) -> None:
        """Record the job as stopped by an error (the run raised)."""
        if self.job is not None:
            self.job = self.job.model_copy(
                update={"status": "stoppedByError", "finished_at": now_ms()}
            )
            self._store_job()

    def _record(self, checkpoint: Checkpoint, *, totals: bool) -> None:
        assert self.job is not None
        update: dict[str, Any] = {"total_steps": max(self.job.total_steps, checkpoint.step_number)}
        if totals:
            update["usage"] = checkpoint.usage
        self.job = self.job.model_copy(update=update)
        self._store_job()

    def close_job(self, final: Checkpoint) -> None:
        """Record how the job stopped (``final`` is its last checkpoint)."""
        assert self.job is not None
        status = _JOB_STATUS.get(final.status, "running")
        self.job = self.job.model_copy(
            update={
                "status": status,
                "usage": final.usage,
                "total_steps": max(self.job.total_steps, final.step_number),
                "finished_at": now_ms()
                if status not in ("running", "stoppedByInteractiveTool")
                else None,
            }
        )
        self._store_job()

    # --- the job ------------------------------------------------------------------------

    def expert_ref(self, key: str) -> ExpertRef:
        """The reference (key, name, version) of the Expert ``key``."""
        expert = self.experts.get(key)
        if expert is None:
            raise PerstackError(f'Delegate expert "{key}" not found in experts')
        return ExpertRef(key=key, name=expert.name, version=expert.version)

    def initial_checkpoint(self, resume_from: Checkpoint | None) -> Checkpoint:
        """The checkpoint the first segment starts from (fresh, or resumed from ``resume_from``)."""
        if resume_from is None:
            return Checkpoint(
                id=new_id(),
                job_id=self.setting.job_id,
                run_id=self.setting.run_id,
                status="init",
                step_number=1,
                messages=[],
                expert=self.expert_ref(self.setting.expert_key),
                usage=Usage(),
                context_window=self.context_window,
                context_window_usage=0.0 if self.context_window else None,
            )
        return resume_from.model_copy(
            update={
                "id": new_id(),
                "job_id": self.setting.job_id,
                "run_id": self.setting.run_id,
                "step_number": resume_from.step_number + 1,
            }
        )

    async def run(self, resume_from: Checkpoint | None = None) -> Checkpoint:
        """Run the job from a fresh start or from ``resume_from``; return the last checkpoint."""

        async def body() -> Checkpoint:
            checkpoint = self.initial_checkpoint(resume_from)
            final = await self.drive(self.setting, checkpoint, parallel=False)
            # A job stopped inside a delegate resumes there; once that child completes,
            # its parents continue where they left off.
            while final.status == "completed" and final.delegated_by is not None:
                final = await self.resume_parent(final)
            return final

        return await self._run_job(body)

    async def _run_job(self, body: Callable[[], Awaitable[Checkpoint]]) -> Checkpoint:
        """Open the job record, run ``body`` and close the record with its outcome."""
        self.open_job()
        try:
            final = await body()
        except (asyncio.CancelledError, KeyboardInterrupt, DelegationHandedOff):
            raise  # the job stays "running": `--continue` resumes from the last checkpoint
        except BaseException:
            self.fail_job()
            raise
        self.close_job(final)
        return final

    async def resume_parent(
        self, child: Checkpoint, *, parallel: bool = False, run_id: str | None = None
    ) -> Checkpoint:
        """Give a finished delegate's answer to the run that delegated to it, and drive
        that run on (``parallel``: it is itself one of several delegates)."""
        delegated_by = child.delegated_by
        assert delegated_by is not None
        parent = (
            self.storage.retrieve_checkpoint(child.job_id, delegated_by.checkpoint_id)
            if self.storage is not None
            else None
        )
        if parent is None:
            raise PerstackError(
                f"Checkpoint {delegated_by.checkpoint_id} not found in job {child.job_id}"
            )
        answer = answer_of(child, delegated_by.tool_call_id, delegated_by.tool_name)
        run_id = run_id or new_id()
        setting = self.setting.model_copy(
            update={
                "run_id": run_id,
                "expert_key": parent.expert.key,
                "input": RunInput(interactive_tool_call_result=answer),
                "updated_at": now_ms(),
            }
        )
        resumed = parent.model_copy(
            update={
                "id": new_id(),
                "run_id": run_id,
                "step_number": child.step_number + 1,
                "usage": child.usage,
            }
        )
        return await self.drive(setting, resumed, parallel=parallel)

    async def drive(
        self,
        setting: RunSetting,
        checkpoint: Checkpoint,
        *,
        parallel: bool,
        delegating: bool = False,
    ) -> Checkpoint:
        """Run segments of one Expert until it stops for a reason other than delegating.

        Args:
            setting: The first segment's settings.
            checkpoint: Where it starts; with ``delegating``, a stored
                ``stoppedByDelegate`` checkpoint whose delegates are to run first.
            parallel: The Expert is one of several delegates (its usage is its own).
            delegating: Start with ``checkpoint``'s delegation, not a segment.
        """
        while True:
            if not delegating:
                checkpoint = await self._segment(setting, checkpoint)
                self._record(checkpoint, totals=not parallel)
            delegating = False
            if checkpoint.status != "stoppedByDelegate":
                return checkpoint
            targets = checkpoint.delegate_to or []
            if len(targets) == 1:
                children = [await self.run_child(setting, checkpoint, targets[0], parallel=False)]
            elif self.hand_off_parallel:
                raise DelegationHandedOff(setting, checkpoint)
            else:
                children = list(
                    await asyncio.gather(
                        *(self.run_child(setting, checkpoint, t, parallel=True) for t in targets)
                    )
                )
            stopped = stopped_child(children)
            if stopped is not None:
                return stopped  # e.g. the job's maxSteps reached inside a delegate
            setting, checkpoint = self.merge_children(setting, checkpoint, children)

    def merge_children(
        self,
        setting: RunSetting,
        checkpoint: Checkpoint,
        children: list[Checkpoint],
        *,
        run_id: str | None = None,
    ) -> tuple[RunSetting, Checkpoint]:
        """The delegating run's next segment: its settings and the checkpoint it starts
        from, with every child's answer (``children`` in ``delegate_to`` order)."""
        return merged_run(setting, checkpoint, children, run_id=run_id or new_id())

    async def run_child(
        self,
        parent_setting: RunSetting,
        parent: Checkpoint,
        target: DelegationTarget,
        *,
        parallel: bool,
        run_id: str | None = None,
    ) -> Checkpoint:
        """Run one delegate of ``parent`` to its stop; return its last checkpoint."""
        run_id = run_id or new_id()
        setting = parent_setting.model_copy(
            update={
                "run_id": run_id,
                "expert_key": target.expert.key,
                "input": RunInput(text=target.query),
                "started_at": now_ms(),
                "updated_at": now_ms(),
            }
        )
        checkpoint = Checkpoint(
            id=new_id(),
            job_id=parent.job_id,
            run_id=run_id,
            status="init",
            step_number=parent.step_number + 1,
            messages=[],
            expert=target.expert,
            usage=Usage() if parallel else parent.usage,
            context_window=self.context_window,
            context_window_usage=0.0 if self.context_window else None,
            delegated_by=DelegatedBy(
                expert=parent.expert,
                tool_call_id=target.tool_call_id,
                tool_name=target.tool_name,
                checkpoint_id=parent.id,
                run_id=parent.run_id,
            ),
        )
        return await self.drive(setting, checkpoint, parallel=parallel)

    # --- one segment --------------------------------------------------------------------

    async def _segment(self, setting: RunSetting, checkpoint: Checkpoint) -> Checkpoint:
        expert = self.experts.get(setting.expert_key)
        if expert is None:
            raise PerstackError(f'Expert "{setting.expert_key}" not found in experts')
        if self.storage is not None:
            self.storage.store_run_setting(setting.job_id, setting.run_id, setting.redacted())
        ids = {"job_id": setting.job_id, "run_id": setting.run_id}
        self.bus.emit_runtime(
            "initializeRuntime",
            **ids,
            runtime_version=__version__,
            runtime="local",
            expert_name=expert.name,
            experts=list(self.experts),
            model=setting.model,
            provider_name=setting.provider_name,
            max_steps=setting.max_steps,
            max_retries=setting.max_retries,
            timeout=setting.timeout,
            query=setting.input.text,
            interactive_tool_call=_interactive_payload(setting.input.interactive_tool_call_result),
        )
        delegated = checkpoint.delegated_by is not None
        skills = SkillSet(
            build_skills(
                expert,
                self.experts,
                delegated=delegated,
                locked_tools=self.locked_tools.get(expert.key),
                tool_timeout=setting.tool_timeout,
                in_process=self.in_process_skills,
            ),
            on_connected=lambda skill: self._in_process_connected(skill, ids),
            on_closed=lambda skill: self._in_process_closed(skill, ids),
        )
        skill_state: dict[str, Any] = {}
        segment: RunSegment | None = None
        where = {**ids, "expert_key": expert.key, "step_number": checkpoint.step_number}

        def emit_activity(event_type: str, **payload: Any) -> None:
            # What a server sends while none of its tools runs: the current step's.
            if segment is not None and hasattr(segment, "checkpoint"):
                segment.services.emit(event_type, **payload)
            else:
                self.bus.emit(EVENT_CLASSES[event_type].make(**where, **payload))

        context = SkillContext(
            workspace=self.workspace,
            env=self.env,
            emit_runtime=lambda event_type, **payload: self.bus.emit_runtime(
                event_type, **ids, **payload
            ),
            state=skill_state,
            emit_activity=emit_activity,
        )
        try:
            await skills.start(context)
            checkpoint = self._prepare_segment(checkpoint, expert, setting, skills)
            segment = RunSegment(
                SegmentSpec(
                    setting=setting,
                    expert=self.expert_ref(expert.key),
                    provider=self.provider,
                    skills=skills,
                    bus=self.bus,
                    build_instruction=lambda: self._instruction(expert, setting, skills),
                    context_window=self.context_window,
                    skill_state=skill_state,
                    expert_ref=self.expert_ref,
                    elicitation_handler=self.elicitation_handler,
                )
            )
            return await segment.execute(checkpoint)
        finally:
            await skills.close()

    def _prepare_segment(
        self, checkpoint: Checkpoint, expert: ExpertConfig, setting: RunSetting, skills: SkillSet
    ) -> Checkpoint:
        """The checkpoint a segment starts from, once its skills are ready (as given; a
        fork brings the instruction up to date here)."""
        return checkpoint

    def _instruction(
        self,
        expert: ExpertConfig,
        setting: RunSetting,
        skills: SkillSet,
        started_at_ms: int | None = None,
    ):
        rules = [(s.name, s.rule) for s in skills.skills if s.rule and s.kind != "delegate"]
        delegates = [
            (self.experts[key].name, self.experts[key].description) for key in expert.delegates
        ]
        return build_instruction_message(
            instruction=expert.instruction,
            started_at_ms=setting.started_at if started_at_ms is None else started_at_ms,
            workspace=self.workspace,
            skill_rules=rules,
            delegates=delegates,
        )

    def _in_process_connected(self, skill: Skill, ids: dict[str, str]) -> None:
        if skill.name == _BASE_SKILL or skill.name in self.in_process_skills:
            self.bus.emit(
                SkillConnected(
                    **ids,
                    skill_name=skill.name,
                    server_info={"name": skill.name, "version": __version__},
                    spawn_duration_ms=0,
                    connect_duration_ms=0,
                    total_duration_ms=0,
                )
            )

    def _in_process_closed(self, skill: Skill, ids: dict[str, str]) -> None:
        if skill.name == _BASE_SKILL or skill.name in self.in_process_skills:
            self.bus.emit(SkillDisconnected(**ids, skill_name=skill.name))
