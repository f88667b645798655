"""MCP skills over legacy SSE and streamable HTTP, against toolbox servers on 127.0.0.1."""

from __future__ import annotations

import asyncio

import pytest

from runtime.errors import PerstackError
from runtime.model import ImageInlinePart, TextPart
from runtime.skills.manager import SkillContext
from runtime.skills.mcp import McpSkill
from tests.skills.mcp_testkit import HttpServer, Recorder, contents


def remote_config(kind: str, endpoint: str, **fields):
    from runtime.config.models import McpSseSkillConfig, McpStreamableHttpSkillConfig

    model = McpSseSkillConfig if kind == "sse" else McpStreamableHttpSkillConfig
    return model(name=f"{kind}-box", endpoint=endpoint, **fields)


@pytest.fixture(params=["sse", "http"])
def server(request: pytest.FixtureRequest) -> tuple[str, HttpServer]:
    fixture = "sse_server" if request.param == "sse" else "http_server"
    return request.param, request.getfixturevalue(fixture)


async def test_connect_call_and_close(
    server: tuple[str, HttpServer], context: SkillContext, recorder: Recorder
) -> None:
    kind, http = server
    skill = McpSkill(
        remote_config(kind, http.url, allow_private_network=True, omit=["crash"])
    )
    await skill.start(context)
    try:
        names = {tool.name for tool in skill.tools()}
        assert {"echo", "image", "sleep"} <= names and "crash" not in names
        echoed, image, failed = await asyncio.gather(
            contents(skill, "echo", {"text": "over the wire"}),
            contents(skill, "image", {}),
            contents(skill, "protocol_error", {}),
        )
    finally:
        await skill.close()
    assert echoed == [TextPart(id=echoed[0].id, text="over the wire")]
    assert isinstance(image[0], ImageInlinePart)
    assert failed[0].text == "Error calling tool protocol_error: quota exceeded"
    # No process to spawn: no skillStarting; connected and disconnected are reported.
    assert recorder.types() == ["skillConnected", "skillDisconnected"]
    connected = recorder.of("skillConnected")[0]
    assert connected["server_info"] == {"name": "toolbox", "version": "1.2.3"}
    assert connected["spawn_duration_ms"] is None
    assert connected["handshake_duration_ms"] >= 0
    assert skill.pid is None


@pytest.mark.parametrize("kind", ["sse", "http"])
@pytest.mark.parametrize(
    ("endpoint", "reason"),
    [
        ("http://127.0.0.1:9/mcp", "is a private or loopback address; set allowPrivateNetwork"),
        ("https://localhost/mcp", "is a private or loopback address; set allowPrivateNetwork"),
        ("https://10.1.2.3/mcp", "is a private or loopback address; set allowPrivateNetwork"),
        ("https://[::ffff:192.168.0.1]/mcp", "is a private or loopback address"),
        ("http://example.com/mcp", "must use HTTPS; set allowPrivateNetwork"),
    ],
)
async def test_endpoint_rules_are_checked_at_start(
    kind: str, endpoint: str, reason: str, context: SkillContext, recorder: Recorder
) -> None:
    config = remote_config(kind, "https://example.com/mcp")
    # The loader refuses these too; a config changed after loading is checked again.
    object.__setattr__(config, "endpoint", endpoint)
    with pytest.raises(PerstackError) as raised:
        await McpSkill(config).start(context)
    label = "SSE" if kind == "sse" else "streamable HTTP"
    assert str(raised.value).startswith(f"Skill {kind}-box {label} endpoint {endpoint} {reason}")
    assert recorder.events == []


async def test_unreachable_endpoint_fails_to_start(context: SkillContext) -> None:
    import socket

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/mcp"
    config = remote_config("http", url, allow_private_network=True)
    with pytest.raises(PerstackError) as raised:
        await McpSkill(config, start_timeout=10).start(context)
    # The skill and its endpoint are named, then the reason.
    assert str(raised.value) == (
        f"Skill http-box failed to start (streamable HTTP endpoint {url}): "
        "All connection attempts failed"
    )
