"""``perstack.lock``: every skill's tool definitions, cached by ``perstack install``.

With a lockfile, a run offers the locked tools without starting any MCP server, and each
server connects on its first call (spec §8.7), so inference starts at once.

Format (TOML, upstream's §8.7 plus one key of ours)::

    version = "1"
    generatedAt = 1767225600000          # ms
    configPath = "perstack.toml"         # the config's file name

    [experts."my-expert"]
    key = "my-expert"  name = "my-expert"  version = "1.0.0"  instruction = "..."
    delegates = []  tags = []

    [experts."my-expert".skills.time]    # normalised: every field, defaults filled in
    type = "mcpStdioSkill"  name = "time"  command = "uvx"  ...
    toolSchemaHash = "9f2c..."           # ours: sha256 of the skill's tool definitions

    [[experts."my-expert".toolDefinitions]]
    skillName = "time"  name = "get_current_time"  description = "..."
    title = "Get current time"                       # ours, when the server gives them:
    annotations = { readOnlyHint = true }            # the tool's hints,
    inputSchema = { type = "object", properties = { ... } }
    outputSchema = { type = "object", ... }          # and its structured result's schema

A schema or annotations table holding a JSON ``null`` (which TOML cannot write) is stored
as a JSON string instead; readers accept both. ``title``, ``annotations`` and
``outputSchema`` count in the hash and in drift detection only when present, so a lock
written before they were kept still matches. A skill's locked tools are used only while its
table still equals the current configuration and its hash matches; otherwise that skill
simply connects before the run, as without a lockfile.

Reading uses the standard library's ``tomllib`` (fast: it is on every run's path);
writing uses ``tomlkit``.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runtime.providers.base import ToolDefinition

if TYPE_CHECKING:
    from runtime.config.models import ExpertConfig, PerstackConfig

__all__ = [
    "LOCKFILE_NAME",
    "LOCKFILE_VERSION",
    "LockedExpert",
    "Lockfile",
    "find_lockfile",
    "load_lockfile",
    "normalize_skill",
    "tool_schema_hash",
    "render_lockfile",
    "write_lockfile",
]

LOCKFILE_NAME = "perstack.lock"
LOCKFILE_VERSION = "1"
_MCP_TYPES = ("mcpStdioSkill", "mcpSseSkill", "mcpStreamableHttpSkill")
#: Upstream's implicit base-skill entry (spec §2.6), written for Experts without one so
#: the file reads like upstream's.
_UPSTREAM_BASE_ENTRY: dict[str, Any] = {
    "type": "mcpStdioSkill",
    "name": "@perstack/base",
    "description": "Base skill",
    "command": "npx",
    "args": ["-y", "@perstack/base"],
    "pick": [],
    "omit": [],
    "requiredEnv": [],
    "lazyInit": False,
}


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


#: Optional keys of a tool definition: (file key, attribute), written when not None.
_OPTIONAL = (("title", "title"), ("annotations", "annotations"), ("outputSchema", "output_schema"))


def _tool_dict(tool: ToolDefinition) -> dict[str, Any]:
    entry: dict[str, Any] = {"skillName": tool.skill_name, "name": tool.name}
    if tool.description is not None:
        entry["description"] = tool.description
    entry["inputSchema"] = tool.input_schema
    for key, attribute in _OPTIONAL:
        value = getattr(tool, attribute)
        if value is not None:
            entry[key] = value
    return entry


def _hash_row(tool: ToolDefinition) -> dict[str, Any]:
    row = {"name": tool.name, "description": tool.description, "inputSchema": tool.input_schema}
    for key, attribute in _OPTIONAL:
        value = getattr(tool, attribute)
        if value is not None:
            row[key] = value
    return row


def tool_schema_hash(tools: list[ToolDefinition]) -> str:
    """sha256 (hex) of the canonical JSON of ``tools`` (name, description, inputSchema, and
    title, annotations and outputSchema when present), ordered by name, so the same tools
    always give the same hash."""
    rows = sorted((_hash_row(t) for t in tools), key=lambda row: row["name"])
    return hashlib.sha256(_canonical(rows).encode()).hexdigest()


def normalize_skill(skill: Any) -> dict[str, Any]:
    """A skill's configuration as the lockfile stores it: camelCase, defaults included."""
    return skill.model_dump(mode="json", by_alias=True, exclude_none=True)


