"""Interactive skills: tools the user answers (spec §2.5, §7).

The skill only offers its tools; calling one is handled by the loop, which stops the run
(``stopRunByInteractiveTool``) until the user resumes it with an answer.
"""

from __future__ import annotations

from typing import Any

from runtime.providers.base import ToolDefinition
from runtime.skills.manager import Skill, SkillContext

__all__ = ["InteractiveSkill"]


class InteractiveSkill(Skill):
    """The tools of one ``interactiveSkill`` table, with their parsed JSON Schemas.

    Args:
        config: An ``InteractiveSkillConfig``; each tool's ``inputJsonSchema`` string was
            validated as a JSON object when the file was loaded.
    """

    kind = "interactive"

    def __init__(self, config: Any) -> None:
        self.name = config.name
        self.rule = config.rule
        self.lazy = False
        self._tools = [
            ToolDefinition(
                name=tool_name,
                description=tool.description,
                input_schema=tool.input_schema,
                skill_name=config.name,
            )
            for tool_name, tool in config.tools.items()
        ]

    async def start(self, context: SkillContext) -> None:
        """Nothing to start: the tools are known from the configuration."""

    def tools(self) -> list[ToolDefinition]:
        """Every tool of the table, in file order (interactive skills have no pick/omit)."""
        return list(self._tools)
