"""Builds the skills of one run segment from the Expert's definition."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from runtime.skills.delegate import DelegateSkill
from runtime.skills.manager import Skill

if TYPE_CHECKING:
    from runtime.config.models import ExpertConfig

__all__ = ["build_skills"]


def build_skills(
    expert: ExpertConfig,
    experts: Mapping[str, ExpertConfig],
    *,
    delegated: bool,
    locked_tools: Mapping[str, Any] | None = None,
    tool_timeout: int | None = None,
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
        if isinstance(config, InteractiveSkillConfig):
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