@dataclass(frozen=True)
class LockedExpert:
    """One Expert's entry: its normalised skill tables and its tool definitions."""

    key: str
    skills: dict[str, dict[str, Any]]
    tool_definitions: list[ToolDefinition]

    def tools_of(self, skill_name: str) -> list[ToolDefinition]:
        """The locked tools of one skill, in file order."""
        return [t for t in self.tool_definitions if t.skill_name == skill_name]


@dataclass(frozen=True)
class Lockfile:
    """A loaded ``perstack.lock``."""

    path: Path
    generated_at: int
    config_path: str
    experts: dict[str, LockedExpert] = field(default_factory=dict)

    def locked_tools_for(self, expert: ExpertConfig) -> dict[str, list[ToolDefinition]]:
        """Per MCP skill of ``expert``, its locked tools, for skills still up to date.

        A skill is left out (and connects before the run, as without a lockfile) when
        the lockfile has no entry for it, its table differs from the current
        configuration, or its tool definitions no longer match their hash.
        """
        locked = self.experts.get(expert.key)
        if locked is None:
            return {}
        result: dict[str, list[ToolDefinition]] = {}
        # The base skill is in-process (D7): never locked, whatever its entry says.
        for name, skill in expert.other_skills().items():
            if skill.type not in _MCP_TYPES:
                continue
            entry = dict(locked.skills.get(name) or {})
            expected_hash = entry.pop("toolSchemaHash", None)
            if not entry or entry != normalize_skill(skill):
                continue
            tools = locked.tools_of(name)
            if expected_hash != tool_schema_hash(tools):
                continue
            result[name] = tools
        return result

    def locked_tools(self, config: PerstackConfig) -> dict[str, dict[str, list[ToolDefinition]]]:
        """:meth:`locked_tools_for` for every Expert of ``config`` that has an entry."""
        tools = {key: self.locked_tools_for(expert) for key, expert in config.experts.items()}
        return {key: per_skill for key, per_skill in tools.items() if per_skill}


def find_lockfile(config_path: Path) -> Path | None:
    """``perstack.lock`` next to the config file, if there is one.

    (Upstream's ``perstack run`` searched from the working directory instead [QUIRK];
    ``perstack install`` writes it next to the config, so that is where we look.)
    """
    candidate = Path(config_path).resolve().parent / LOCKFILE_NAME
    return candidate if candidate.is_file() else None


class _Invalid(ValueError):
    pass


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise _Invalid(message)


def _parse_tool(raw: Any, where: str) -> ToolDefinition:
    _require(isinstance(raw, dict), f"{where} is not a table")
    skill_name, name = raw.get("skillName"), raw.get("name")
    _require(isinstance(skill_name, str) and bool(skill_name), f"{where}.skillName is missing")
    _require(isinstance(name, str) and bool(name), f"{where}.name is missing")
    description = raw.get("description")
    _require(description is None or isinstance(description, str), f"{where}.description")
    title = raw.get("title")
    _require(title is None or isinstance(title, str), f"{where}.title")
    schema = _table(raw, "inputSchema", where)
    _require(schema is not None, f"{where}.inputSchema is not a table")
    return ToolDefinition(
        name=name,
        description=description,
        input_schema=schema,  # type: ignore[arg-type]
        skill_name=skill_name,
        title=title,
        annotations=_table(raw, "annotations", where),
        output_schema=_table(raw, "outputSchema", where),
    )


def _table(raw: dict[str, Any], key: str, where: str) -> dict[str, Any] | None:
    """A table-valued key (a JSON string when it holds a null), or None when absent."""
    value = raw.get(key)
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise _Invalid(f"{where}.{key} is not valid JSON") from None
    _require(value is None or isinstance(value, dict), f"{where}.{key} is not a table")
    return value


