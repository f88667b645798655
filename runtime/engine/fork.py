"""Fork a job: a new job that goes on from any checkpoint of another, with today's settings.

``perstack fork <job> <checkpointId> [query]`` (and :func:`runtime.engine.api.fork`):

* The new job starts with the forked job's history up to the fork point, copied (see
  :func:`runtime.storage.copying.copy_history`): nothing before the fork point is sent
  to the model again, and the forked job is only read.
* From there it runs like the job did (see :mod:`runtime.engine.fork_plan`): the forked
  Expert asks the model for its next step (with the query as a new user message, if one
  is given); a forked delegate's answer goes back to the parent that was waiting for it,
  with the answers of its parallel siblings (reused if they had finished, continued from
  where they stood otherwise), and the parents go on as they did.
* Everything uses the settings of now: the ``perstack.toml`` as it is (an edited
  instruction replaces the one in the history), and the provider and model asked for.
* ``job.json`` records ``forkedFrom: {jobId, runId, checkpointId}``.
"""

from __future__ import annotations

import asyncio
import re
from datetime import datetime
from typing import TYPE_CHECKING, Any

from runtime.engine.delegation import stopped_child
from runtime.engine.fork_plan import Continue, Done, ForkPlan, Fresh, NodePlan
from runtime.engine.jobs import JobRunner
from runtime.model import Checkpoint, ForkedFrom, InstructionMessage, Job, new_id, now_ms

if TYPE_CHECKING:
    from runtime.config.models import ExpertConfig
    from runtime.settings import RunSetting
    from runtime.skills.skillset import SkillSet

__all__ = ["ForkRunner"]

_CURRENT_TIME = re.compile(r"Current time: (\S+Z)")


class ForkRunner(JobRunner):
    """Runs a fork (:class:`JobRunner`'s arguments, plus the plan to follow).

    Args:
        plan: What the fork continues from (:func:`~runtime.engine.fork_plan.plan_fork`).
        **kwargs: As for :class:`JobRunner`; ``setting.job_id`` is the new job's id.
    """

    def __init__(self, *, plan: ForkPlan, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.plan = plan

    async def run_fork(self) -> Checkpoint:
        """Run the fork to a stop; return the job's last checkpoint."""
        return await self._run_job(lambda: self._go(self.plan.root))

    def open_job(self) -> Job:
        checkpoint = self.plan.checkpoint
        self.job = Job(
            id=self.setting.job_id,
            status="running",
            coordinator_expert_key=self.plan.coordinator,
            total_steps=checkpoint.step_number,
            max_steps=self.setting.max_steps,
            usage=checkpoint.usage,
            started_at=now_ms(),
            # The id the forked job's files give (a folder may have been renamed).
            forked_from=ForkedFrom(
                job_id=checkpoint.job_id, run_id=checkpoint.run_id, checkpoint_id=checkpoint.id
            ),
        )
        self._store_job()
        return self.job

    # --- following the plan ---------------------------------------------------------------

    async def _go(self, plan: NodePlan) -> Checkpoint:
        """Run one Expert's part of the plan to its stop; return its last checkpoint."""
        if isinstance(plan, Done):
            return self._ours(plan.checkpoint)
        if isinstance(plan, Fresh):
            parent = self._ours(plan.parent)
            return await self.run_child(self.setting, parent, plan.target, parallel=plan.parallel)
        if isinstance(plan, Continue):
            setting, checkpoint = self._resumed(plan)
            return await self.drive(setting, checkpoint, parallel=plan.parallel)
        waiting = self._ours(plan.checkpoint)
        if len(plan.children) == 1:
            children = [await self._go(plan.children[0])]
        else:
            children = list(await asyncio.gather(*(self._go(c) for c in plan.children)))
        setting = self.setting.model_copy(update={"expert_key": waiting.expert.key})
        stopped = stopped_child(children)
        if stopped is not None:
            return stopped
        setting, checkpoint = self.merge_children(setting, waiting, children)
        return await self.drive(setting, checkpoint, parallel=plan.parallel)

    def _ours(self, checkpoint: Checkpoint) -> Checkpoint:
        """A checkpoint of the forked job as one of the new job (what is made from it,
        events and checkpoints, belongs to the new job)."""
        return checkpoint.model_copy(update={"job_id": self.setting.job_id})

    def _resumed(self, plan: Continue) -> tuple[RunSetting, Checkpoint]:
        """The settings and first checkpoint of a run going on from ``plan.checkpoint``."""
        source = plan.checkpoint
        run_id = new_id()
        setting = self.setting.model_copy(
            update={
                "run_id": run_id,
                "expert_key": source.expert.key,
                "input": plan.run_input,
                "updated_at": now_ms(),
            }
        )
        update: dict[str, Any] = {
            "id": new_id(),
            "job_id": self.setting.job_id,
            "run_id": run_id,
            "step_number": source.step_number + 1,
        }
        if plan.run_input.text is None and source.status in (
            "stoppedByError", "stoppedByExceededMaxSteps"
        ):  # fmt: skip
            update["status"] = "proceeding"  # ask the model again, where it failed
            update["error"] = None
        return setting, source.model_copy(update=update)

    def _prepare_segment(
        self, checkpoint: Checkpoint, expert: ExpertConfig, setting: RunSetting, skills: SkillSet
    ) -> Checkpoint:
        """The Expert's instruction as ``perstack.toml`` says now, in place of the one the
        history holds (the same text, when neither was edited, is kept as it was)."""
        messages = checkpoint.messages
        if not messages or not isinstance(messages[0], InstructionMessage):
            return checkpoint
        old = messages[0]
        text = "".join(part.text for part in old.contents)
        started = _started_at(text)
        fresh = self._instruction(expert, setting, skills, started_at_ms=started)
        if "".join(part.text for part in fresh.contents) == text:
            return checkpoint
        return checkpoint.model_copy(update={"messages": [fresh, *messages[1:]]})


def _started_at(instruction: str) -> int | None:
    """The run start an instruction message names ("Current time: …"), in ms."""
    match = _CURRENT_TIME.search(instruction)
    if match is None:
        return None
    try:
        moment = datetime.fromisoformat(match.group(1).replace("Z", "+00:00"))
    except ValueError:
        return None
    return int(moment.timestamp() * 1000)
