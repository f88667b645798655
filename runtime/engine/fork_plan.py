"""What a fork continues from: the state of every Expert of a job at the fork point.

A fork point is a stored checkpoint of any run: the end of one step of one Expert, at one
moment of the job (the time of the event that ended that step). At that moment the job's
other Experts were somewhere too: the parents of a delegate were waiting for their
delegates, a parallel sibling may have finished, be half-way, or (rarely) not have
started. :func:`plan_fork` works out, from the job's files, each of those states:

* :class:`Continue`: an Expert goes on from its last checkpoint before the moment (the
  forked one, with the fork's query, if any; the others as they stood);
* :class:`Done`: an Expert that had finished by then: its answer is reused;
* :class:`Waiting`: an Expert waiting for its delegates (each one a state of its own);
  once they answer, it goes on, as it did in the job;
* :class:`Fresh`: a delegate that had not started: it starts from its query.

The root of that tree is the coordinator. It also lists the job's events up to the moment
(for each run, up to the last step it ended before it), which the fork copies into the
new job as its history. Nothing here runs anything or writes anywhere.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from runtime.errors import PerstackError
from runtime.storage.records import STEP_END_TYPES

if TYPE_CHECKING:
    from runtime.model import Checkpoint, DelegationTarget, RunInput
    from runtime.storage.base import Storage
    from runtime.storage.records import EventFileRef

__all__ = ["Continue", "Done", "Fresh", "ForkPlan", "NodePlan", "Waiting", "plan_fork"]

_ROOT = "root"


@dataclass
class Continue:
    """Go on from ``checkpoint`` (the run's next step), with ``run_input`` (a new query,
    an answer to an interactive call, or nothing)."""

    checkpoint: Checkpoint
    run_input: RunInput
    parallel: bool = False


@dataclass
class Done:
    """Finished before the fork point: ``checkpoint`` is its last (its answer)."""

    checkpoint: Checkpoint
    parallel: bool = False


@dataclass
class Fresh:
    """Had not started at the fork point: delegated by ``parent`` for ``target``."""

    parent: Checkpoint
    target: DelegationTarget
    parallel: bool = False


@dataclass
class Waiting:
    """Waiting at ``checkpoint`` for its delegates, whose states are ``children`` (in
    ``checkpoint.delegate_to`` order)."""

    checkpoint: Checkpoint
    children: list[NodePlan] = field(default_factory=list)
    parallel: bool = False


NodePlan = Continue | Done | Fresh | Waiting


@dataclass
class ForkPlan:
    """Everything a fork needs from the job it forks.

    Attributes:
        job_id: The forked job.
        checkpoint: The fork point (whole).
        fork_ms: When the fork point's step ended.
        root: The coordinator's state at that moment (see the module docstring).
        coordinator: The job's coordinator Expert.
    """

    job_id: str
    checkpoint: Checkpoint
    fork_ms: int
    root: NodePlan
    coordinator: str
    index: _JobIndex = field(repr=False)

    def history(self) -> list[EventFileRef]:
        """The events to copy into the new job, in order: for each run, those up to the
        last step it ended by the fork point (a step half-way then is run again, not
        copied). Lists the whole job: call it off the fork's critical path."""
        return _history(self.index, self.fork_ms)


