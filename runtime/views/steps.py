"""A job as its steps: what each Expert did at each step, run by run (for diff and compare).

:func:`load_steps` reads only what it needs of a job: the event that ends each step (it
carries the step's tool calls, results, new messages, usage and times) and each run's
first event (which Expert, delegated by whom). A 2,000-step job is read in a few dozen
milliseconds, histories untouched.

The job becomes a tree of :class:`StepNode`: the coordinator, and under the step that
delegated them, its delegates (numbered ``researcher #1``, ``researcher #2`` when one
delegation runs the same Expert several times), each with its own steps in order.
Each :class:`JobStep` says what the step did (its *action*: tool calls and arguments,
a delegation, the final answer, an error) and what it cost (tokens, time).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson

from runtime.storage.records import STEP_END_TYPES
from runtime.views.runtree import ROOT, actor_label, parallel_ordinals

if TYPE_CHECKING:
    from runtime.storage.sources import JobSource

__all__ = ["JobStep", "JobSteps", "StepNode", "load_steps", "step_action"]


@dataclass(frozen=True)
class JobStep:
    """One step of one Expert.

    Attributes:
        node_id: The Expert's node (``root``, or the delegation's tool call id).
        index: Its position among its node's steps (0-based).
        step_number: The job-wide step number.
        run_id: The run segment it ran in.
        checkpoint_id: The checkpoint it ended with (a fork point: ``perstack fork``).
        expert_key: The Expert.
        actor: The Expert as shown (``researcher #2`` among parallel runs of it).
        action: What it did, as JSON: ``{"type": "tools", "toolCalls": [{"toolName",
            "args"}], "text"?}``, ``{"type": "delegate", "delegates": [{"expert",
            "query"}], "text"?}``, ``{"type": "answer", "text"}``, ``{"type": "results",
            "results": [{"toolName", "text"}]}`` (answers arriving, no generation),
            ``{"type": "interactive", "toolCalls": [...]}``, ``{"type": "retry",
            "reason"}``, ``{"type": "error", "error"}``; plus ``"query"`` when the step
            began with a user message (a run's query, a follow-up, a fork's query) and
            ``"stopped": "maxSteps"`` when the job's step limit stopped it there.
        key: The action as compact, key-sorted JSON: equal keys, same action.
        status: The checkpoint's status after it (``proceeding``, ``completed`` …).
        input_tokens: Input tokens of its generation(s).
        output_tokens: Output tokens.
        started_ms: When it started.
        finished_ms: When it ended.
    """

    node_id: str
    index: int
    step_number: int
    run_id: str
    checkpoint_id: str | None
    expert_key: str
    actor: str
    action: dict[str, Any]
    key: bytes
    status: str
    input_tokens: int
    output_tokens: int
    started_ms: int
    finished_ms: int

    @property
    def duration_ms(self) -> int:
        return max(0, self.finished_ms - self.started_ms)

    def to_json(self) -> dict[str, Any]:
        """The step as ``perstack diff --json`` prints it."""
        return {
            "stepNumber": self.step_number,
            "expert": self.expert_key,
            "actor": self.actor,
            "runId": self.run_id,
            "checkpointId": self.checkpoint_id,
            "action": self.action,
            "status": self.status,
            "tokens": {"input": self.input_tokens, "output": self.output_tokens},
            "durationMs": self.duration_ms,
        }


@dataclass
class StepNode:
    """One invocation of an Expert, and the delegates each of its steps started.

    Attributes:
        id: ``root`` or the delegation's tool call id.
        expert_key: The Expert.
        actor: As shown (numbered among parallel runs of one Expert).
        parent_id: The delegating node.
        steps: Its own steps, in order.
        delegated: step index -> the nodes that step delegated to, in delegation order.
    """

    id: str
    expert_key: str
    actor: str
    parent_id: str | None
    steps: list[JobStep] = field(default_factory=list)
    delegated: dict[int, list[str]] = field(default_factory=dict)


@dataclass
class JobSteps:
    """A job's steps as a tree (see the module docstring) and its totals.

    Attributes:
        job: The job's record.
        nodes: Every node by id.
        roots: The top nodes (the coordinator; more only for a job that began inside a
            delegate).
        final_answer: The coordinator's last answer, or ``None``.
        duration_ms: Time during which some run of the job was running, from each run's
            start to the end of its last step (pauses between runs, such as a follow-up
            asked later or a fork's gap before its own steps, left out).
    """

    job: dict[str, Any]
    nodes: dict[str, StepNode]
    roots: list[str]
    final_answer: str | None
    duration_ms: int

    def all_steps(self) -> list[JobStep]:
        return [step for node in self.nodes.values() for step in node.steps]

    def summary(self) -> dict[str, Any]:
        """``{jobId, status, steps, toolCalls, tokens: {input, output}, durationMs,
        finalAnswer, coordinator, forkedFrom?}``."""
        steps = self.all_steps()
        summary: dict[str, Any] = {
            "jobId": self.job.get("id"),
            "status": self.job.get("status"),
            "coordinator": self.job.get("coordinatorExpertKey"),
            "steps": len(steps),
            "toolCalls": sum(_call_count(step.action) for step in steps),
            "tokens": {
                "input": sum(step.input_tokens for step in steps),
                "output": sum(step.output_tokens for step in steps),
            },
            "durationMs": self.duration_ms,
            "finalAnswer": self.final_answer,
        }
        if self.job.get("forkedFrom"):
            summary["forkedFrom"] = self.job["forkedFrom"]
        return summary


def load_steps(source: JobSource) -> JobSteps:
    """Read a job's steps (see the module docstring)."""
    storage, job_id = source.storage, source.job_id
    refs = storage.list_event_files(job_id, types=STEP_END_TYPES | {"startRun"})
    run_node: dict[str, str] = {}
    nodes: dict[str, StepNode] = {}
    roots: list[str] = []
    ordinals: dict[str, int] = {}
    # The delegating step of each delegation: (parent node, its step index).
    delegations: dict[str, tuple[str, int]] = {}
    ends: list[dict[str, Any]] = []
    spans: dict[str, list[int]] = {}  # run id -> [start, end]
    documents = [(ref, storage.read_event_slim(ref)) for ref in refs]
    documents.sort(key=lambda pair: (_timestamp(pair[1], pair[0].timestamp), pair[0].timestamp))
    for ref, data in documents:
        if data is None:
            continue
        moment = _timestamp(data, ref.timestamp)
        span = spans.setdefault(ref.run_id, [moment, moment])
        span[1] = max(span[1], moment)
        if ref.type == "startRun":
            _start(data, run_node, nodes, roots, ordinals)
            continue
        node_id = run_node.get(ref.run_id) or _adopt(data, ref.run_id, run_node, nodes, roots)
        node = nodes[node_id]
        step = _job_step(data, node, ref.step)
        node.steps.append(step)
        ends.append(data)
        checkpoint = data.get("checkpoint") or {}
        targets = checkpoint.get("delegateTo") or []
        if data.get("type") == "stopRunByDelegate" and targets:
            calls = [(str(t.get("toolCallId")), str(t.get("toolName"))) for t in targets]
            ordinals.update(parallel_ordinals(calls))
            for call_id, _ in calls:
                delegations[call_id] = (node_id, step.index)
    for child_id, (parent_id, index) in delegations.items():
        if child_id in nodes:
            nodes[parent_id].delegated.setdefault(index, []).append(child_id)
    final = next(
        (
            str(data.get("text", ""))
            for data in reversed(ends)
            if data.get("type") == "completeRun"
            and not (data.get("checkpoint") or {}).get("delegatedBy")
        ),
        None,
    )
    return JobSteps(source.job_data(), nodes, roots, final, _covered_ms(spans.values()))


def _timestamp(data: dict[str, Any] | None, fallback: int) -> int:
    value = (data or {}).get("timestamp")
    return value if isinstance(value, int) else fallback


def _start(
    data: dict[str, Any],
    run_node: dict[str, str],
    nodes: dict[str, StepNode],
    roots: list[str],
    ordinals: dict[str, int],
) -> None:
    initial = data.get("initialCheckpoint") or {}
    by = initial.get("delegatedBy")
    node_id = str(by.get("toolCallId")) if isinstance(by, dict) else ROOT
    run_node[str(data.get("runId"))] = node_id
    if node_id in nodes:
        return
    key = str((initial.get("expert") or {}).get("key") or data.get("expertKey"))
    parent = run_node.get(str(by.get("runId"))) if isinstance(by, dict) else None
    nodes[node_id] = StepNode(node_id, key, actor_label(key, ordinals.get(node_id)), parent)
    if parent is None:
        roots.append(node_id)


def _adopt(
    data: dict[str, Any], run_id: str, run_node: dict[str, str], nodes: dict[str, StepNode],
    roots: list[str],
) -> str:  # fmt: skip
    """A run whose start is missing (a damaged job): its node from its checkpoint."""
    checkpoint = data.get("checkpoint") or {}
    by = checkpoint.get("delegatedBy")
    node_id = str(by.get("toolCallId")) if isinstance(by, dict) else ROOT
    if node_id not in nodes:
        key = str(data.get("expertKey"))
        nodes[node_id] = StepNode(node_id, key, key, None)
        roots.append(node_id)
    run_node[run_id] = node_id
    return node_id


def _job_step(data: dict[str, Any], node: StepNode, step_number: int) -> JobStep:
    step = data.get("step") or {}
    checkpoint = data.get("checkpoint") or {}
    usage = step.get("usage") or {}
    action = step_action(data)
    started = step.get("startedAt")
    finished = step.get("finishedAt") or data.get("timestamp")
    started = started if isinstance(started, int) else finished
    return JobStep(
        node_id=node.id,
        index=len(node.steps),
        step_number=int(data.get("stepNumber", step_number)),
        run_id=str(data.get("runId")),
        checkpoint_id=checkpoint.get("id"),
        expert_key=node.expert_key,
        actor=node.actor,
        action=action,
        key=orjson.dumps([node.expert_key, action], option=orjson.OPT_SORT_KEYS),
        status=str(checkpoint.get("status", "")),
        input_tokens=int(usage.get("inputTokens") or 0),
        output_tokens=int(usage.get("outputTokens") or 0),
        started_ms=int(started or 0),
        finished_ms=int(finished or 0),
    )


def step_action(data: dict[str, Any]) -> dict[str, Any]:
    """What a step did, from the event that ended it (see :attr:`JobStep.action`)."""
    kind = data.get("type")
    step = data.get("step") or {}
    checkpoint = data.get("checkpoint") or {}
    text = _expert_text(step.get("newMessages") or [])
    calls = [
        {"toolName": call.get("toolName"), "args": call.get("args", {})}
        for call in step.get("toolCalls") or []
    ]
    action: dict[str, Any]
    if kind == "completeRun":
        action = {"type": "answer", "text": data.get("text", "")}
    elif kind == "stopRunByError":
        error = data.get("error") or checkpoint.get("error") or {}
        action = {"type": "error", "error": f"{error.get('name')}: {error.get('message')}"}
    elif kind == "stopRunByDelegate":
        delegates = [
            {"expert": (t.get("expert") or {}).get("key"), "query": t.get("query")}
            for t in checkpoint.get("delegateTo") or []
        ]
        action = {"type": "delegate", "delegates": delegates}
    elif kind == "stopRunByInteractiveTool":
        action = {"type": "interactive", "toolCalls": calls}
    elif calls:
        action = {"type": "tools", "toolCalls": calls}
    elif step.get("toolResults"):
        results = [
            {"toolName": r.get("toolName"), "text": _parts_text(r.get("result") or [])}
            for r in step["toolResults"]
        ]
        action = {"type": "results", "results": results}
    else:
        action = {"type": "retry", "reason": _user_text(step.get("newMessages") or [])}
    if text and action["type"] not in ("answer", "error"):
        action["text"] = text
    query = _user_text(step.get("inputMessages") or [])
    if query:
        action["query"] = query  # the step began with a question (a run's, a follow-up's)
    if kind == "stopRunByExceededMaxSteps":
        action["stopped"] = "maxSteps"
    return action


def _expert_text(messages: list[Any]) -> str:
    return "".join(
        part.get("text", "")
        for message in messages
        if isinstance(message, dict) and message.get("type") == "expertMessage"
        for part in message.get("contents") or []
        if isinstance(part, dict) and part.get("type") == "textPart"
    )


def _user_text(messages: list[Any]) -> str:
    return "".join(
        part.get("text", "")
        for message in messages
        if isinstance(message, dict) and message.get("type") == "userMessage"
        for part in message.get("contents") or []
        if isinstance(part, dict) and part.get("type") == "textPart"
    )


def _parts_text(parts: list[Any]) -> str:
    return "\n".join(str(p.get("text", "")) for p in parts if isinstance(p, dict))


def _call_count(action: dict[str, Any]) -> int:
    return len(action.get("toolCalls") or []) + len(action.get("delegates") or [])


def _covered_ms(spans: Iterable[list[int]]) -> int:
    """The length of the union of the ``[start, end]`` spans."""
    total = 0
    end: int | None = None
    for start, finish in sorted(spans):
        if end is None or start > end:
            total += finish - start
            end = finish
        elif finish > end:
            total += finish - end
            end = finish
    return total
