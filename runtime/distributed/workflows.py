"""The job's workflows: thin and deterministic, every step of work in an activity.

A job is a ``perstack.job`` workflow whose id is the job id. It runs the job as one
``perstack.run`` activity: the activity runs the job's runs one after the other on one
worker (steps, single delegates, their answers), heartbeating, until the job stops or a run
delegates to several Experts at once. Then each delegate is a ``perstack.delegate`` child
workflow (its own activity, on whichever worker is free, so parallel delegates spread
over the workers), and once all have answered, a new activity continues the delegating
run with their answers. A delegate's workflow works the same way, so parallel delegations
nest.

Temporal's policies do the rest: a worker that stops heartbeating (killed, cut off) has
its activity retried on another worker, which goes on from the part's last checkpoint;
cancelling the job's workflow cancels the running activity and the delegates' workflows,
and waits until they have stopped.
"""

from __future__ import annotations

import asyncio
import base64
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from runtime.distributed.contracts import (
        DELEGATE_WORKFLOW,
        JOB_WORKFLOW,
        MAX_ATTEMPTS,
        RUN_ACTIVITY,
        JobStart,
        Outcome,
        Scope,
    )

__all__ = ["DelegateWorkflow", "JobWorkflow"]

#: Retries start at once: a part resumes from its last checkpoint, and the usual cause is
#: a lost worker, not an overloaded service (model providers retry on their own; a store
#: that is away is retried for PERSTACK_STORAGE_TIMEOUT before a part fails). Backing off
#: x3, the ten attempts still span about 30 s, as 100 ms x2 did.
_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=10),
    backoff_coefficient=3.0,
    maximum_interval=timedelta(seconds=10),
    maximum_attempts=MAX_ATTEMPTS,
    # A bad perstack.toml or an unknown Expert fails the same way on every worker.
    non_retryable_error_types=["PerstackError"],
)
#: A part may run for hours; its heartbeats, not this, tell a lost worker.
_PART_TIMEOUT = timedelta(hours=24)


@workflow.defn(name=JOB_WORKFLOW)
class JobWorkflow:
    """A job, from a start or a continue to its next stop."""

    @workflow.run
    async def run(self, start: JobStart) -> Outcome:
        return await _run_scope(Scope(job=start, kind="job", run_id=_new_id()))


@workflow.defn(name=DELEGATE_WORKFLOW)
class DelegateWorkflow:
    """One of several parallel delegates, to its answer."""

    @workflow.run
    async def run(self, scope: Scope) -> Outcome:
        return await _run_scope(scope)


async def _run_scope(scope: Scope) -> Outcome:
    outcome = await _run_part(scope)
    while outcome.kind == "fanOut":
        parent = outcome.checkpoint_id
        children = await asyncio.gather(
            *(
                workflow.execute_child_workflow(
                    DelegateWorkflow.run,
                    Scope(
                        job=scope.job,
                        kind="child",
                        run_id=_new_id(),
                        root_checkpoint_id=parent,
                        root_tool_call_id=tool_call_id,
                        parent_checkpoint_id=parent,
                        tool_call_id=tool_call_id,
                    ),
                    id=f"{scope.job.job_id}-{parent}-{index}",
                )
                for index, tool_call_id in enumerate(outcome.tool_call_ids)
            )
        )
        outcome = await _run_part(
            Scope(
                job=scope.job,
                kind="after",
                run_id=_new_id(),
                root_checkpoint_id=scope.root_checkpoint_id,
                root_tool_call_id=scope.root_tool_call_id,
                parent_checkpoint_id=parent,
                children=[child.checkpoint_id for child in children],
            )
        )
    return outcome


async def _run_part(scope: Scope) -> Outcome:
    return await workflow.execute_activity(
        RUN_ACTIVITY,
        scope,
        result_type=Outcome,
        start_to_close_timeout=_PART_TIMEOUT,
        heartbeat_timeout=timedelta(seconds=scope.job.heartbeat_timeout),
        retry_policy=_RETRY,
        # Cancelling the job waits until its run has unwound (files whole, resumable).
        cancellation_type=workflow.ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
    )


def _new_id() -> str:
    """A run id like the runtime's (24 lowercase base32 characters), from the workflow's
    deterministic random source so a replay makes the same one."""
    return base64.b32encode(workflow.random().randbytes(15)).decode("ascii").lower()