class _JobIndex:
    """The job's events by run, from file names, and each run's node (from its start).

    Listing a long job's events takes a while, so it is done only when asked for: a fork
    of the coordinator needs only its own run's step ends to plan, and the whole list
    later, to copy the history (on a thread of its own, see ``runtime.engine.api``).
    """

    def __init__(self, storage: Storage, job_id: str) -> None:
        self.storage = storage
        self.job_id = job_id
        self._refs: list[EventFileRef] | None = None
        self.run_node: dict[str, str] = {}
        self.node_runs: dict[str, list[str]] = {}
        self.step_ends: dict[str, list[EventFileRef]] = {}

    @property
    def refs(self) -> list[EventFileRef]:
        """Every event of the job (listed on first use)."""
        if self._refs is None:
            self._refs = self.storage.list_event_files(self.job_id)
            for ref in self._refs:
                if ref.type in STEP_END_TYPES:
                    self.step_ends.setdefault(ref.run_id, []).append(ref)
                elif ref.type == "startRun" and ref.run_id not in self.run_node:
                    data = self.storage.read_event_slim(ref) or {}
                    by = (data.get("initialCheckpoint") or {}).get("delegatedBy")
                    node = by.get("toolCallId") if isinstance(by, dict) else _ROOT
                    self.run_node[ref.run_id] = str(node)
                    self.node_runs.setdefault(str(node), []).append(ref.run_id)
        return self._refs

    def run_step_ends(self, run_id: str) -> list[EventFileRef]:
        """One run's step-ending events (without listing the whole job)."""
        if self._refs is not None:
            return self.step_ends.get(run_id, [])
        return self.storage.list_event_files(self.job_id, run_id=run_id, types=STEP_END_TYPES)

    def last_end(self, node_id: str, until_ms: int) -> EventFileRef | None:
        """The node's last step end at or before ``until_ms``."""
        self.refs  # noqa: B018 - the whole job listed: runs of every node are needed
        ends = [
            ref
            for run_id in self.node_runs.get(node_id, [])
            for ref in self.step_ends.get(run_id, [])
            if ref.timestamp <= until_ms
        ]
        return max(ends, key=lambda ref: (ref.timestamp, ref.step), default=None)

    def checkpoint_of(self, ref: EventFileRef) -> Checkpoint:
        data = self.storage.read_event_slim(ref) or {}
        checkpoint_id = (data.get("checkpoint") or {}).get("id")
        return self.checkpoint(str(checkpoint_id))

    def checkpoint(self, checkpoint_id: str) -> Checkpoint:
        checkpoint = self.storage.retrieve_checkpoint(self.job_id, checkpoint_id)
        if checkpoint is None:
            raise PerstackError(f"Checkpoint {checkpoint_id} not found in job {self.job_id}")
        return checkpoint


def plan_fork(storage: Storage, job_id: str, checkpoint_id: str, run_input: RunInput) -> ForkPlan:
    """Work out what a fork of ``job_id`` at ``checkpoint_id`` continues from.

    Args:
        storage: The store holding the job (read only).
        job_id: The job.
        checkpoint_id: The fork point: a stored checkpoint of any of its runs.
        run_input: What the forked Expert is given: a query (a new user message; for a
            run waiting on an interactive tool, the answer), or nothing.

    Raises:
        PerstackError: the checkpoint is not in the job, or cannot be continued the way
            asked (one line saying what to do instead).
    """
    index = _JobIndex(storage, job_id)
    checkpoint = index.checkpoint(checkpoint_id)
    fork_ms = _fork_moment(index, checkpoint)
    state: NodePlan = _forked(checkpoint, run_input, index, fork_ms)
    current = checkpoint
    while current.delegated_by is not None:
        by = current.delegated_by
        parent = index.checkpoint(by.checkpoint_id)
        targets = parent.delegate_to or []
        if by.tool_call_id not in {t.tool_call_id for t in targets}:
            raise PerstackError(
                f"Checkpoint {by.checkpoint_id} does not delegate {by.tool_call_id}: "
                f"the job's files disagree about checkpoint {current.id}"
            )
        parallel = len(targets) > 1
        state.parallel = parallel
        children = [
            state if target.tool_call_id == by.tool_call_id
            else _state_at(index, target, parent, fork_ms, parallel=parallel)
            for target in targets
        ]  # fmt: skip
        state = Waiting(parent, children)
        current = parent
    job = storage.job_data(job_id) or {}
    coordinator = job.get("coordinatorExpertKey") or current.expert.key
    return ForkPlan(
        job_id=job_id,
        checkpoint=checkpoint,
        fork_ms=fork_ms,
        root=state,
        coordinator=str(coordinator),
        index=index,
    )


