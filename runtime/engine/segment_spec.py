"""What a run segment needs besides its checkpoint (built by the job runner)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from runtime.engine.bus import EventBus
    from runtime.model import ExpertRef, InstructionMessage
    from runtime.providers.base import Provider
    from runtime.settings import RunSetting
    from runtime.skills.calls import ElicitationHandler
    from runtime.skills.skillset import SkillSet

__all__ = ["SegmentSpec"]


@dataclass
class SegmentSpec:
    """What a run segment needs besides its checkpoint.

    Attributes:
        setting: The segment's run setting (its ``run_id``, ``expert_key`` and ``input``).
        expert: The Expert being run, as a reference.
        provider: The job's model provider.
        skills: The segment's started skills.
        bus: The job's event bus.
        build_instruction: Makes the instruction message (only for fresh runs).
        context_window: The model's context window, when known.
        skill_state: Per-run skill state (todos) persisted in ``checkpoint.metadata``.
        expert_ref: Looks up a delegate Expert's reference by key.
        elicitation_handler: Asks the person an MCP server's question (the workbench);
            ``None``: nobody to ask, the run stops on the question (headless).
    """

    setting: RunSetting
    expert: ExpertRef
    provider: Provider
    skills: SkillSet
    bus: EventBus
    build_instruction: Callable[[], InstructionMessage]
    context_window: int | None = None
    skill_state: dict[str, Any] = field(default_factory=dict)
    expert_ref: Callable[[str], ExpertRef] | None = None
    elicitation_handler: ElicitationHandler | None = None
