"""``BaseSkill``: the in-process ``@perstack/base`` skill (spec §9, decisions D5-D7).

It offers the 17 base tools (narrowed by ``pick``/``omit``), validates each call's
arguments against the tool's schema, runs the tool and returns one content part. Every
failure, including bad arguments, comes back as a result the model can read.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable, Sequence
from typing import Any, Literal

from runtime.errors import PerstackError
from runtime.providers.base import ToolDefinition
from runtime.skills.base import directories, files, info, media, todos
from runtime.skills.base.exec import exec_command
from runtime.skills.base.paths import Workspace
from runtime.skills.base.results import ToolError, error_result, text_result
from runtime.skills.base.tooldefs import TOOL_SPECS
from runtime.skills.manager import Skill, SkillContext, ToolContent, filter_tools

__all__ = ["BaseSkill", "BASE_SKILL_NAME"]

BASE_SKILL_NAME = "@perstack/base"

#: Tools doing blocking filesystem work: run in a worker thread so a large file never
#: stalls the event loop (other skills' calls and streaming continue meanwhile).
_FILE_TOOLS: dict[str, Callable[[Workspace, dict[str, Any]], Any]] = {
    "readTextFile": files.read_text_file,
    "writeTextFile": files.write_text_file,
    "appendTextFile": files.append_text_file,
    "editTextFile": files.edit_text_file,
    "moveFile": files.move_file,
    "deleteFile": files.delete_file,
    "getFileInfo": info.get_file_info,
    "listDirectory": directories.list_directory,
    "createDirectory": directories.create_directory,
    "deleteDirectory": directories.delete_directory,
}
#: Tools whose result is the file itself rather than JSON text (spec §8.6).
_MEDIA_TOOLS: dict[str, Callable[[Workspace, dict[str, Any]], ToolContent]] = {
    "readImageFile": media.read_image_file,
    "readPdfFile": media.read_pdf_file,
}


class BaseSkill(Skill):
    """The base skill, always present in every run (D7).

    Args:
        pick: Offer only these tools (when non-empty).
        omit: Never offer these tools.
    """

    name = BASE_SKILL_NAME
    kind: Literal["mcp", "interactive", "delegate"] = "mcp"

    def __init__(self, pick: Sequence[str] = (), omit: Sequence[str] = ()) -> None:
        self._pick = list(pick)
        self._omit = list(omit)
        all_tools = [
            ToolDefinition(name=tool, description=text, input_schema=schema, skill_name=self.name)
            for tool, (text, schema) in TOOL_SPECS.items()
        ]
        self._tools = filter_tools(all_tools, self._pick, self._omit)
        self._offered = {tool.name for tool in self._tools}
        self._workspace: Workspace | None = None
        self._state: dict[str, Any] = {}
        self._started_at = time.monotonic()
        self._validators: dict[str, Any] = {}

    @property
    def workspace(self) -> str | None:
        """The real path of the run's workspace once started."""
        return self._workspace.root if self._workspace else None

    async def start(self, context: SkillContext) -> None:
        """Remember the workspace and the run's state; emits nothing (the runtime does).

        Raises:
            PerstackError: The workspace is not a directory.
        """
        workspace = Workspace(context.workspace)
        if not os.path.isdir(workspace.root):
            raise PerstackError(f"Workspace {context.workspace} is not a directory")
        self._workspace = workspace
        self._state = context.state
        self._started_at = time.monotonic()

    def tools(self) -> list[ToolDefinition]:
        """The offered tools (shared definitions: callers must not mutate the schemas).

        The runtime asks for them before every generation, so they are not copied.
        """
        return list(self._tools)

    async def call(self, tool_name: str, args: Any) -> list[ToolContent]:
        """Run one tool; failures come back as ``{"error", "message"}`` text results."""
        try:
            if tool_name not in self._offered:
                raise ToolError(f"Tool {tool_name} not found")
            if self._workspace is None:
                raise ToolError(f"Skill {self.name} is not started")
            arguments = {} if args is None else args
            self._validate(tool_name, arguments)
            return [await self._run(tool_name, self._workspace, arguments)]
        except Exception as error:  # a tool failure is a result, never a crash of the run
            return [error_result(error)]

    async def close(self) -> None:
        """Nothing to release: the skill holds no process or connection."""

    async def _run(self, tool_name: str, ws: Workspace, args: dict[str, Any]) -> ToolContent:
        if tool_name in _FILE_TOOLS:
            return text_result(await asyncio.to_thread(_FILE_TOOLS[tool_name], ws, args))
        if tool_name in _MEDIA_TOOLS:
            return await asyncio.to_thread(_MEDIA_TOOLS[tool_name], ws, args)
        if tool_name == "exec":
            return text_result(await exec_command(ws, args))
        if tool_name == "todo":
            return text_result(todos.todo(self._state, args))
        if tool_name == "clearTodo":
            return text_result(todos.clear_todo(self._state))
        if tool_name == "attemptCompletion":
            return text_result(todos.attempt_completion(self._state))
        if tool_name == "healthCheck":
            return text_result(info.health_check(ws, self._started_at))
        raise ToolError(f"Tool {tool_name} not found")

    def _validate(self, tool_name: str, args: Any) -> None:
        """Check ``args`` against the tool's schema.

        Raises:
            ToolError: ``Invalid arguments for tool <name>: <where>: <problem>``.
        """
        import jsonschema  # lazily: only needed once a tool is actually called

        validator = self._validators.get(tool_name)
        if validator is None:
            validator = jsonschema.Draft202012Validator(TOOL_SPECS[tool_name][1])
            self._validators[tool_name] = validator
        problem = jsonschema.exceptions.best_match(validator.iter_errors(args))
        if problem is not None:
            where = "/".join(str(part) for part in problem.absolute_path) or "arguments"
            raise ToolError(f"Invalid arguments for tool {tool_name}: {where}: {problem.message}")
