"""Delegates offered as tools (spec §6): one tool per delegate Expert, taking a `query`."""

from __future__ import annotations

from typing import Any

from runtime.providers.base import ToolDefinition
from runtime.skills.manager import Skill, SkillContext

__all__ = ["DelegateSkill", "delegate_tool_name", "DELEGATE_INPUT_SCHEMA"]

DELEGATE_INPUT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"query": {"type": "string"}},
    "required": ["query"],
}


def delegate_tool_name(expert_key: str) -> str:
    """The tool name of a delegate: the last ``/`` segment of its key (``@org/x`` -> ``x``)."""
    name = expert_key.rsplit("/", 1)[-1]
    return name.split("@", 1)[0] if "@" in name else name


class DelegateSkill(Skill):
    """The delegates of one Expert. The loop, not this class, runs the child Experts.

    Args:
        expert_key: The delegate Expert's key.
        description: Its description, shown to the model as the tool's description.
    """

    kind = "delegate"

    def __init__(self, expert_key: str, expert_name: str, description: str | None) -> None:
        self.expert_key = expert_key
        # Upstream names the owning skill after the delegate Expert.
        self.name = expert_name
        self.tool_name = delegate_tool_name(expert_key)
        self._tool = ToolDefinition(
            name=self.tool_name,
            description=description,
            input_schema=DELEGATE_INPUT_SCHEMA,
            skill_name=expert_name,
        )

    async def start(self, context: SkillContext) -> None:
        pass

    def tools(self) -> list[ToolDefinition]:
        return [self._tool]
