"""The fake LLM server also answers non-streamed requests the way the real APIs do."""

from __future__ import annotations

import pytest
from fake_llm_server import AnthropicReply, FakeLLMServer, OpenAIReply, ToolCallSpec


async def test_anthropic_json_message(llm_server: FakeLLMServer) -> None:
    import anthropic

    llm_server.enqueue(
        AnthropicReply(
            thinking=[("plan", "sig")],
            text="Calling.",
            tool_calls=[ToolCallSpec("toolu_1", "readFile", '{"path": "a"}')],
        )
    )
    async with anthropic.AsyncAnthropic(
        api_key="k", base_url=llm_server.base_url, max_retries=0
    ) as client:
        message = await client.messages.create(
            model="claude-sonnet-4-6",
            max_tokens=100,
            messages=[{"role": "user", "content": "hi"}],
        )
    assert [block.type for block in message.content] == ["thinking", "text", "tool_use"]
    assert message.content[2].input == {"path": "a"}
    assert message.stop_reason == "tool_use"
    assert llm_server.requests[0].body.get("stream") in (None, False)


async def test_openai_json_completion(llm_server: FakeLLMServer) -> None:
    import openai

    llm_server.enqueue(OpenAIReply(tool_calls=[ToolCallSpec("call_1", "readFile", '{"p": 1}')]))
    async with openai.AsyncOpenAI(
        api_key="k", base_url=f"{llm_server.base_url}/v1", max_retries=0
    ) as client:
        completion = await client.chat.completions.create(
            model="gpt-4.1", messages=[{"role": "user", "content": "hi"}]
        )
    [choice] = completion.choices
    assert choice.finish_reason == "tool_calls"
    assert choice.message.tool_calls[0].function.arguments == '{"p": 1}'
    assert completion.usage.total_tokens == 15


async def test_an_unscripted_request_gets_a_clear_500(llm_server: FakeLLMServer) -> None:
    import openai

    async with openai.AsyncOpenAI(
        api_key="k", base_url=f"{llm_server.base_url}/v1", max_retries=0
    ) as client:
        with pytest.raises(openai.InternalServerError, match="no reply scripted"):
            await client.chat.completions.create(model="m", messages=[])
