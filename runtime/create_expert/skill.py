"""``@perstack/create-expert``: the team's own tools, an in-process skill over the :class:`Lab`.

In-process rather than an MCP server because the tools *are* the session: they share the
lab's state and the session's provider (one client for the team and every test run), and
a test run started by ``runScenarios`` is a job of the same runtime, cancelled with the
team's job. A server would have to rebuild all of that in another process and could only
talk to the session through files. The bundled ``perstack.toml`` declares the skill like
any other (so each Expert's ``pick`` shows which tools it has), and ``perstack
create-expert`` serves that declaration in-process (``runtime.engine.api.run``'s
``in_process_skills``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from runtime.create_expert.drafts import DraftError
from runtime.providers.base import ToolDefinition
from runtime.skills.base.results import error_result
from runtime.skills.manager import Skill, SkillContext, ToolContent, filter_tools

if TYPE_CHECKING:
    from runtime.config.models import SkillConfig
    from runtime.create_expert.lab import Lab

__all__ = ["LAB_SKILL_NAME", "LabSkill", "TOOLS"]

LAB_SKILL_NAME = "@perstack/create-expert"

_STRINGS = {"type": "array", "items": {"type": "string"}}
_EXPECT = {
    "type": "object",
    "description": "What should happen; every field left out is not checked.",
    "properties": {
        "completes": {"type": "boolean", "description": "Ends completed (default true)."},
        "filesWritten": {**_STRINGS, "description": "Workspace paths it must create or change."},
        "filesNotWritten": {**_STRINGS, "description": "Paths it must leave alone."},
        "fileContains": {
            "type": "object",
            "additionalProperties": {"type": "string"},
            "description": "Path -> text the file must contain afterwards.",
        },
        "toolsCalled": {**_STRINGS, "description": "Tools that must be called."},
        "toolsNotCalled": {**_STRINGS, "description": "Tools that must not be called."},
        "delegatesTo": {**_STRINGS, "description": "Experts it must delegate to."},
        "noDelegation": {"type": "boolean", "description": "It must not delegate."},
        "maxSteps": {"type": "integer", "description": "At most this many steps (its limit)."},
        "resultContains": {**_STRINGS, "description": "Texts the final answer must contain."},
        "judge": {
            "type": "string",
            "description": "What only judgement can check; the verifier decides.",
        },
    },
}
_SCENARIO = {
    "type": "object",
    "required": ["name", "expert", "query"],
    "properties": {
        "name": {"type": "string", "description": "A slug, e.g. log-a-workout."},
        "kind": {"type": "string", "enum": ["typical", "edge", "failure"]},
        "expert": {"type": "string", "description": "The Expert the run starts with."},
        "query": {"type": "string", "description": "The user's query."},
        "files": {
            "type": "object",
            "additionalProperties": {"type": "string"},
            "description": "Files to put in the scratch workspace first (path -> text).",
        },
        "expect": _EXPECT,
        "timeoutSeconds": {"type": "integer", "description": "Time limit (default 300)."},
    },
}

#: name -> (description, input schema)
TOOLS: dict[str, tuple[str, dict[str, Any]]] = {
    "roundStatus": (
        "The facts so far: the round, the description, the current definitions, every "
        "scenario and its result in each round.",
        {"type": "object", "properties": {}},
    ),
    "writeDefinitions": (
        'Save Expert definitions as this round\'s draft: TOML with [experts."<key>"] tables '
        "only (description, instruction, delegates, skills). Each table replaces that "
        "Expert's definition. A draft that would not load is refused with the problems.",
        {
            "type": "object",
            "required": ["definitions", "changes"],
            "properties": {
                "definitions": {"type": "string", "description": "The TOML."},
                "changes": {"type": "string", "description": "What changed and why."},
            },
        },
    ),
    "defineScenarios": (
        "Add test scenarios (typical, edge and failure cases), or replace those of the "
        "same name. Expectations are checked from the run's events and files.",
        {
            "type": "object",
            "required": ["scenarios"],
            "properties": {"scenarios": {"type": "array", "items": _SCENARIO}},
        },
    ),
    "runScenarios": (
        "Run scenarios (default: all) against this round's draft, each in a scratch copy "
        "of the project with its step and time limits. Returns each result.",
        {"type": "object", "properties": {"names": _STRINGS}},
    ),
    "inspectRun": (
        "This round's run of a scenario in full: checks, events, files written, answer.",
        {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}},
    ),
    "recordVerdicts": (
        "Record your verdict on this round's runs. A run whose checks failed cannot pass.",
        {
            "type": "object",
            "required": ["verdicts"],
            "properties": {
                "verdicts": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["scenario", "passed", "reason"],
                        "properties": {
                            "scenario": {"type": "string"},
                            "passed": {"type": "boolean"},
                            "reason": {"type": "string"},
                        },
                    },
                }
            },
        },
    ),
    "recordFindings": (
        "Record the report's conclusions: a summary, capabilities and limitations found.",
        {
            "type": "object",
            "required": ["summary", "capabilities", "limitations"],
            "properties": {
                "summary": {"type": "string"},
                "capabilities": _STRINGS,
                "limitations": _STRINGS,
            },
        },
    ),
}


class LabSkill(Skill):
    """The team's tools, narrowed by the skill table's ``pick``/``omit``.

    Args:
        lab: The session's lab.
        config: The skill's table in the bundled ``perstack.toml``.
    """

    kind: Literal["mcp", "interactive", "delegate"] = "mcp"

    def __init__(self, lab: Lab, config: SkillConfig) -> None:
        self.name = config.name
        self.rule = config.rule
        self.lab = lab
        tools = [
            ToolDefinition(name=name, description=text, input_schema=schema, skill_name=self.name)
            for name, (text, schema) in TOOLS.items()
        ]
        self._tools = filter_tools(
            tools, list(getattr(config, "pick", [])), list(getattr(config, "omit", []))
        )
        self._offered = {tool.name for tool in self._tools}

    async def start(self, context: SkillContext) -> None:
        """Nothing to start: the lab lives in this process."""

    def tools(self) -> list[ToolDefinition]:
        return list(self._tools)

    async def call(self, tool_name: str, args: Any) -> list[ToolContent]:
        """Run one tool; a refusal or bad arguments come back as an error result."""
        from runtime.model import TextPart

        args = args if isinstance(args, dict) else {}
        try:
            if tool_name not in self._offered:
                raise DraftError(f"Tool {tool_name} not found")
            text = await self._call(tool_name, args)
        except (DraftError, KeyError, TypeError, ValueError) as error:
            return [error_result(error)]
        return [TextPart(text=text)]

    async def _call(self, tool_name: str, args: dict[str, Any]) -> str:
        lab = self.lab
        if tool_name == "roundStatus":
            return lab.status_text()
        if tool_name == "writeDefinitions":
            return lab.write_definitions(_text(args, "definitions"), str(args.get("changes", "")))
        if tool_name == "defineScenarios":
            return lab.define_scenarios(_list(args, "scenarios"))
        if tool_name == "runScenarios":
            names = args.get("names")
            return await lab.run_scenarios([str(n) for n in names] if names else None)
        if tool_name == "inspectRun":
            return lab.inspect_run(_text(args, "name"))
        if tool_name == "recordVerdicts":
            return lab.record_verdicts(_list(args, "verdicts"))
        if tool_name == "recordFindings":
            return lab.record_findings(
                str(args.get("summary", "")),
                [str(item) for item in args.get("capabilities") or []],
                [str(item) for item in args.get("limitations") or []],
            )
        raise DraftError(f"Tool {tool_name} not found")


def _text(args: dict[str, Any], name: str) -> str:
    value = args.get(name)
    if not isinstance(value, str) or not value.strip():
        raise DraftError(f"{name} must be a non-empty string")
    return value


def _list(args: dict[str, Any], name: str) -> list[Any]:
    value = args.get(name)
    if not isinstance(value, list):
        raise DraftError(f"{name} must be an array")
    return value
