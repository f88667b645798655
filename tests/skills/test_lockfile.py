"""``perstack.lock``: its upstream format, reading it back, and when a lock still applies."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from runtime.config import parse_config_text
from runtime.providers.base import ToolDefinition
from runtime.skills.lockfile import (
    find_lockfile,
    load_lockfile,
    render_lockfile,
    tool_schema_hash,
    write_lockfile,
)

CONFIG = """
model = "claude-sonnet-4-5"

[experts."writer"]
description = "Writes things"
instruction = "Write."
delegates = ["helper"]
tags = ["docs"]

[experts."writer".skills."@perstack/base"]
type = "mcpStdioSkill"
command = "npx"
packageName = "@perstack/base"
pick = ["readTextFile", "attemptCompletion"]

[experts."writer".skills.box]
type = "mcpStdioSkill"
command = "python"
args = ["box.py"]
omit = ["crash"]
requiredEnv = ["BOX_TOKEN"]

[experts."writer".skills.web]
type = "mcpStreamableHttpSkill"
endpoint = "https://mcp.example.com/mcp"

[experts."writer".skills.ask]
type = "interactiveSkill"
[experts."writer".skills.ask.tools.askUser]
description = "Ask the user"
inputJsonSchema = '{"type":"object","properties":{"q":{"type":"string"}}}'

