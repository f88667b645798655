"""Builds the skills of one run segment from the Expert's definition."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from runtime.skills.delegate import DelegateSkill
from runtime.skills.manager import Skill

if TYPE_CHECKING:
    from runtime.config.models import ExpertConfig, SkillConfig

__all__ = ["build_skills", "InProcessSkills"]

#: Skills the embedding program provides in-process, by skill name: the factory gets the
#: skill's table (for ``pick``/``omit``) and returns the skill to use instead of starting
#: what the table describes. ``perstack create-expert`` provides its lab this way.
InProcessSkills = Mapping[str, Callable[["SkillConfig"], Skill]]


def build_skills(
    expert: ExpertConfig,
    experts: Mapping[str, ExpertConfig],
    *,
    delegated: bool,
    locked_tools: Mapping[str, Any] | None = None,
    tool_timeout: int | None = None,
    in_process: InProcessSkills | None = None,
) -> list[Skill]:
    """The skills of ``expert`` in offering order: base, MCP, interactive, delegates.

    Args:
        expert: The Expert being run.
        experts: Every Expert of the file (delegates are looked up here).
        delegated: The run was started by another Expert; interactive skills are left
            out (only the coordinator may ask the user).
        locked_tools: Per skill name, tool definitions from ``perstack.lock``; those skills
            connect on their first call instead of before the run.
        tool_timeout: The file's default bound (ms) of one MCP tool call (``toolTimeout``).
        in_process: Skills provided in-process by name (see :data:`InProcessSkills`).
    """
    from runtime.config.models import (
        InteractiveSkillConfig,
        McpSseSkillConfig,
        McpStdioSkillConfig,
        McpStreamableHttpSkillConfig,
    )
    from runtime.skills.base import BaseSkill

    pick, omit = expert.base_skill_filter()
    skills: list[Skill] = [BaseSkill(pick=pick, omit=omit)]
    interactive: list[Skill] = []
    for name, config in expert.other_skills().items():
        if in_process and name in in_process:
            skills.append(in_process[name](config))
        elif isinstance(config, InteractiveSkillConfig):
            if not delegated:
                from runtime.skills.interactive import InteractiveSkill

                interactive.append(InteractiveSkill(config))
        elif isinstance(
            config, (McpStdioSkillConfig, McpSseSkillConfig, McpStreamableHttpSkillConfig)
        ):
            from runtime.skills.mcp import McpSkill

            locked = (locked_tools or {}).get(name)
            timeout = {"call_timeout": tool_timeout / 1000} if tool_timeout else {}
            skills.append(McpSkill(config, locked_tools=locked, **timeout))
    skills += interactive
    for key in expert.delegates:
        delegate = experts[key]
        skills.append(DelegateSkill(key, delegate.name, delegate.description))
    return skills