def _parse(path: Path, data: dict[str, Any]) -> Lockfile:
    _require(data.get("version") == LOCKFILE_VERSION, f'version is not "{LOCKFILE_VERSION}"')
    experts_raw = data.get("experts", {})
    _require(isinstance(experts_raw, dict), "experts is not a table")
    experts: dict[str, LockedExpert] = {}
    for key, raw in experts_raw.items():
        where = f"experts.{key}"
        _require(isinstance(raw, dict), f"{where} is not a table")
        skills = raw.get("skills", {})
        _require(isinstance(skills, dict), f"{where}.skills is not a table")
        _require(all(isinstance(s, dict) for s in skills.values()), f"{where}.skills")
        tools_raw = raw.get("toolDefinitions", [])
        _require(isinstance(tools_raw, list), f"{where}.toolDefinitions is not an array")
        tools = [
            _parse_tool(tool, f"{where}.toolDefinitions[{index}]")
            for index, tool in enumerate(tools_raw)
        ]
        experts[key] = LockedExpert(key=key, skills=skills, tool_definitions=tools)
    generated_at = data.get("generatedAt", 0)
    return Lockfile(
        path=path,
        generated_at=generated_at if isinstance(generated_at, int) else 0,
        config_path=str(data.get("configPath", "")),
        experts=experts,
    )


def _stderr_warning(message: str) -> None:
    sys.stderr.write(message + "\n")


def load_lockfile(path: Path, on_warning: Callable[[str], None] | None = None) -> Lockfile | None:
    """Read a lockfile; an unreadable or invalid one is ignored with a warning.

    Args:
        path: The ``perstack.lock`` to read.
        on_warning: Receives the one-line warning; by default it goes to stderr.

    Returns:
        The lockfile, or None when it cannot be used (the run then connects every
        skill before it starts, as without a lockfile).
    """
    warn = on_warning or _stderr_warning
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        return _parse(Path(path), data)
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, _Invalid) as exc:
        reason = " ".join(str(exc).split())
        warn(f"Ignoring {path}: {reason}; run `perstack install` to regenerate it")
        return None


# --- writing -----------------------------------------------------------------------


def _has_null(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, dict):
        return any(_has_null(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_null(v) for v in value)
    return False


def _inline(value: Any) -> Any:
    """``value`` with every nested table inline (one readable line per tool schema)."""
    import tomlkit

    if isinstance(value, dict):
        table = tomlkit.inline_table()
        for key, item in value.items():
            table[key] = _inline(item)
        return table
    if isinstance(value, list):
        array = tomlkit.array()
        array.extend(_inline(item) for item in value)
        return array
    return value


def _expert_table(
    expert: ExpertConfig, tools: list[ToolDefinition], skill_tables: Mapping[str, Any]
) -> Any:
    import tomlkit

    table = tomlkit.table()
    table["key"] = expert.key
    table["name"] = expert.name
    table["version"] = expert.version
    if expert.description is not None:
        table["description"] = expert.description
    table["instruction"] = expert.instruction
    skills = tomlkit.table()
    for name, entry in skill_tables.items():
        skills[name] = entry
    table["skills"] = skills
    table["delegates"] = list(expert.delegates)
    table["tags"] = list(expert.tags)
    array = tomlkit.aot()
    for tool in tools:
        row = tomlkit.table()
        for key, value in _tool_dict(tool).items():
            if isinstance(value, dict):
                value = _canonical(value) if _has_null(value) else _inline(value)
            row[key] = value
        array.append(row)
    table["toolDefinitions"] = array
    return table


def render_lockfile(
    config: PerstackConfig,
    tools_by_expert: Mapping[str, list[ToolDefinition]],
    generated_at: int,
) -> str:
    """The text of ``perstack.lock`` for ``config``.

    Args:
        config: The loaded configuration (its path names ``configPath``).
        tools_by_expert: Per Expert key, its tool definitions (pick/omit applied).
        generated_at: Milliseconds since the epoch.
    """
    import tomlkit

    doc = tomlkit.document()
    doc["version"] = LOCKFILE_VERSION
    doc["generatedAt"] = generated_at
    doc["configPath"] = Path(config.path).name
    experts = tomlkit.table(is_super_table=True)
    for key, expert in config.experts.items():
        tools = list(tools_by_expert.get(key, []))
        skill_tables: dict[str, Any] = {}
        if expert.base_skill_entry() is None:
            skill_tables["@perstack/base"] = dict(_UPSTREAM_BASE_ENTRY)
        for name, skill in expert.skills.items():
            skill_tables[name] = normalize_skill(skill)
        for name, entry in skill_tables.items():
            entry["toolSchemaHash"] = tool_schema_hash([t for t in tools if t.skill_name == name])
        experts[key] = _expert_table(expert, tools, skill_tables)
    doc["experts"] = experts
    return tomlkit.dumps(doc)


def write_lockfile(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically (a temporary file renamed over it)."""
    path = Path(path)
    fd, temp = tempfile.mkstemp(prefix=".perstack.lock.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
