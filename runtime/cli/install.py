"""``perstack install``: write ``perstack.lock`` next to ``perstack.toml`` (spec §13.4).

Each Expert's MCP skills are started once (concurrently), their tools listed and the
servers closed again; the base skill's and interactive skills' tools come from their
definitions. Progress lines go to stdout, as upstream prints them (this is not ``run``,
whose stdout carries only events).
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from runtime.providers.base import ToolDefinition

if TYPE_CHECKING:
    from runtime.config.models import ExpertConfig

__all__ = ["install_command", "collect_tool_definitions"]


async def collect_tool_definitions(
    expert: ExpertConfig, env: dict[str, str], workspace: Path
) -> list[ToolDefinition]:
    """Every tool ``expert`` offers (pick/omit applied), delegates excluded.

    Order as offered to the model: base skill, MCP skills (file order), interactive.
    MCP servers are started concurrently and always closed.

    Raises:
        PerstackError: A skill could not start (one line naming it and the reason).
    """
    from runtime.config.models import InteractiveSkillConfig
    from runtime.skills.base import BaseSkill
    from runtime.skills.interactive import InteractiveSkill
    from runtime.skills.manager import SkillContext
    from runtime.skills.mcp import McpSkill

    pick, omit = expert.base_skill_filter()
    tools = list(BaseSkill(pick=pick, omit=omit).tools())
    mcp_skills: list[McpSkill] = []
    interactive: list[InteractiveSkill] = []
    for skill in expert.other_skills().values():
        if isinstance(skill, InteractiveSkillConfig):
            interactive.append(InteractiveSkill(skill))
        else:
            mcp_skills.append(McpSkill(skill))
    context = SkillContext(workspace=workspace, env=env)
    results = await asyncio.gather(
        *(skill.start(context) for skill in mcp_skills), return_exceptions=True
    )
    try:
        failure = next((r for r in results if isinstance(r, BaseException)), None)
        if failure is not None:
            raise failure
        for skill in [*mcp_skills, *interactive]:
            tools.extend(skill.tools())
    finally:
        # close() of a skill that never connected is a no-op, so close them all.
        await asyncio.gather(*(skill.close() for skill in mcp_skills), return_exceptions=True)
    return tools


async def _collect_all(
    experts: dict[str, ExpertConfig], env: dict[str, str], workspace: Path
) -> dict[str, list[ToolDefinition]]:
    collected: dict[str, list[ToolDefinition]] = {}
    for key, expert in experts.items():
        click.echo(f"Collecting tool definitions for {key}...")
        collected[key] = await collect_tool_definitions(expert, env, workspace)
        click.echo(f"  Found {len(collected[key])} tool(s)")
    return collected


@click.command("install")
@click.option("--config", "config_path", metavar="PATH", help="Path to perstack.toml.")
@click.option(
    "--env-path",
    "env_paths",
    multiple=True,
    metavar="PATH",
    help="A .env file (repeatable; replaces envPath of perstack.toml).",
)
def install_command(config_path: str | None, env_paths: tuple[str, ...]) -> int:
    """Generate perstack.lock with tool definitions for faster startup."""
    from runtime.config import find_config, load_config, load_env, resolve_env_paths
    from runtime.model import now_ms
    from runtime.skills.lockfile import LOCKFILE_NAME, render_lockfile, write_lockfile

    cwd = Path.cwd()
    path = find_config(cwd, config_path)
    config = load_config(path)
    for warning in config.warnings:
        click.echo(warning, err=True)
    env = load_env(resolve_env_paths(config, list(env_paths)), cwd)
    click.echo("Resolving experts...")
    click.echo(f"Found {len(config.experts)} expert(s)")
    tools = asyncio.run(_collect_all(dict(config.experts), env, path.parent))
    lock_path = path.parent / LOCKFILE_NAME
    write_lockfile(lock_path, render_lockfile(config, tools, now_ms()))
    click.echo(f"Generated {lock_path}")
    sys.stdout.flush()
    return 0