[experts."helper"]
instruction = "Help."
"""

SCHEMA = {
    "type": "object",
    "properties": {
        "text": {"type": "string", "description": "What to echo ✓"},
        "times": {"type": "integer", "minimum": 1, "default": 1},
        "tags": {"type": "array", "items": {"type": "string"}},
        "$mode": {"enum": ["a", "b", 3, 2.5, True]},
    },
    "required": ["text"],
}
NULL_SCHEMA = {"type": "object", "properties": {"x": {"type": ["string", "null"], "default": None}}}


def tool(skill: str, name: str, schema: dict | None = None, description: str | None = "d"):
    return ToolDefinition(
        name=name, description=description, input_schema=schema or SCHEMA, skill_name=skill
    )


def writer_tools() -> list[ToolDefinition]:
    return [
        tool("@perstack/base", "readTextFile"),
        tool("box", "echo"),
        tool("box", "nullable", NULL_SCHEMA, description=None),
        tool("web", "search"),
        tool("ask", "askUser", {"type": "object", "properties": {"q": {"type": "string"}}}),
    ]


@pytest.fixture
def config(tmp_path: Path):
    path = tmp_path / "perstack.toml"
    path.write_text(CONFIG)
    return parse_config_text(CONFIG, path)


@pytest.fixture
def lock_path(config, tmp_path: Path) -> Path:
    path = tmp_path / "perstack.lock"
    write_lockfile(path, render_lockfile(config, {"writer": writer_tools()}, 1767225600000))
    return path


def test_written_in_upstream_format(config, lock_path: Path) -> None:
    data = tomllib.loads(lock_path.read_text())
    assert data["version"] == "1"
    assert data["generatedAt"] == 1767225600000
    assert data["configPath"] == "perstack.toml"
    writer = data["experts"]["writer"]
    assert {k: writer[k] for k in ("key", "name", "version", "description", "instruction")} == {
        "key": "writer",
        "name": "writer",
        "version": "1.0.0",
        "description": "Writes things",
        "instruction": "Write.",
    }
    assert (writer["delegates"], writer["tags"]) == (["helper"], ["docs"])
    box = writer["skills"]["box"]
    assert box == {
        "name": "box",
        "type": "mcpStdioSkill",
        "command": "python",
        "args": ["box.py"],
        "pick": [],
        "omit": ["crash"],
        "requiredEnv": ["BOX_TOKEN"],
        "lazyInit": False,
        "toolSchemaHash": tool_schema_hash([t for t in writer_tools() if t.skill_name == "box"]),
    }
    web = writer["skills"]["web"]
    assert web["type"] == "mcpStreamableHttpSkill"
    assert web["endpoint"] == "https://mcp.example.com/mcp"
    assert web["allowPrivateNetwork"] is False
    first = writer["toolDefinitions"][0]
    assert first == {
        "skillName": "@perstack/base",
        "name": "readTextFile",
        "description": "d",
        "inputSchema": SCHEMA,
    }
    # TOML has no null: such a schema is kept as JSON text.
    assert isinstance(writer["toolDefinitions"][2]["inputSchema"], str)
    assert "description" not in writer["toolDefinitions"][2]
    # An Expert without a base-skill entry gets upstream's implicit one.
    helper = data["experts"]["helper"]
    assert helper["skills"]["@perstack/base"]["args"] == ["-y", "@perstack/base"]
    assert helper["toolDefinitions"] == []


def test_round_trip(config, lock_path: Path) -> None:
    lock = load_lockfile(lock_path)
    assert lock is not None
    assert lock.experts["writer"].tool_definitions == writer_tools()
    assert lock.config_path == "perstack.toml"
    locked = lock.locked_tools(config)
    # Only MCP skills are served from the lock; the base skill and interactive ones are
    # in-process anyway.
    assert set(locked) == {"writer"}
    assert locked["writer"] == {
        "box": [t for t in writer_tools() if t.skill_name == "box"],
        "web": [t for t in writer_tools() if t.skill_name == "web"],
    }


def test_hash_is_canonical() -> None:
    a = [tool("s", "one"), tool("s", "two", {"type": "object", "b": 1, "a": 2})]
    b = [tool("s", "two", {"a": 2, "type": "object", "b": 1}), tool("s", "one")]
    assert tool_schema_hash(a) == tool_schema_hash(b)
    assert tool_schema_hash(a) != tool_schema_hash([tool("s", "one")])
    assert tool_schema_hash(a) != tool_schema_hash([a[0], tool("s", "two", description="x")])


def test_changed_skill_is_not_locked(config, lock_path: Path) -> None:
    changed = parse_config_text(
        CONFIG.replace('args = ["box.py"]', 'args = ["box.py", "--v2"]'), config.path
    )
    lock = load_lockfile(lock_path)
    assert lock is not None
    assert set(lock.locked_tools_for(changed.experts["writer"])) == {"web"}


def test_edited_tool_definitions_are_not_trusted(config, lock_path: Path) -> None:
    text = lock_path.read_text().replace('name = "echo"', 'name = "echo2"')
    lock_path.write_text(text)
    lock = load_lockfile(lock_path)
    assert lock is not None
    assert set(lock.locked_tools_for(config.experts["writer"])) == {"web"}


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("version = ", "Invalid value"),
        ('version = "2"\n', 'version is not "1"'),
        ('version = "1"\nexperts = 3\n', "experts is not a table"),
        (
            'version = "1"\n[[experts.a.toolDefinitions]]\nname = "x"\ninputSchema = {}\n',
            "experts.a.toolDefinitions[0].skillName is missing",
        ),
        (
            'version = "1"\n[[experts.a.toolDefinitions]]\nskillName = "s"\nname = "x"\n'
            'inputSchema = "{not json"\n',
            "inputSchema is not valid JSON",
        ),
    ],
)
def test_invalid_lockfile_is_ignored_with_a_warning(tmp_path: Path, text: str, reason: str) -> None:
    path = tmp_path / "perstack.lock"
    path.write_text(text)
    warnings: list[str] = []
    assert load_lockfile(path, on_warning=warnings.append) is None
    assert len(warnings) == 1
    assert warnings[0].startswith(f"Ignoring {path}: ")
    assert reason in warnings[0]
    assert warnings[0].endswith("run `perstack install` to regenerate it")


def test_unreadable_lockfile_warns_on_stderr(tmp_path: Path, capsys) -> None:
    assert load_lockfile(tmp_path / "missing.lock") is None
    assert "Ignoring" in capsys.readouterr().err


def test_find_lockfile_next_to_the_config(tmp_path: Path) -> None:
    config = tmp_path / "project" / "perstack.toml"
    config.parent.mkdir()
    config.write_text("")
    assert find_lockfile(config) is None
    (config.parent / "perstack.lock").write_text("")
    assert find_lockfile(config) == config.parent / "perstack.lock"


WEATHER = {
    "type": "object",
    "properties": {"temperature": {"type": "number"}, "note": {"default": None}},
    "required": ["temperature"],
}


def described(name: str = "forecast", **fields) -> ToolDefinition:
    return ToolDefinition(
        name=name,
        description="d",
        input_schema={"type": "object"},
        skill_name="box",
        title=fields.get("title", "The forecast"),
        annotations=fields.get("annotations", {"readOnlyHint": True, "idempotentHint": True}),
        output_schema=fields.get("output_schema", WEATHER),
    )


def test_title_annotations_and_output_schema_are_kept(config, tmp_path: Path) -> None:
    tools = [*writer_tools(), described()]
    path = tmp_path / "perstack.lock"
    write_lockfile(path, render_lockfile(config, {"writer": tools}, 1767225600000))
    row = tomllib.loads(path.read_text())["experts"]["writer"]["toolDefinitions"][-1]
    assert row["title"] == "The forecast"
    assert row["annotations"] == {"readOnlyHint": True, "idempotentHint": True}
    # A schema holding a JSON null (TOML has none) is kept as a JSON string.
    assert row["outputSchema"] == (
        '{"properties":{"note":{"default":null},"temperature":{"type":"number"}},'
        '"required":["temperature"],"type":"object"}'
    )
    lock = load_lockfile(path)
    assert lock is not None
    assert lock.experts["writer"].tool_definitions[-1] == described()
    assert lock.locked_tools(config)["writer"]["box"][-1] == described()


def test_hash_covers_the_new_keys_only_when_present() -> None:
    import hashlib
    import json

    plain = tool("box", "echo")
    # A tool without title, annotations or outputSchema hashes as before they were kept
    # (name, description and inputSchema only), so a lock written earlier still applies.
    row = [{"name": "echo", "description": "d", "inputSchema": SCHEMA}]
    canonical = json.dumps(row, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert tool_schema_hash([plain]) == hashlib.sha256(canonical.encode()).hexdigest()
    base = tool_schema_hash([described()])
    assert base != tool_schema_hash([described(title="Other")])
    assert base != tool_schema_hash([described(annotations={"readOnlyHint": False})])
    assert base != tool_schema_hash([described(output_schema={"type": "object"})])
