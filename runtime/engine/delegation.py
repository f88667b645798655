"""What finished delegates hand back to the run that delegated to them (spec §6, D3).

Pure functions on checkpoints, shared by the job runner (delegates run in-process) and
the scale-out executor (delegates run as workflows of their own on other workers).
"""

from __future__ import annotations

from runtime.engine._messages import delegate_answer
from runtime.model import (
    Checkpoint,
    RunInput,
    new_id,
    now_ms,
)
from runtime.settings import RunSetting

__all__ = ["answer_of", "merged_run", "stopped_child"]


def stopped_child(children: list[Checkpoint]) -> Checkpoint | None:
    """The first child that stopped the job (not completed, not failed: e.g. maxSteps or
    an interactive tool), or ``None`` when every child has an answer for its parent."""
    return next((c for c in children if c.status not in ("completed", "stoppedByError")), None)


#: What a finished child tells its parent: its final text, or why it failed (D3).
answer_of = delegate_answer


def merged_run(
    setting: RunSetting,
    checkpoint: Checkpoint,
    children: list[Checkpoint],
    *,
    run_id: str,
) -> tuple[RunSetting, Checkpoint]:
    """The delegating run's next segment: its settings and the checkpoint it starts from,
    with every child's answer (``children`` in ``checkpoint.delegate_to`` order).

    The first answer is the segment's input; the others join the checkpoint's partial
    tool results. A lone child's usage already includes its parent's; parallel children
    count their own, added to the parent's.
    """
    targets = checkpoint.delegate_to or []
    answers = [
        answer_of(child, target.tool_call_id, target.tool_name)
        for child, target in zip(children, targets, strict=True)
    ]
    if len(children) == 1:
        step, usage = children[0].step_number, children[0].usage
    else:
        step = max(c.step_number for c in children)
        usage = sum((c.usage for c in children), checkpoint.usage)
    setting = setting.model_copy(
        update={
            "run_id": run_id,
            "expert_key": checkpoint.expert.key,
            "input": RunInput(interactive_tool_call_result=answers[0]),
            "updated_at": now_ms(),
        }
    )
    partial = list(checkpoint.partial_tool_results or []) + [
        a.as_tool_result() for a in answers[1:]
    ]
    checkpoint = checkpoint.model_copy(
        update={
            "id": new_id(),
            "run_id": run_id,
            "step_number": step + 1,
            "usage": usage,
            "partial_tool_results": partial or None,
        }
    )
    return setting, checkpoint
