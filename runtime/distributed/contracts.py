"""What the API server, the workflows and the workers hand each other through Temporal.

Plain dataclasses (Temporal's default JSON converter reads and writes them), with ids and
names only: the run settings, histories and secrets never go through Temporal. A worker
rebuilds a run's settings from its own copy of the application's ``perstack.toml`` and its
own environment, and reads checkpoints from the shared job storage.

This module imports nothing but the standard library, so the workflows' sandbox, the
server and the workers can all import it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "DEFAULT_HEARTBEAT_TIMEOUT",
    "DEFAULT_TASK_QUEUE",
    "DELEGATE_WORKFLOW",
    "JOB_WORKFLOW",
    "MAX_ATTEMPTS",
    "RUN_ACTIVITY",
    "JobStart",
    "Outcome",
    "Scope",
]

#: The task queue jobs go to unless ``--task-queue`` says otherwise.
DEFAULT_TASK_QUEUE = "perstack"
#: The workflow of a job (its id is the job id).
JOB_WORKFLOW = "perstack.job"
#: The workflow of one of several parallel delegates.
DELEGATE_WORKFLOW = "perstack.delegate"
#: The activity that runs a part of a job (see :class:`Scope`).
RUN_ACTIVITY = "perstack.run"
#: Seconds without a heartbeat before Temporal gives a running part to another worker.
DEFAULT_HEARTBEAT_TIMEOUT = 5.0
#: Attempts of one part of a job (a lost worker costs one) before the job fails.
MAX_ATTEMPTS = 10


@dataclass
class JobStart:
    """A start or a continue of a job: the input of its workflow.

    Attributes:
        job_id: The job (and the workflow's id).
        application: The application's name; each worker knows its ``perstack.toml``.
        expert_key: The Expert the job was started with.
        provider: ``provider`` override of the API request.
        model: ``model`` override of the API request.
        query: The query of a start, or a follow-up's.
        answer: The interactive tool call result of a continue (its JSON).
        checkpoint_id: The checkpoint a continue goes on from (``None``: a fresh start).
        heartbeat_timeout: Seconds; see :data:`DEFAULT_HEARTBEAT_TIMEOUT`.
    """

    job_id: str
    application: str
    expert_key: str
    provider: str | None = None
    model: str | None = None
    query: str | None = None
    answer: dict[str, Any] | None = None
    checkpoint_id: str | None = None
    heartbeat_timeout: float = DEFAULT_HEARTBEAT_TIMEOUT


@dataclass
class Scope:
    """One part of a job, run by one activity on one worker from start to end.

    A part runs its runs one after the other, single delegates included, until the job
    stops or a run delegates to several Experts at once (then its workflow runs each of
    them as a child workflow, and a new part continues the delegating run).

    Attributes:
        job: The job's start.
        kind: ``job`` (the job from its start or continue), ``child`` (one of several
            parallel delegates) or ``after`` (the delegating run, after its delegates).
        run_id: The part's first run id, the same in every attempt.
        root_checkpoint_id: For the parts of a parallel delegate: the delegating
            checkpoint (the delegate's own answer goes back to its workflow, not up the
            chain); ``None`` for the job's own chain.
        root_tool_call_id: With ``root_checkpoint_id``: which of its delegations.
        parent_checkpoint_id: ``child``: the delegating checkpoint; ``after``: the
            checkpoint that delegated in parallel.
        tool_call_id: ``child``: its delegation.
        children: ``after``: each delegate's last checkpoint, in delegation order.
    """

    job: JobStart
    kind: str
    run_id: str
    root_checkpoint_id: str | None = None
    root_tool_call_id: str | None = None
    parent_checkpoint_id: str | None = None
    tool_call_id: str | None = None
    children: list[str] = field(default_factory=list)


@dataclass
class Outcome:
    """How a part of a job ended.

    Attributes:
        kind: ``stopped`` (the part's runs stopped: ``checkpoint_id`` is the last) or
            ``fanOut`` (a run delegated to several Experts: ``checkpoint_id`` is its
            ``stoppedByDelegate`` checkpoint and ``tool_call_ids`` its delegations).
        checkpoint_id: See ``kind``.
        status: The checkpoint's status.
        tool_call_ids: ``fanOut``: the delegations, in order.
    """

    kind: str
    checkpoint_id: str
    status: str
    tool_call_ids: list[str] = field(default_factory=list)
