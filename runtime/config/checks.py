"""Rules that look beyond one table: delegates (D11), duplicate tool names (D10) and the
base-skill warnings (D7).

The delegate rules read the raw TOML values, so they run whatever else is wrong; the
tool rules need a validated :class:`ExpertConfig` and run for every expert that is valid
on its own.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from runtime.config.models import (
    ExpertConfig,
    InteractiveSkillConfig,
    McpStdioSkillConfig,
    PerstackConfig,
)
from runtime.config.problems import Problem
from runtime.config.rules import BASE_SKILL_NAME, expert_key_problem

__all__ = [
    "delegate_problems",
    "duplicate_tool_problems",
    "delegate_tool_name",
    "base_skill_warnings",
]


def delegate_tool_name(delegate_key: str) -> str:
    """The tool a delegate appears as: the last ``/`` segment of its key (spec §8.5)."""
    return delegate_key.rsplit("/", 1)[-1]


def delegate_problems(
    expert_key: str, delegates: Any, defined_keys: Collection[str], file_name: str
) -> list[Problem]:
    """Delegates that are the expert itself or not an expert of this file (D11).

    Works on the raw ``delegates`` value, so it runs even when the expert has other
    problems; entries the schema rejects (not strings, bad keys) are left to it.

    Args:
        expert_key: The delegating expert's table key.
        delegates: Its ``delegates`` value as parsed from TOML.
        defined_keys: The keys of every expert table in the file.
        file_name: The file's name, for "is not defined in <file>".
    """
    if not isinstance(delegates, list):
        return []
    problems = []
    for index, delegate in enumerate(delegates):
        if not isinstance(delegate, str) or expert_key_problem(delegate) is not None:
            continue
        loc = ("experts", expert_key, "delegates", index)
        if delegate == expert_key:
            problems.append(Problem(loc, f'expert "{expert_key}" cannot delegate to itself'))
        elif delegate not in defined_keys:
            problems.append(
                Problem(
                    loc,
                    (
                        f'delegate "{delegate}" is not defined in {file_name}; '
                        "registry look-ups are not supported yet"
                    ),
                )
            )
    return problems


def duplicate_tool_problems(expert: ExpertConfig) -> list[Problem]:
    """D10, as far as it is visible without starting MCP servers.

    Tools are offered in the runtime's order (base, interactive, delegates); the later
    offer of a name is the one reported, at its own line.
    """
    expert_loc = ("experts", expert.key)
    base_entry = expert.base_skill_entry()
    base_loc = expert_loc + (("skills", base_entry.name) if base_entry else ())
    offers: list[tuple[str, str, tuple[str | int, ...]]] = [
        (tool, f'skill "{BASE_SKILL_NAME}"', base_loc) for tool in expert.base_tool_names()
    ]
    for skill in expert.other_skills().values():
        if isinstance(skill, InteractiveSkillConfig):
            offers += [
                (tool, f'skill "{skill.name}"', expert_loc + ("skills", skill.name, "tools", tool))
                for tool in skill.tools
            ]
    for index, delegate in enumerate(expert.delegates):
        offers.append(
            (
                delegate_tool_name(delegate),
                f'delegate "{delegate}"',
                expert_loc + ("delegates", index),
            )
        )

    first_owner: dict[str, str] = {}
    problems = []
    for tool, owner, loc in offers:
        if tool not in first_owner:
            first_owner[tool] = owner
            continue
        message = f'tool "{tool}" is offered by both {first_owner[tool]} and {owner}'
        if first_owner[tool] == f'skill "{BASE_SKILL_NAME}"':
            message += "; rename it, or narrow the base skill with pick/omit"
        problems.append(Problem(loc, message))
    return problems


def _pinned(text: str | None) -> bool:
    return text is not None and text.startswith(BASE_SKILL_NAME + "@")


def base_skill_warnings(config: PerstackConfig) -> list[Problem]:
    """What D7 accepts but ignores: the bundled base skill always runs in-process."""
    warnings = []
    if config.perstack_base_skill_command is not None:
        warnings.append(
            Problem(
                ("perstackBaseSkillCommand",),
                ("ignored: the base skill is bundled and always runs in-process"),
            )
        )
    for expert in config.experts.values():
        entry = expert.base_skill_entry()
        if entry is None:
            continue
        loc = ("experts", expert.key, "skills", entry.name)
        if not isinstance(entry, McpStdioSkillConfig):
            warnings.append(
                Problem(
                    loc + ("type",),
                    (
                        f"{entry.type} is ignored for the base skill: the bundled base skill is "
                        "always used (only pick/omit narrow it)"
                    ),
                )
            )
            continue
        if _pinned(entry.package_name):
            warnings.append(
                Problem(
                    loc + ("packageName",),
                    (
                        f'pinned version "{entry.package_name}" is ignored: '
                        "the bundled base skill is always used"
                    ),
                )
            )
        for index, arg in enumerate(entry.args):
            if _pinned(arg):
                warnings.append(
                    Problem(
                        loc + ("args", index),
                        (
                            f'pinned version "{arg}" is ignored: the bundled base skill is always used'
                        ),
                    )
                )
        if entry.required_env:
            warnings.append(Problem(loc + ("requiredEnv",), ("ignored for the bundled base skill")))
    return warnings
