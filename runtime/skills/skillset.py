"""The skills of one run segment: started together, routed by tool name, closed together."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from runtime.errors import PerstackError
from runtime.providers.base import ToolDefinition
from runtime.skills.manager import Skill, SkillContext

__all__ = ["SkillSet"]


class SkillSet:
    """Owns a run segment's skills.

    Non-lazy skills start concurrently before the run (N servers take about as long as the
    slowest); lazy ones start in the background and are awaited before their tools are
    first needed. Two skills offering the same tool name are refused (D10).

    Args:
        skills: In offering order: base, other MCP skills, interactive, delegates.
        on_connected: Called after an in-process skill starts (to emit ``skillConnected``).
        on_closed: Called after an in-process skill closes (to emit ``skillDisconnected``).
    """

    def __init__(
        self,
        skills: list[Skill],
        on_connected: Callable[[Skill], None] | None = None,
        on_closed: Callable[[Skill], None] | None = None,
    ) -> None:
        self.skills = skills
        self._on_connected = on_connected
        self._on_closed = on_closed
        self._lazy_tasks: list[asyncio.Task[None]] = []
        self._started: list[Skill] = []
        self._owners: dict[str, Skill] | None = None
        self._tools: list[ToolDefinition] = []

    async def start(self, context: SkillContext) -> None:
        """Start every skill; on any failure close what started and re-raise."""
        eager = [s for s in self.skills if not s.lazy]
        lazy = [s for s in self.skills if s.lazy]
        results = await asyncio.gather(
            *(self._start_one(s, context) for s in eager), return_exceptions=True
        )
        failures = [r for r in results if isinstance(r, BaseException)]
        if failures:
            await self.close()
            raise failures[0]
        for skill in lazy:
            self._lazy_tasks.append(asyncio.create_task(self._start_one(skill, context)))

    async def _start_one(self, skill: Skill, context: SkillContext) -> None:
        await skill.start(context)
        self._started.append(skill)
        if self._on_connected is not None:
            self._on_connected(skill)

    async def ready(self) -> None:
        """Wait for lazily started skills, then (re)build the tool map, checking D10.

        Called before every generation: a skill served from the lockfile switches to its
        live tools on its first call, and the next generation must offer those.
        """
        if self._lazy_tasks:
            tasks, self._lazy_tasks = self._lazy_tasks, []
            await asyncio.gather(*tasks)
        self._build_tool_map()

    def _build_tool_map(self) -> None:
        owners: dict[str, Skill] = {}
        tools: list[ToolDefinition] = []
        for skill in self.skills:
            for tool in skill.tools():
                other = owners.get(tool.name)
                if other is not None and other is not skill:
                    raise PerstackError(
                        f'Tool "{tool.name}" is offered by both skill "{other.name}" '
                        f'and skill "{skill.name}"; omit it from one of them'
                    )
                owners[tool.name] = skill
                tools.append(tool)
        self._owners = owners
        self._tools = tools

    def tools(self) -> list[ToolDefinition]:
        """Every tool on offer (call :meth:`ready` first)."""
        if self._owners is None:
            self._build_tool_map()
        return self._tools

    def owner(self, tool_name: str) -> Skill | None:
        """The skill that owns ``tool_name``, if any."""
        if self._owners is None:
            self._build_tool_map()
        assert self._owners is not None
        return self._owners.get(tool_name)

    async def close(self) -> None:
        """Close every skill (lazy ones still starting are cancelled first)."""
        for task in self._lazy_tasks:
            task.cancel()
        if self._lazy_tasks:
            await asyncio.gather(*self._lazy_tasks, return_exceptions=True)
        self._lazy_tasks = []
        started, self._started = self._started, []
        # Concurrently: a server that is slow to exit must not delay closing the others.
        results = await asyncio.gather(*(s.close() for s in started), return_exceptions=True)
        if self._on_closed is not None:
            for skill in started:
                self._on_closed(skill)
        failure = next((r for r in results if isinstance(r, BaseException)), None)
        if failure is not None:
            raise failure
