"""One part of a job (a :class:`Scope`) on the job runner: started, or taken over.

A part's first attempt starts where its scope says (the job's start or continue, a
parallel delegate, the delegating run after its delegates). A later attempt (its worker
was lost, or it failed) goes on from the last checkpoint an earlier attempt announced,
after a ``retry`` event naming the step that runs again: at most that step is done twice.

Runs stay in one part while they can: a single delegate runs in place, and once it has
answered, its parent goes on. A parallel delegation ends the part (``fanOut``); the
workflow runs each delegate as a part of its own.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from runtime.distributed.contracts import Outcome, Scope
from runtime.engine.delegation import stopped_child
from runtime.engine.jobs import DelegationHandedOff
from runtime.errors import PerstackError
from runtime.events import Retry
from runtime.model import Checkpoint, InteractiveToolCallResult, RunInput, Usage, new_id, now_ms
from runtime.storage.records import StorageError

if TYPE_CHECKING:
    from runtime.engine.jobs import JobRunner
    from runtime.settings import RunSetting

__all__ = ["ScopeRun"]

#: A run that stopped with one of these answers the run that delegated to it.
_ANSWERED = ("completed", "stoppedByError")


class ScopeRun:
    """Runs one part of a job on ``runner`` (built for the job's worker).

    Args:
        runner: The job runner (its storage is the shared job storage).
        scope: The part.
        worker: The worker's name, for the ``retry`` event.
    """

    def __init__(self, runner: JobRunner, scope: Scope, worker: str) -> None:
        self.runner = runner
        self.scope = scope
        self.worker = worker
        self.job_id = scope.job.job_id

    async def run(self, attempt: int, last: Checkpoint | None) -> Outcome:
        """Run the part (``last``: where an earlier attempt got to) to its outcome."""
        runner = self.runner
        if self.scope.kind == "job":
            runner.open_job()
        else:
            runner.attach_job()
        try:
            if attempt > 1:
                self._announce_retry(attempt, last)
            final = await (self._resume(last) if last is not None else self._start())
            final = await self._up_the_chain(final)
        except DelegationHandedOff as handed_off:
            checkpoint = handed_off.checkpoint
            targets = checkpoint.delegate_to or []
            return Outcome(
                kind="fanOut",
                checkpoint_id=checkpoint.id,
                status=checkpoint.status,
                tool_call_ids=[target.tool_call_id for target in targets],
            )
        except StorageError:
            raise  # not the job's failure: the part is tried again once the store answers
        except PerstackError:
            runner.fail_job()
            raise
        if self.scope.root_checkpoint_id is None:
            runner.close_job(final)
        return Outcome(kind="stopped", checkpoint_id=final.id, status=final.status)

    # --- a first attempt ----------------------------------------------------------------

    async def _start(self) -> Checkpoint:
        scope, runner = self.scope, self.runner
        if scope.kind == "job":
            start = scope.job
            resumed = self._checkpoint(start.checkpoint_id) if start.checkpoint_id else None
            answer = (
                InteractiveToolCallResult.model_validate(start.answer) if start.answer else None
            )
            runner.setting = runner.setting.model_copy(
                update={
                    "run_id": scope.run_id,
                    "expert_key": resumed.expert.key if resumed else start.expert_key,
                    "input": RunInput(text=start.query, interactive_tool_call_result=answer),
                }
            )
            initial = runner.initial_checkpoint(resumed)
            return await runner.drive(runner.setting, initial, parallel=False)
        parent = self._checkpoint(scope.parent_checkpoint_id)
        if scope.kind == "child":
            target = next(
                (t for t in parent.delegate_to or [] if t.tool_call_id == scope.tool_call_id),
                None,
            )
            if target is None:
                raise PerstackError(
                    f"Checkpoint {parent.id} has no delegation {scope.tool_call_id}"
                )
            return await runner.run_child(
                self._setting_of(parent), parent, target, parallel=True, run_id=scope.run_id
            )
        children = [self._checkpoint(child) for child in scope.children]
        stopped = stopped_child(children)
        if stopped is not None:
            return stopped
        setting, merged = runner.merge_children(
            self._setting_of(parent), parent, children, run_id=scope.run_id
        )
        return await runner.drive(setting, merged, parallel=self._parallel(parent))

    # --- a later attempt ----------------------------------------------------------------

    async def _resume(self, last: Checkpoint) -> Checkpoint:
        """Go on from ``last``, a checkpoint an earlier attempt of this part stored."""
        parallel = self._parallel(last)
        if last.status == "proceeding":  # between two steps: the next one runs again
            setting = self._setting_of(last, run_id=new_id())
            initial = last.model_copy(
                update={
                    "id": new_id(),
                    "run_id": setting.run_id,
                    "step_number": last.step_number + 1,
                }
            )
            return await self.runner.drive(setting, initial, parallel=parallel)
        if last.status == "stoppedByDelegate":  # its delegates run (again)
            return await self.runner.drive(
                self._setting_of(last), last, parallel=parallel, delegating=True
            )
        return last  # stopped: its parents (if any) go on

    def _announce_retry(self, attempt: int, last: Checkpoint | None) -> None:
        scope = self.scope
        if last is not None:
            run_id, expert_key, step = last.run_id, last.expert.key, last.step_number + 1
            origin = f"from checkpoint {last.id}"
        else:
            run_id, expert_key, step = scope.run_id, *self._first_step()
            origin = "from its start"
        reason = (
            f"Attempt {attempt} on {self.worker}: the previous attempt was lost (its worker "
            f"stopped or failed); step {step} runs again, {origin}"
        )
        self.runner.bus.emit(
            Retry.make(
                reason=reason,
                new_messages=[],
                usage=Usage(),
                job_id=self.job_id,
                run_id=run_id,
                expert_key=expert_key,
                step_number=step,
            )
        )

    def _first_step(self) -> tuple[str, int]:
        """The Expert and step a part begins with."""
        scope = self.scope
        if scope.kind == "job":
            start = scope.job
            resumed = self._checkpoint(start.checkpoint_id) if start.checkpoint_id else None
            if resumed is None:
                return start.expert_key, 1
            return resumed.expert.key, resumed.step_number + 1
        parent = self._checkpoint(scope.parent_checkpoint_id)
        if scope.kind == "child":
            target = next(
                (t for t in parent.delegate_to or [] if t.tool_call_id == scope.tool_call_id),
                None,
            )
            key = target.expert.key if target else parent.expert.key
            return key, parent.step_number + 1
        steps = [self._checkpoint(child).step_number for child in scope.children]
        return parent.expert.key, max(steps, default=parent.step_number) + 1

    # --- the chain of delegations ---------------------------------------------------------

    async def _up_the_chain(self, final: Checkpoint) -> Checkpoint:
        """Hand a finished delegate's answer up to its parents, up to the part's root."""
        while (
            final.status in _ANSWERED
            and final.delegated_by is not None
            and not self._is_root(final)
        ):
            parent = self._checkpoint(final.delegated_by.checkpoint_id)
            final = await self.runner.resume_parent(final, parallel=self._parallel(parent))
        return final

    def _is_root(self, checkpoint: Checkpoint) -> bool:
        """Whether ``checkpoint`` belongs to the run the part answers for."""
        delegated_by = checkpoint.delegated_by
        if self.scope.root_checkpoint_id is None:
            return delegated_by is None
        return (
            delegated_by is not None
            and delegated_by.checkpoint_id == self.scope.root_checkpoint_id
            and delegated_by.tool_call_id == self.scope.root_tool_call_id
        )

    def _parallel(self, checkpoint: Checkpoint) -> bool:
        """Whether ``checkpoint``'s run is one of several parallel delegates."""
        return self.scope.root_checkpoint_id is not None and self._is_root(checkpoint)

    # --- storage ------------------------------------------------------------------------

    def _checkpoint(self, checkpoint_id: str | None) -> Checkpoint:
        found = (
            self.runner.storage.retrieve_checkpoint(self.job_id, checkpoint_id)
            if checkpoint_id
            else None
        )
        if found is None:
            raise PerstackError(f"Checkpoint {checkpoint_id} not found in job {self.job_id}")
        return found

    def _setting_of(self, checkpoint: Checkpoint, run_id: str | None = None) -> RunSetting:
        """The settings ``checkpoint``'s run had (its Expert, its start)."""
        stored = self.runner.storage.retrieve_run_setting(self.job_id, checkpoint.run_id) or {}
        started_at = stored.get("startedAt")
        return self.runner.setting.model_copy(
            update={
                "run_id": run_id or checkpoint.run_id,
                "expert_key": checkpoint.expert.key,
                "input": RunInput(),
                "started_at": started_at if isinstance(started_at, int) else now_ms(),
                "updated_at": now_ms(),
            }
        )
