"""What the model gets of an MCP result, in each provider's request: every content type
becomes a tool result the provider takes (resource links as readable references,
structured content as JSON, failures flagged), and what a provider cannot take is said."""

from __future__ import annotations

import mcp_types as types
import orjson

from runtime.engine.tool_execution import tool_message
from runtime.model import ExpertMessage, InstructionMessage, TextPart, ToolCallPart, ToolResult
from runtime.providers import anthropic_mapping, openai_mapping
from runtime.providers.base import GenerationRequest
from runtime.skills.mcp.results import call_result

PNG = "iVBORw0KGgo="


def mcp_results() -> list[ToolResult]:
    rich = types.CallToolResult(
        content=[
            types.TextContent(text="Sunny", annotations=types.Annotations(priority=1.0)),
            types.ImageContent(data=PNG, mime_type="image/png"),
            types.AudioContent(data="UklGRg==", mime_type="audio/wav"),
            types.ResourceLink(name="report", uri="file:///r.md", mime_type="text/markdown"),
        ]
    )
    structured = types.CallToolResult(content=[], structured_content={"temperature": 21})
    failed = types.CallToolResult(content=[types.TextContent(text="disk full")], is_error=True)
    results = []
    for call_id, name, result in (
        ("c1", "weather", rich), ("c2", "measure", structured), ("c3", "save", failed),
    ):  # fmt: skip
        reply = call_result(result, name, {})
        results.append(
            ToolResult(
                id=call_id, skill_name="box", tool_name=name, result=reply.contents,
                is_error=True if reply.is_error else None, **reply.extra,
            )  # fmt: skip
        )
    return results


def request() -> GenerationRequest:
    results = mcp_results()
    calls = ExpertMessage(
        contents=[ToolCallPart(tool_call_id=r.id, tool_name=r.tool_name) for r in results]
    )
    return GenerationRequest(
        model="a-model",
        messages=[InstructionMessage(contents=[TextPart(text="sys")]), calls, tool_message(results)],
        tools=[],
        reasoning_budget="none",
        timeout_ms=1000,
        expert_key="e",
        job_id="j",
        run_id="r",
        step_number=1,
    )


def test_the_event_keeps_structured_content_and_the_error_flag() -> None:
    rich, structured, failed = mcp_results()
    assert structured.model_extra == {"structuredContent": {"temperature": 21}}
    assert failed.is_error is True and rich.is_error is None
    assert orjson.loads(structured.to_json())["structuredContent"] == {"temperature": 21}


def test_anthropic_gets_every_block_it_can_take() -> None:
    body = orjson.loads(anthropic_mapping.encode_body(request(), anthropic_mapping.new_encoder()))
    results = body["messages"][1]["content"]
    assert results[0] == {
        "type": "tool_result",
        "tool_use_id": "c1",
        "content": [
            {"type": "text", "text": "Sunny"},
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}},
            {"type": "text", "text": "[file of type audio/wav not supported]"},
            {"type": "text", "text": "Resource link: report <file:///r.md> (text/markdown)"},
        ],
    }
    assert results[1] == {"type": "tool_result", "tool_use_id": "c2", "content": '{"temperature": 21}'}
    assert results[2] == {
        "type": "tool_result",
        "tool_use_id": "c3",
        "content": "Error calling tool save: disk full",
        "is_error": True,
    }


def test_openai_gets_every_block_it_can_take() -> None:
    body = orjson.loads(
        openai_mapping.encode_body(request(), "openai", openai_mapping.WireEncoders())
    )
    tool_messages = [m for m in body["messages"] if m["role"] == "tool"]
    assert [m["content"] for m in tool_messages] == [
        "Sunny\nResource link: report <file:///r.md> (text/markdown)",
        '{"temperature": 21}',
        "Error calling tool save: disk full",
    ]
    attachments = body["messages"][-1]
    assert attachments["role"] == "user"
    assert attachments["content"] == [
        {"type": "text", "text": "Attachments of tool result c1 (weather):"},
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
        {"type": "text", "text": "[file of type audio/wav not supported]"},
    ]
