"""The §8.6 result mapping on SDK result objects, and interactive skills."""

from __future__ import annotations

from pathlib import Path

import mcp_types as types

from runtime.config.models import InteractiveSkillConfig
from runtime.model import FileInlinePart
from runtime.skills.interactive import InteractiveSkill
from runtime.skills.manager import SkillContext
from runtime.skills.mcp.results import result_contents
from runtime.skills.mcp.stdio import launch_command


def dumped(contents: list) -> list[dict]:
    return [part.model_dump(exclude={"id"}) for part in contents]


def test_resource_without_mime_type() -> None:
    result = types.CallToolResult(
        content=[
            types.EmbeddedResource(resource=types.TextResourceContents(uri="file:///a", text="A")),
            types.EmbeddedResource(resource=types.BlobResourceContents(uri="file:///b", blob="Qg")),
            types.EmbeddedResource(
                resource=types.BlobResourceContents(
                    uri="file:///c", blob="Qw", mime_type="image/png"
                )
            ),
        ]
    )
    contents = result_contents(result, "files", {})
    assert dumped(contents) == [
        {"type": "textPart", "text": "A", "resource": {"uri": "file:///a"}},
        {
            "type": "textPart",
            "text": "Error: resource file:///b has no mimeType",
            "resource": {"uri": "file:///b"},
        },
        {
            "type": "fileInlinePart",
            "encoded_data": "Qw",
            "mime_type": "image/png",
            "resource": {"uri": "file:///c", "mimeType": "image/png"},
        },
    ]
    assert isinstance(contents[2], FileInlinePart)


def test_is_error_joins_the_texts() -> None:
    result = types.CallToolResult(
        content=[types.TextContent(text="first"), types.TextContent(text="second")], is_error=True
    )
    assert dumped(result_contents(result, "t", {})) == [
        {"type": "textPart", "text": "Error calling tool t: first\nsecond"}
    ]
    bare = types.CallToolResult(content=[], is_error=True)
    assert result_contents(bare, "t", {})[0].text == (
        "Error calling tool t: the tool reported an error"
    )


def test_no_content_counts_as_nothing() -> None:
    result = types.CallToolResult(content=[])
    assert result_contents(result, "speak", {"say": "hé"})[0].text == (
        'Tool speak returned nothing with arguments: {"say":"hé"}'
    )


def test_launch_command_rules() -> None:
    import pytest

    from runtime.errors import PerstackError

    assert launch_command("s", "npx", "@scope/server", []) == ("npx", ["-y", "@scope/server"])
    assert launch_command("s", "npx", None, ["-y", "pkg"]) == ("npx", ["-y", "pkg"])
    assert launch_command("s", "npx", None, ["pkg", "--flag"]) == ("npx", ["-y", "pkg", "--flag"])
    assert launch_command("s", "uvx", "mcp-server-time", []) == ("uvx", ["mcp-server-time"])
    with pytest.raises(PerstackError) as neither:
        launch_command("s", "npx", None, [])
    assert str(neither.value) == "Skill s has no packageName or args. Please provide one of them."
    with pytest.raises(PerstackError) as both:
        launch_command("s", "npx", "pkg", ["x"])
    assert str(both.value) == (
        "Skill s has both packageName and args. Please provide only one of them."
    )


async def test_interactive_skill(tmp_path: Path) -> None:
    config = InteractiveSkillConfig.model_validate(
        {
            "name": "ask",
            "rule": "Ask only when stuck.",
            "tools": {
                "askUser": {
                    "description": "Ask the user a question",
                    "inputJsonSchema": (
                        '{"type":"object","properties":{"q":{"type":"string"}},"required":["q"]}'
                    ),
                },
                "confirm": {"inputJsonSchema": '{"type":"object"}'},
            },
        }
    )
    skill = InteractiveSkill(config)
    await skill.start(SkillContext(workspace=tmp_path, env={}))
    assert (skill.kind, skill.name, skill.rule, skill.lazy) == (
        "interactive", "ask", "Ask only when stuck.", False,
    )
    tools = skill.tools()
    assert [(t.name, t.description, t.skill_name) for t in tools] == [
        ("askUser", "Ask the user a question", "ask"),
        ("confirm", None, "ask"),
    ]
    assert tools[0].input_schema == {
        "type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"],
    }
    import pytest

    with pytest.raises(NotImplementedError):
        await skill.call("askUser", {"q": "?"})
    await skill.close()
