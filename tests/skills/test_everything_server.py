"""The third-party reference server, ``@modelcontextprotocol/server-everything`` from npm,
run through ``npx`` over stdio: echo, an image, resource links and structured content."""

from __future__ import annotations

import asyncio
import json

import pytest

from runtime.model import ImageInlinePart, TextPart
from runtime.skills.calls import CURRENT_CALL, ToolCallContext
from runtime.skills.manager import SkillContext
from runtime.skills.mcp import McpSkill
from tests.npm_servers import npm_servers
from tests.skills.mcp_testkit import Recorder


@pytest.fixture(scope="session")
def npm_dir():
    try:
        return npm_servers()
    except RuntimeError as error:  # no Node.js, or no registry: the test fails, never skips
        pytest.fail(f"the npm test servers are not available: {error}")


async def test_everything_server_over_npx(npm_dir, context: SkillContext, recorder: Recorder) -> None:
    from runtime.config.models import McpStdioSkillConfig

    config = McpStdioSkillConfig(
        name="everything",
        command="npx",
        args=["--prefix", str(npm_dir), "mcp-server-everything", "stdio"],
    )
    skill = McpSkill(config)
    await skill.start(context)

    async def call(tool: str, args: dict) -> object:
        async def run() -> object:
            CURRENT_CALL.set(ToolCallContext(tool_call_id=tool, tool_name=tool, emit=recorder.emit))
            return await skill.call(tool, args)

        return await asyncio.create_task(run())

    try:
        echo = await call("echo", {"message": "hello everything"})
        image = await call("get-tiny-image", {})
        links = await call("get-resource-links", {"count": 2})
        weather = await call("get-structured-content", {"location": "Chicago"})
        progress = await call("trigger-long-running-operation", {"duration": 0.2, "steps": 2})
    finally:
        await skill.close()
    assert recorder.of("skillConnected")[0]["server_info"]["name"] == "mcp-servers/everything"
    assert [p.text for p in echo.contents] == ["Echo: hello everything"]
    assert any(isinstance(p, ImageInlinePart) and p.mime_type == "image/png" for p in image.contents)
    # Resource links reach the model as readable references, and the event keeps them whole.
    texts = [p.text for p in links.contents if isinstance(p, TextPart)]
    assert texts[0] == "Here are 2 resource links to resources available in this server:"
    assert texts[1].startswith("Resource link: Blob Resource 1 <demo://resource/dynamic/blob/1>")
    assert links.contents[2].model_extra["resourceLink"]["name"] == "Text Resource 2"
    # Structured content, checked against the tool's outputSchema, is on the result.
    assert weather.extra["structuredContent"] == {
        "temperature": 36, "conditions": "Light rain / drizzle", "humidity": 82,
    }  # fmt: skip
    assert json.loads(weather.contents[0].text) == weather.extra["structuredContent"]
    tool = skill.tool("get-structured-content")
    assert tool is not None and tool.title == "Get Structured Content Tool"
    assert tool.annotations == {
        "readOnlyHint": True, "destructiveHint": False, "idempotentHint": True,
        "openWorldHint": False,
    }  # fmt: skip
    assert tool.output_schema is not None and "temperature" in tool.output_schema["properties"]
    # Progress notifications, one per step.
    assert not progress.is_error
    assert [e["progress"] for e in recorder.of("skillProgress")] == [1.0, 2.0]
    # The task-only tool is not offered, and a warning says why.
    assert skill.tool("simulate-research-query") is None
    assert any("simulate-research-query" in w["message"] for w in recorder.of("warning"))