def _fork_moment(index: _JobIndex, checkpoint: Checkpoint) -> int:
    """When the step that ended in ``checkpoint`` ended (its step-ending event's time)."""
    candidates = [
        ref for ref in index.run_step_ends(checkpoint.run_id) if ref.step == checkpoint.step_number
    ]
    for ref in candidates:
        data = index.storage.read_event_slim(ref) or {}
        if (data.get("checkpoint") or {}).get("id") == checkpoint.id:
            return ref.timestamp
    raise PerstackError(
        f"Checkpoint {checkpoint.id} is not the end of a step in job {index.job_id}'s events: "
        "fork from a checkpoint `perstack log --job` lists with its step"
    )


def _forked(
    checkpoint: Checkpoint, run_input: RunInput, index: _JobIndex, fork_ms: int
) -> NodePlan:
    """The forked Expert's own state: it goes on from its checkpoint."""
    status = checkpoint.status
    asked = run_input.text is not None or run_input.interactive_tool_call_result is not None
    if status == "stoppedByDelegate":
        if asked:
            raise PerstackError(
                f"Checkpoint {checkpoint.id} waits for its delegates: a query cannot be added "
                "there; fork it without a query (the delegates start again), or fork a "
                "later or earlier step"
            )
        targets = checkpoint.delegate_to or []
        parallel = len(targets) > 1
        return Waiting(checkpoint, [Fresh(checkpoint, t, parallel) for t in targets])
    if status == "stoppedByInteractiveTool":
        pending = checkpoint.pending_tool_calls or []
        if not asked or not pending:
            names = ", ".join(c.tool_name for c in pending) or "a tool"
            raise PerstackError(
                f"Checkpoint {checkpoint.id} waits for an answer to {names}: give the "
                "answer as the query"
            )
        if run_input.text is not None:  # the query answers the first pending call
            from runtime.model import InteractiveToolCallResult, RunInput

            call = pending[0]
            answer = InteractiveToolCallResult(
                tool_call_id=call.id,
                tool_name=call.tool_name,
                skill_name=call.skill_name,
                text=run_input.text,
            )
            run_input = RunInput(interactive_tool_call_result=answer)
    if status == "completed" and not asked:
        if checkpoint.delegated_by is not None:
            return Done(checkpoint)  # its answer goes back to the parent, as it stood
        raise PerstackError(
            f"Checkpoint {checkpoint.id} is where the job completed: give a query to "
            "continue from it, or fork an earlier step"
        )
    return Continue(checkpoint, run_input)


def _state_at(
    index: _JobIndex,
    target: DelegationTarget,
    parent: Checkpoint,
    fork_ms: int,
    *,
    parallel: bool,
) -> NodePlan:
    """Where a delegate (not the forked one) stood at the fork point."""
    from runtime.model import RunInput

    last = index.last_end(target.tool_call_id, fork_ms)
    if last is None:
        return Fresh(parent, target, parallel)
    checkpoint = index.checkpoint_of(last)
    if checkpoint.status == "stoppedByDelegate":
        targets = checkpoint.delegate_to or []
        inner = len(targets) > 1
        children = [_state_at(index, t, checkpoint, fork_ms, parallel=inner) for t in targets]
        return Waiting(checkpoint, children, parallel)
    if checkpoint.status == "proceeding":
        return Continue(checkpoint, RunInput(), parallel)
    return Done(checkpoint, parallel)


def _history(index: _JobIndex, fork_ms: int) -> list[EventFileRef]:
    refs = index.refs
    cutoff: dict[str, int] = {}
    for run_id, ends in index.step_ends.items():
        ended = [ref.timestamp for ref in ends if ref.timestamp <= fork_ms]
        if ended:
            cutoff[run_id] = max(ended)
    return [
        ref for ref in refs
        if ref.run_id in cutoff and ref.timestamp <= cutoff[ref.run_id]
    ]  # fmt: skip


def describe(plan: NodePlan) -> dict[str, Any]:
    """The plan as plain data (for tests and ``--verbose`` messages)."""
    if isinstance(plan, Waiting):
        return {
            "waiting": plan.checkpoint.expert.key,
            "children": [describe(child) for child in plan.children],
        }
    if isinstance(plan, Fresh):
        return {"fresh": plan.target.expert.key}
    kind = "done" if isinstance(plan, Done) else "continue"
    return {kind: plan.checkpoint.expert.key, "step": plan.checkpoint.step_number}
